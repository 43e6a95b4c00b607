"""The mutation runner: a GraphQL mutation as one unit of work (``unit_of_work.run``)."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ConflictError, UserInputError
from resolvers.shared import unit_of_work, validation
from schema.shared.base import ContextInfo
from schema.shared.rights import recheck
from store import idempotency
from store.staff import Staff

R = TypeVar("R")
P = TypeVar("P")


# How an input names its idempotency key (``idempotencyKey`` in the API).
KEY_FIELD = "idempotency_key"
KEY_DESCRIPTION = (
    "Your key for this request (at most 100 characters): a retry with the same key — after a "
    "timeout, UNAVAILABLE or UNKNOWN_OUTCOME — answers with what the first call created "
    "instead of creating it again. Keys are per caller and mutation; reusing one for a "
    "different input is refused."
)


@dataclass(frozen=True)
class Once(Generic[R]):
    """A creating mutation's idempotency: the key the caller sent (None: none), the input it
    identifies, what to store of the result (IDs, JSON) and how to load the result again."""

    key: str | None
    input: Any
    save: Callable[[R], Any]
    load: Callable[[Session, Any], R]


def created_id(created: Any) -> Any:
    """What an idempotency key remembers of a created row: its ID."""
    return created.id


def load_row(model: Any, *options: Any) -> Callable[[Session, Any], Any]:
    """The row an idempotency key remembers (by ``created_id``), loaded for a retried call
    (with ``options``: the relationships its payload reads)."""

    def load(session: Session, pk: Any) -> Any:
        found = session.get(model, pk, options=options)
        if found is None:
            raise UserInputError.one(("idempotencyKey",), "NOT_FOUND", "its result is gone")
        return found

    return load


def _fingerprint(given: Any) -> str:
    """A digest of an input without its idempotency key."""
    values = (
        {f.name: getattr(given, f.name) for f in dataclasses.fields(given) if f.name != KEY_FIELD}
        if dataclasses.is_dataclass(given)
        else given
    )
    encoded = orjson.dumps(values, default=str, option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(encoded).hexdigest()


def _repeat(session: Session, found: idempotency.IdempotencyKey, fingerprint: str) -> Any:
    if found.fingerprint != fingerprint:
        # Not an input mistake to correct but a clash with what the key already did (issue 11).
        raise ConflictError(idempotency.KEY_REUSED)
    return found.result


def mutate(info: ContextInfo, action: Callable[[Session], R], once: Once[R] | None = None) -> R:
    """Run ``action`` in one transaction: everything is committed, or nothing is.

    The field's declared right is checked again inside the transaction; the change becomes one
    CHANGE entry of the audit log (actor, right, the mutation's name as the operation, the rows
    changed and what the action noted), written in the same transaction (SHARE-4).

    With ``once`` and a key: a key this caller already used for this mutation answers with the
    result it stored (loaded again; nothing is written, no CHANGE entry), a new key is stored
    with the result in the same transaction. Two concurrent calls with one key: the second
    fails on the key's primary key and answers with the first one's result.
    """
    if once is None or once.key is None:
        return _mutate(info, action)
    ctx = info.context
    key = validation.text(once.key, "idempotencyKey", max_length=100)
    if any(c == "\x00" or "\ud800" <= c <= "\udfff" for c in key):
        raise UserInputError.one(
            ("idempotencyKey",), "INVALID", "must not contain NUL or lone surrogates"
        )
    fingerprint = _fingerprint(once.input)
    operation = info.field_name
    found = idempotency.find(ctx.session, ctx.actor.id, operation, key)
    if found is not None:
        return once.load(ctx.session, _repeat(ctx.session, found, fingerprint))

    def action_once(session: Session) -> R:
        result = action(session)
        stored = once.save(result)
        idempotency.remember(session, ctx.actor.id, operation, key, fingerprint, stored)
        return result

    try:
        return _mutate(info, action_once)
    except IntegrityError:
        found = idempotency.find(ctx.session, ctx.actor.id, operation, key)
        if found is None:
            raise
        return once.load(ctx.session, _repeat(ctx.session, found, fingerprint))


def _mutate(info: ContextInfo, action: Callable[[Session], R]) -> R:
    ctx = info.context
    checked: list[str] = []

    def check() -> None:
        checked.append(recheck(info).name(ctx))

    def actor() -> unit_of_work.Actor:
        # The caller as the check found them; like a READ entry, only a purpose their roles
        # may declare is recorded.
        staff = ctx.actor
        return unit_of_work.Actor(
            name=staff.employee_no,
            id=staff.id,
            roles=staff.roles,
            purpose=ctx.access.allowed_purpose,
        )

    try:
        result = unit_of_work.run(
            ctx.session,
            actor,
            lambda: checked[0],
            info.field_name,
            action,
            check=check,
        )
        ctx.committed = True
        return result
    except StaleDataError as exc:
        raise ConflictError("the customer was changed meanwhile; reload and try again") from exc


def run_command(
    info: ContextInfo,
    payload: type[P],
    command: Callable[[Session, Staff], R],
    answer: Callable[[R], P],
    *,
    errors: Callable[[UserInputError], Sequence[Any]],
    once: Once[R] | None = None,
) -> P:
    """Run a mutation's command (with the caller as actor) through ``mutate`` and build its
    payload.

    Refused input (including malformed IDs) becomes the payload's ``errors``, as the domain's
    ``UserError`` type that ``errors`` makes, with nothing written; ``answer`` builds the
    successful payload after the commit.
    """
    actor = info.context.actor
    try:
        result = mutate(info, lambda session: command(session, actor), once)
    except UserInputError as exc:
        return payload(errors=list(errors(exc)))  # type: ignore[call-arg]
    return answer(result)
