"""Organisation mutations (KPI-1): create a team, move a member of staff (audited)."""

from __future__ import annotations

import strawberry
from sqlalchemy.orm import Session

from core.ids import pk_of
from resolvers.kpis import commands
from resolvers.kpis.queries import teams_of
from schema.kpis.queries import present_teams
from schema.kpis.types import TeamMovePayload, TeamNode, TeamPayload, kpi_errors
from schema.shared.base import ContextInfo
from schema.shared.mutations import run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from schema.staff import StaffNode
from store.kpis import Team, TeamMembership
from store.staff import Staff


@strawberry.input(description="A new team of a branch. 新建团队。")
class CreateTeamInput:
    branch_id: strawberry.ID = strawberry.field(description="Supervisors: their own branch.")
    code: str = strawberry.field(description="Letters, digits, - and _, at most 16; per branch.")
    name: str = strawberry.field(description="At most 100 characters, e.g. 财富管理一组.")


@strawberry.input(description="Put a member of staff in a team, or in none. 调整员工团队。")
class MoveStaffToTeamInput:
    staff_id: strawberry.ID
    team_id: strawberry.ID | None = strawberry.field(
        description="A team of the staff member's branch; null: in no team from now on."
    )


def _team(info: ContextInfo, team_id: int) -> TeamNode:
    return present_teams(info, teams_of(info.context.session, None, [team_id]))[0]


@strawberry.type
class KpiMutation:
    @guarded_mutation(
        "Create a team in a branch (KPI-1): supervisors in their branch, head office in any. "
        "新建团队。",
        HasRight("kpi:organise"),
    )
    def create_team(self, info: ContextInfo, input: CreateTeamInput) -> TeamPayload:
        ctx = info.context

        def command(session: Session, actor: Staff) -> Team:
            branch = pk_of(input.branch_id, "Branch", "branchId")
            return commands.create_team(
                session, actor, ctx.access.row_scopes, branch, input.code, input.name
            )

        return run_command(
            info,
            TeamPayload,
            command,
            lambda team: TeamPayload(errors=[], team=_team(info, team.id)),
            errors=kpi_errors,
        )

    @guarded_mutation(
        "Move a member of staff into a team of their branch, or out of every team (KPI-1); "
        "the history is kept: the KPIs of a past period use the teams as they were at its end. "
        "调整员工所属团队。",
        HasRight("kpi:organise"),
    )
    def move_staff_to_team(self, info: ContextInfo, input: MoveStaffToTeamInput) -> TeamMovePayload:
        ctx = info.context
        moved: list[int] = []

        def command(session: Session, actor: Staff) -> TeamMembership | None:
            staff = pk_of(input.staff_id, "Staff", "staffId")
            team = None if input.team_id is None else pk_of(input.team_id, "Team", "teamId")
            moved.append(staff)
            return commands.move_staff(session, actor, ctx.access.row_scopes, staff, team)

        def answer(membership: TeamMembership | None) -> TeamMovePayload:
            staff = ctx.session.get_one(Staff, moved[0])
            return TeamMovePayload(
                errors=[],
                staff=StaffNode.of(staff),
                team=None if membership is None else _team(info, membership.team_id),
            )

        return run_command(info, TeamMovePayload, command, answer, errors=kpi_errors)
