"""KPI scopes (KPI-1): the bank, a branch, a team or a staff member, and how customers are
attributed to them.

A customer counts for its branch (``customers.branch_id``) and its relationship manager now;
the manager's team is the team the manager belonged to at the end of the reported period (the
period in progress: now). A team's comparison periods and series use the same members (like
for like). Customers without a manager, or whose manager is in no team, count for their
branch but for no team (the drill-down shows them as "no team").

The assessment's indicators (ratings of staff, spot-check items) belong to a member of staff,
not to a customer's placement: ``Attribution`` with a row's staff and branch columns puts them
under that member of staff, the team they belonged to at the period's end, and that branch.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, or_, select, true
from sqlalchemy.orm import Session

from core.errors import ForbiddenError, UserInputError
from store.customers import Customer
from store.kpis import Team, TeamMembership
from store.staff import Branch, Staff


class Level(StrEnum):
    BANK = "BANK"
    BRANCH = "BRANCH"
    TEAM = "TEAM"
    STAFF = "STAFF"


# The level a scope drills down to.
CHILD = {Level.BANK: Level.BRANCH, Level.BRANCH: Level.TEAM, Level.TEAM: Level.STAFF}


@dataclass(frozen=True)
class Scope:
    level: Level
    key: int | None = None  # the branch, team or staff id (None: the bank)
    branch_id: int | None = None  # the branch it lies in (None: the bank)
    team_id: int | None = None  # a staff member's team at the period end (None: none)
    label: str = "全行"


def membership_at(at: datetime) -> ColumnElement[bool]:
    """A membership in force at ``at`` (began before it, not ended before it)."""
    return and_(
        TeamMembership.started_at < at,
        or_(TeamMembership.ended_at.is_(None), TeamMembership.ended_at >= at),
    )


def team_of(session: Session, staff_id: int, at: datetime) -> int | None:
    return session.scalar(
        select(TeamMembership.team_id).where(TeamMembership.staff_id == staff_id, membership_at(at))
    )


def resolve(
    session: Session,
    level: Level,
    key: int | None,
    at: datetime,
    row_scopes: frozenset[str],
    caller: Staff,
    field: str = "scope",
) -> Scope:
    """The scope named, or ``UNKNOWN_SCOPE`` (no such branch, team or staff member); a
    supervisor's scope must lie in their branch (``FORBIDDEN`` otherwise)."""
    if level is Level.BANK:
        scope = Scope(Level.BANK)
    else:
        if key is None:
            raise UserInputError.one((field, "id"), "REQUIRED", "this level needs an ID")
        scope_or_none = _load(session, level, key, at)
        if scope_or_none is None:
            raise UserInputError.one((field, "id"), "UNKNOWN_SCOPE", "no such scope")
        scope = scope_or_none
    if "bank" in row_scopes or not row_scopes:
        return scope  # head office; or aggregates only (suppressed)
    if "branch" in row_scopes and scope.branch_id == caller.branch_id:
        return scope
    raise ForbiddenError("this scope lies outside your branch")


def _load(session: Session, level: Level, key: int, at: datetime) -> Scope | None:
    if level is Level.BRANCH:
        branch = session.get(Branch, key)
        return None if branch is None else Scope(level, key, key, label=branch.name)
    if level is Level.TEAM:
        team = session.get(Team, key)
        return None if team is None else Scope(level, key, team.branch_id, key, team.name)
    staff = session.get(Staff, key)
    if staff is None or staff.third_party_id is not None:
        return None
    return Scope(level, key, staff.branch_id, team_of(session, key, at), staff.name)


@dataclass(frozen=True)
class Attribution:
    """SQL for the attribution of one computation's rows to branch, team and staff member: by
    default the customer's branch and relationship manager (the manager's team at ``at``); with
    ``staff`` and ``branch`` columns, the row's own (``Frame.by_staff``) — the rated member of
    staff of an evaluation, the responsible one of a spot-check item — and that member's team
    at ``at``. A customer may then lie under several keys (rating two members of staff), so
    such families count customers per level (``resolvers.kpis.families.PER_LEVEL``)."""

    at: datetime  # team membership instant
    staff: Any = field(default=None, compare=False)  # None: the customer's manager
    branch: Any = field(default=None, compare=False)  # None: the customer's branch

    @property
    def by_customer(self) -> bool:
        """Whether rows are attributed through their customer (joined to ``customers``)."""
        return self.staff is None

    def key(self, level: Level | None) -> Any:
        if level is Level.BRANCH:
            return Customer.branch_id if self.branch is None else self.branch
        if level is Level.TEAM:
            return TeamMembership.team_id
        if level is Level.STAFF:
            return Customer.relationship_manager_id if self.staff is None else self.staff
        return None

    def condition(self, scope: Scope) -> ColumnElement[bool]:
        key = self.key(scope.level)
        return true() if key is None else key == scope.key  # type: ignore[no-any-return]

    def join_team(self, statement: Any) -> Any:
        """``statement`` joined to the team, at ``at``, of the manager (or the row's member of
        staff)."""
        return statement.outerjoin(
            TeamMembership,
            and_(TeamMembership.staff_id == self.key(Level.STAFF), membership_at(self.at)),
        )
