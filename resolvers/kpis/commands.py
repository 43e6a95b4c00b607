"""The organisation's changes (KPI-1): create a team in a branch, move a member of staff into a
team or out of every team. Head office acts on every branch, supervisors on their own; history
is kept (a move ends the open membership at the instant the new one starts)."""

from __future__ import annotations

import re
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.shared import unit_of_work, validation
from store.kpis import Team, TeamMembership
from store.staff import Branch, Staff

CODE = re.compile(r"^[A-Z0-9][A-Z0-9_-]{0,15}$")


def _may_organise(actor: Staff, row_scopes: frozenset[str], branch_id: int) -> bool:
    return "bank" in row_scopes or ("branch" in row_scopes and actor.branch_id == branch_id)


def create_team(
    session: Session,
    actor: Staff,
    row_scopes: frozenset[str],
    branch_id: int,
    code: str,
    name: str,
) -> Team:
    """A new team of ``branch_id``; refusals name the field (nothing written)."""
    problems = Problems()
    branch = session.get(Branch, branch_id)
    if branch is None or not _may_organise(actor, row_scopes, branch_id):
        problems.add("branchId", "NOT_FOUND", "no such branch you may organise")
    cleaned = ""
    try:
        cleaned = validation.canonical(validation.text(code, "code", max_length=16)).upper()
        if CODE.match(cleaned) is None:
            problems.add("code", "INVALID", "letters, digits, - and _ (at most 16)")
    except UserInputError as exc:
        problems.extend(exc)
    try:
        title = validation.text(name, "name", max_length=100)
    except UserInputError as exc:
        problems.extend(exc)
    problems.raise_if_any()
    taken = session.scalar(select(Team.id).where(Team.branch_id == branch_id, Team.code == cleaned))
    if taken is not None:
        raise UserInputError.one(("code",), "DUPLICATE", "the branch has a team with this code")
    team = Team(
        branch_id=branch_id,
        code=cleaned,
        name=title,
        created_by_id=actor.id,
        created_at=clock.now(),
    )
    session.add(team)
    session.flush()
    unit_of_work.note(session, f"team {cleaned} created in branch {branch_id}")
    return team


def open_membership(session: Session, staff_id: int, lock: bool = False) -> TeamMembership | None:
    statement = select(TeamMembership).where(
        TeamMembership.staff_id == staff_id, TeamMembership.ended_at.is_(None)
    )
    return session.scalars(statement.with_for_update() if lock else statement).first()


def move_staff(
    session: Session,
    actor: Staff,
    row_scopes: frozenset[str],
    staff_id: int,
    team_id: int | None,
    now: datetime | None = None,
) -> TeamMembership | None:
    """Put ``staff_id`` in ``team_id`` (None: in no team) from now on; the open membership ends
    at the same instant. Returns the new membership (None: in no team now)."""
    now = now or clock.now()
    staff = session.get(Staff, staff_id)
    if (
        staff is None
        or staff.third_party_id is not None
        or not _may_organise(actor, row_scopes, staff.branch_id)
    ):
        raise UserInputError.one(("staffId",), "NOT_FOUND", "no such staff member you may move")
    team = None
    if team_id is not None:
        team = session.get(Team, team_id)
        if team is None or not _may_organise(actor, row_scopes, team.branch_id):
            raise UserInputError.one(("teamId",), "NOT_FOUND", "no such team you may organise")
        if team.branch_id != staff.branch_id:
            raise UserInputError.one(
                ("teamId",), "OTHER_BRANCH", "the team belongs to another branch"
            )
    current = open_membership(session, staff_id, lock=True)
    if (current.team_id if current else None) == team_id:
        raise UserInputError.one(
            ("teamId",), "ALREADY_IN_TEAM", "the staff member is already there"
        )
    if current is not None:
        current.ended_at = now
    membership = None
    if team is not None:
        membership = TeamMembership(
            staff_id=staff_id, team_id=team.id, started_at=now, moved_by_id=actor.id
        )
        session.add(membership)
    session.flush()
    unit_of_work.note(
        session,
        f"staff {staff.employee_no} moved from team {current.team_id if current else '-'} "
        f"to {team.code if team else '-'}",
    )
    return membership
