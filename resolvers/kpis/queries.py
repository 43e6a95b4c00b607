"""Organisation reads (KPI-1): teams with their members now."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from store.kpis import Team, TeamMembership


def teams_of(
    session: Session, branch_ids: Sequence[int] | None, team_ids: Sequence[int] | None = None
) -> list[tuple[Team, list[int]]]:
    """Teams of the branches (or the teams by id) with their members' staff ids now, ordered
    by code: two statements."""
    statement = select(Team).order_by(Team.branch_id, Team.code)
    if branch_ids is not None:
        statement = statement.where(Team.branch_id.in_(branch_ids))
    if team_ids is not None:
        statement = statement.where(Team.id.in_(team_ids))
    teams = list(session.scalars(statement))
    members: dict[int, list[int]] = {team.id: [] for team in teams}
    for team_id, staff_id in session.execute(
        select(TeamMembership.team_id, TeamMembership.staff_id)
        .where(TeamMembership.team_id.in_(members), TeamMembership.ended_at.is_(None))
        .order_by(TeamMembership.staff_id)
    ):
        members[team_id].append(staff_id)
    return [(team, members[team.id]) for team in teams]
