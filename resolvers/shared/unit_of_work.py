"""The unit of work: every change runs here, and leaves exactly one CHANGE entry (SHARE-4).

:func:`run` checks the caller's right, runs the command in the session's transaction, writes
one CHANGE entry of the audit log — who (``Actor``), with which right, which operation, the
rows the command changed and what it noted — and commits. Any error rolls back everything,
the entry included, so a change and its audit stand or fall together. The GraphQL mutation
runner (``schema.shared.mutations.mutate``) and the timers worker both use it.

The rows changed are collected from the session's flushes (tables, primary keys, the columns
an update changed with their values before and after, and the customers they are about: a
customer's row, or a row's ``customer_id``) and from UPDATE and DELETE statements (the table,
and the primary key their WHERE clause names; bulk inserts: the table only).
Commands add what rows cannot say with :func:`note` (a summary, the customers concerned, the
grant or consent the change relies on); a customer change's field-by-field values are noted
under ``CUSTOMER_CHANGES`` as before. The entry's ``detail`` is sealed like every detail.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import orjson
from sqlalchemy import BindParameter, Column, event, inspect
from sqlalchemy.orm import ORMExecuteState, Session
from sqlalchemy.sql import operators, visitors
from sqlalchemy.sql.elements import BinaryExpression

from core.errors import UnknownOutcomeError
from resolvers import audit
from store.db import is_outage, take_write_lock

R = TypeVar("R")

# ``session.info`` keys: the units in progress (innermost last) and the customer changes
# noted by the customer commands (``audit_change``).
UNITS = "units_of_work"
CUSTOMER_CHANGES = "audit_changes"
# Values longer than this are recorded as changed, not copied (process state, documents).
MAX_VALUE = 200
# Rows listed per table and kind of change; more (a bulk import) are counted, not listed.
MAX_ROWS = 50


@dataclass(frozen=True)
class Actor:
    """Who makes a change: a staff member (``id``), or the system under a name of its own."""

    name: str
    id: int | None = None
    roles: Sequence[str] = ()
    purpose: str | None = None


# The timers worker: changes made because a timer fell due, by nobody in particular.
WORKER = Actor(name="timers worker")
# The rights the system acts under (not policy rights: no caller can hold them): the timers
# worker, and an operator at the command line (who holds the database's credentials).
TIMERS = "system:timers"
SYSTEM = "system:operator"


@dataclass(eq=False)
class _Unit:
    rows: dict[tuple[str, str, str], dict[str, Any]] = field(default_factory=dict)
    notes: list[dict[str, Any]] = field(default_factory=list)
    customer_ids: set[int] = field(default_factory=set)
    fields: dict[str, str] = field(default_factory=dict)
    via: set[str] = field(default_factory=set)


def _units(session: Session) -> list[_Unit]:
    units: list[_Unit] = session.info.setdefault(UNITS, [])
    return units


def note(
    session: Session,
    summary: str,
    *,
    customer_ids: Sequence[int] = (),
    fields: dict[str, str] | None = None,
    via: Sequence[str] = (),
    detail: Any = None,
) -> None:
    """Add to the CHANGE entry of the unit of work in progress (ignored outside one)."""
    units = _units(session)
    if not units:
        return
    unit = units[-1]
    unit.notes.append({"summary": summary, **({"detail": detail} if detail is not None else {})})
    unit.customer_ids.update(customer_ids)
    unit.fields.update(fields or {})
    unit.via.update(via)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, datetime | date | Decimal):
        return str(value)
    if isinstance(value, str) and len(value) <= MAX_VALUE:
        return value
    if isinstance(value, list | dict) and len(orjson.dumps(value, default=str)) <= MAX_VALUE:
        return value  # roles, data categories, field groups
    return "(changed)"


def _record_flush(session: Session, _context: Any) -> None:
    units = session.info.get(UNITS)
    if not units:
        return
    unit = units[-1]
    rows = unit.rows
    for kind, objects in (
        ("insert", session.new),
        ("update", session.dirty),
        ("delete", session.deleted),
    ):
        for obj in objects:
            state = inspect(obj)
            mapper = state.mapper
            table = mapper.persist_selectable.name  # type: ignore[attr-defined]
            key = mapper.primary_key_from_instance(obj)
            pk = ",".join(str(part) for part in key)
            customer_id = key[0] if table == "customers" else getattr(obj, "customer_id", None)
            changed: dict[str, list[Any]] = {}
            if kind == "update":
                for attribute in mapper.column_attrs:
                    history = state.attrs[attribute.key].history
                    if history.has_changes():
                        before = history.deleted[0] if history.deleted else None
                        after = history.added[0] if history.added else None
                        changed[attribute.key] = [_plain(before), _plain(after)]
                if not changed:
                    continue
            if isinstance(customer_id, int):
                unit.customer_ids.add(customer_id)
            row = rows.setdefault((table, pk, kind), {"table": table, "pk": pk, "op": kind})
            if changed:
                merged = row.setdefault("changes", {})
                for column, (before, after) in changed.items():
                    merged[column] = [merged.get(column, [before])[0], after]


def _statement_pk(statement: Any) -> str:
    """The primary key an UPDATE or DELETE names in its WHERE clause (``id = :id``), or ``*``."""
    table, where = getattr(statement, "table", None), getattr(statement, "whereclause", None)
    if table is None or where is None:
        return "*"
    keys = [column.name for column in table.primary_key.columns]
    found: dict[str, str] = {}
    for element in visitors.iterate(where):
        if (
            isinstance(element, BinaryExpression)
            and element.operator is operators.eq
            and isinstance(element.left, Column)
            and element.left.name in keys
            and isinstance(element.right, BindParameter)
        ):
            found[element.left.name] = str(element.right.value)
    return ",".join(found[key] for key in keys) if keys and len(found) == len(keys) else "*"


def _record_statement(state: ORMExecuteState) -> None:
    units = state.session.info.get(UNITS)
    if not units or not (state.is_insert or state.is_update or state.is_delete):
        return
    statement = state.statement
    table = getattr(getattr(statement, "table", None), "name", "?")
    kind = "insert" if state.is_insert else "update" if state.is_update else "delete"
    pk = "*" if state.is_insert else _statement_pk(statement)
    units[-1].rows.setdefault((table, pk, kind), {"table": table, "pk": pk, "op": kind})


event.listen(Session, "after_flush", _record_flush)
event.listen(Session, "do_orm_execute", _record_statement)


def _listed(rows: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows, at most ``MAX_ROWS`` per table and kind of change, then how many more."""
    listed: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["table"], row["op"])
        seen[key] = seen.get(key, 0) + 1
        if seen[key] <= MAX_ROWS:
            listed.append(row)
    listed += [
        {"table": table, "op": op, "pk": "*", "more": count - MAX_ROWS}
        for (table, op), count in seen.items()
        if count > MAX_ROWS
    ]
    return listed


def _entry(actor: Actor, right: str, operation: str, unit: _Unit, session: Session) -> Any:
    changes = session.info.pop(CUSTOMER_CHANGES, [])
    customer_ids = unit.customer_ids | {c["customer_id"] for c in changes}
    fields = dict(unit.fields)
    fields.update(
        {f"{c['type']}.{name}": "CHANGED" for c in changes for name, _, _ in c["changes"]}
    )
    detail: dict[str, Any] = {"right": right, "rows": _listed(unit.rows.values())}
    if changes:
        detail["changes"] = changes
    if unit.notes:
        detail["notes"] = unit.notes
    return audit.new_entry(
        actor_id=actor.id,
        actor=actor.name,
        roles=actor.roles,
        purpose=actor.purpose,
        action="CHANGE",
        operation=operation,
        customer_ids=sorted(customer_ids),
        fields=fields,
        detail=detail,
        via=sorted(unit.via),
    )


def _text(value: str | Callable[[], str]) -> str:
    return value() if callable(value) else value


def _commit(session: Session) -> None:
    """Commit; when the connection is lost during the COMMIT, the change may have been made:
    say so (``UnknownOutcomeError``) instead of answering as if nothing happened."""
    try:
        session.commit()
    except Exception as error:
        if is_outage(error):
            raise UnknownOutcomeError(
                "The connection to the database was lost while committing: the change may or "
                "may not have been made. Retry with the same idempotency key, or read it again."
            ) from error
        raise


def run(
    session: Session,
    actor: Actor | Callable[[], Actor],
    right: str | Callable[[], str],
    operation: str | Callable[[], str],
    command: Callable[[Session], R],
    *,
    check: Callable[[], None] | None = None,
    nested: bool = False,
) -> R:
    """Check, run ``command``, write its one CHANGE entry, commit; roll back on any error.

    ``check`` raises when the caller may not (run first, inside the transaction). With
    ``nested`` the unit is a savepoint of the caller's transaction, which commits it (the
    worker advances several instances per transaction, each in a unit of its own).
    ``actor``, ``right`` and ``operation`` may be computed once the command ran (the caller as
    the check found them, the right it found, what a timer step did).
    """
    units = _units(session)
    session.info.pop(CUSTOMER_CHANGES, None)
    unit = _Unit()
    units.append(unit)
    savepoint = None
    try:
        # Every unit writes (its CHANGE entry at least): on SQLite it is the writer from its
        # first statement, so nothing it reads can be overtaken by another connection's commit
        # before it writes (SQLITE_BUSY_SNAPSHOT, answered UNAVAILABLE), and the savepoints of
        # its commands are nested in its transaction (on pysqlite a SAVEPOINT outside one is a
        # transaction of its own, committed when released: the change without its entry).
        take_write_lock(session)
        if nested:
            savepoint = session.begin_nested()
        if check is not None:
            check()
        result = command(session)
        session.flush()
        who = actor() if callable(actor) else actor
        entry = _entry(who, _text(right), _text(operation), unit, session)
        audit.append(session.connection(), [entry])
        units.pop()
        if savepoint is None:
            _commit(session)
        else:
            savepoint.commit()
        return result
    except BaseException:
        if unit in units:
            units.remove(unit)
        session.info.pop(CUSTOMER_CHANGES, None)
        if not nested:
            session.rollback()
        elif savepoint is not None and savepoint.is_active:
            savepoint.rollback()
        raise
