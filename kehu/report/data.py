"""What the report shows: the ``kpis`` query run in-process as a named staff member.

The report is a client of the released API, not a second reading of the database: the query
checks the caller's ``kpi:read`` right, limits supervisors to their branch, and suppresses
small cells for callers who see aggregates only — the page shows what that answer holds and
nothing else. Each run is audited (a READ entry naming the staff member, period and scope).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from authz.policy import AccessPolicy, DatabaseAdapter
from core.settings import Settings
from resolvers import audit
from resolvers import policy as policy_logic
from resolvers.shared.staff import staff_by_employee_number
from schema.schema import build_schema
from schema.shared.base import node_id
from schema.shared.context import Context
from store.db import make_session_factory
from store.kpis import Team
from store.staff import Branch, Staff

OPERATION = "kpis (kehu report)"
RANGE = re.compile(r"^(\d{4}-\d{2}-\d{2})\.\.(\d{4}-\d{2}-\d{2})$")
LEVELS = ("bank", "branch", "team", "staff")

FIGURE = "label start end value numerator denominator customers suppressed nullReason"
QUERY = f"""
query report($period: KpiPeriodInput!, $scope: KpiScopeInput, $drillDown: Boolean!) {{
  kpis(period: $period, scope: $scope, drillDown: $drillDown) {{
    kind label start end asOf minimumCount
    definitions {{ code area title kind definition numerator denominator }}
    scope {{
      level id label
      values {{
        indicator title kind
        current {{ {FIGURE} breakdown {{ key customers }} }}
        previous {{ {FIGURE} }}
        lastYear {{ {FIGURE} }}
        changeFromPrevious {{ absolute relative }}
        changeFromLastYear {{ absolute relative }}
        series {{ {FIGURE} }}
      }}
    }}
    children {{ level id label values {{ indicator title kind current {{ {FIGURE} }} }} }}
  }}
}}
"""


class ReportRefused(Exception):
    """The report cannot be made: ``code`` (stable), the input ``field``, a readable message;
    ``exit_code`` 2 for bad input, 3 for a refusal of access."""

    def __init__(self, code: str, field: str | None, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.code = code
        self.field = field
        self.message = message
        self.exit_code = exit_code

    def __str__(self) -> str:
        where = f"{self.field}: " if self.field else ""
        return f"{where}{self.code} — {self.message}"


@dataclass(frozen=True)
class Viewer:
    employee_no: str
    name: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class ReportData:
    """The ``kpis`` answer (JSON as the API sends it) and who asked for it."""

    kpis: dict[str, Any]
    viewer: Viewer
    scope_text: str


def period_input(text: str) -> dict[str, str]:
    """``2026``, ``2026-Q3``, ``2026-10`` (a label, checked by the query) or
    ``2026-07-01..2026-09-30`` (Beijing dates, inclusive)."""
    cleaned = text.strip()
    found = RANGE.match(cleaned)
    if found is None:
        if ".." in cleaned:
            raise ReportRefused("INVALID", "period", "a range is YYYY-MM-DD..YYYY-MM-DD")
        return {"label": cleaned}
    try:
        first, last = (date.fromisoformat(found[i]) for i in (1, 2))
    except ValueError as exc:
        raise ReportRefused("INVALID", "period", "not a calendar date") from exc
    return {"from": first.isoformat(), "to": last.isoformat()}


def scope_input(session: Session, text: str) -> dict[str, Any]:
    """``bank``, ``branch:SH01``, ``team:SH01/T1`` (branch code / team code) or
    ``staff:RM0001`` (employee number) as the query's scope input."""
    level, _, code = text.strip().partition(":")
    level = level.lower()
    if level not in LEVELS or (level == "bank") != (code == ""):
        raise ReportRefused(
            "INVALID", "scope", "use bank, branch:CODE, team:BRANCH/TEAM or staff:EMPLOYEENO"
        )
    if level == "bank":
        return {"level": "BANK"}
    key: int | None = None
    if level == "branch":
        key = session.scalar(select(Branch.id).where(Branch.code == code.strip().upper()))
        kind = "Branch"
    elif level == "team":
        branch, _, team = code.partition("/")
        key = session.scalar(
            select(Team.id)
            .join(Branch, Branch.id == Team.branch_id)
            .where(Branch.code == branch.strip().upper(), Team.code == team.strip().upper())
        )
        kind = "Team"
    else:
        member = staff_by_employee_number(session, code)
        key = None if member is None or member.third_party_id is not None else member.id
        kind = "Staff"
    if key is None:
        raise ReportRefused("UNKNOWN_SCOPE", "scope", "no such branch, team or staff member")
    return {"level": level.upper(), "id": str(node_id(kind, key))}


def live_policy(engine: Engine, session: Session) -> AccessPolicy:
    """The policy the API applies now (the reviewed file while the database has none)."""
    if policy_logic.current_version(session) == 0:
        return AccessPolicy()
    return AccessPolicy(policy=DatabaseAdapter(engine))


def _refusal(errors: list[Any]) -> ReportRefused:
    """The first error of the answer as a refusal (bad input: exit 2; access: exit 3)."""
    error = errors[0]
    extensions = error.extensions or {}
    code = extensions.get("code", "INTERNAL")
    fields = extensions.get("fields") or []
    if fields:
        first = fields[0]
        return ReportRefused(first["code"], ".".join(first["field"]), first["message"])
    if code in ("FORBIDDEN", "UNAUTHENTICATED", "FIELD_FORBIDDEN"):
        return ReportRefused(code, None, error.message, exit_code=3)
    if code == "INTERNAL":
        return ReportRefused(code, None, "the KPIs could not be computed (see the log)", 1)
    return ReportRefused(code, None, error.message)


def fetch(
    settings: Settings, engine: Engine, employee_no: str, period: str, scope: str
) -> ReportData:
    """The KPIs of ``period`` and ``scope`` as ``employee_no`` may see them (drilled down one
    level), audited; ``ReportRefused`` when the input is bad or access is refused."""
    factory = make_session_factory(engine)
    with factory() as session:
        member = staff_by_employee_number(session, employee_no)
        if member is None or not member.active:
            raise ReportRefused("UNKNOWN_STAFF", "as", "no such active staff member")
        scope_arg = scope_input(session, scope)
        period_arg = period_input(period)
        policy = live_policy(engine, session)
    context = Context(settings=settings, session_factory=factory, policy=policy)
    try:
        caller = context.session.get_one(Staff, member.id)
        context.authorize(caller, None)
        result = build_schema(settings).execute_sync(
            QUERY,
            variable_values={"period": period_arg, "scope": scope_arg, "drillDown": True},
            context_value=context,
            operation_name="report",
        )
        if result.errors:
            raise _refusal(list(result.errors))
        assert result.data is not None
        viewer = Viewer(caller.employee_no, caller.name, tuple(sorted(caller.roles)))
        entry = audit.new_entry(
            actor_id=caller.id,
            actor=caller.employee_no,
            roles=caller.roles,
            purpose=None,
            action="READ",
            operation=OPERATION,
            customer_ids=[],
            fields={"Query.kpis": "FULL"},
            detail={
                "period": period_arg,
                "scope": scope_arg,
                "minimumCount": result.data["kpis"]["minimumCount"],
            },
        )
    finally:
        context.close()
    with engine.begin() as connection:
        audit.append(connection, [entry])
    return ReportData(result.data["kpis"], viewer, scope.strip())
