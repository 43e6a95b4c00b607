"""Scorecard queries (KPI-2, KPI-3): weight versions, frozen scorecards and rankings by period,
level and scope, the bonus split.

Who reads what: head office every scorecard; supervisors their branch's (the branch, its teams,
its staff), read-only; relationship managers their own staff scorecard; marketing analysts none
(no `scorecard:read`: scorecards name staff). A scope outside the caller's is FORBIDDEN.
"""

from __future__ import annotations

from decimal import Decimal

import strawberry

from core import clock
from core.errors import ForbiddenError, UserInputError
from core.ids import pk_of
from resolvers.kpis.scope import Level
from resolvers.scorecards import model
from resolvers.scorecards import queries as reads
from resolvers.shared import validation
from schema.kpis.queries import KpiScopeInput
from schema.kpis.types import TYPE_OF
from schema.scorecards.enums import ScorecardLevelEnum
from schema.scorecards.types import (
    BonusAllocation,
    BonusShare,
    Scorecard,
    ScorecardSet,
    ScorecardVersion,
    ScorecardWeightVersion,
)
from schema.shared.base import ContextInfo, node_id
from schema.shared.rights import HasRight
from schema.shared.rights import field as guarded_field
from store.kpis import Team
from store.staff import Branch, Staff


def _scope(
    info: ContextInfo, level: Level, scope: KpiScopeInput | None
) -> tuple[int | None, int | None, int | None]:
    """(branch, team, staff) the caller asks for and may read; ``UNKNOWN_SCOPE`` naming
    ``scope.id``, FORBIDDEN outside their rows."""
    ctx = info.context
    session = ctx.session
    rows = ctx.access.row_scopes
    asked = Level(scope.level.value) if scope is not None else Level.BANK  # type: ignore[attr-defined]
    branch = team = staff = None
    if asked is not Level.BANK:
        if scope is None or scope.id is None:
            raise UserInputError.one(("scope", "id"), "REQUIRED", "this level needs an ID")
        key = pk_of(scope.id, TYPE_OF[asked], ("scope", "id"))
        found: Branch | Team | Staff | None
        if asked is Level.BRANCH:
            found = session.get(Branch, key)
        elif asked is Level.TEAM:
            found = session.get(Team, key)
        else:
            found = session.get(Staff, key)
        if found is None:
            raise UserInputError.one(("scope", "id"), "UNKNOWN_SCOPE", "no such scope")
        branch = key if isinstance(found, Branch) else found.branch_id
        team = key if asked is Level.TEAM else None
        staff = key if asked is Level.STAFF else None
    if "bank" in rows:
        return branch, team, staff
    if "branch" in rows:
        if asked is Level.BANK:
            return ctx.actor.branch_id, None, None
        if branch == ctx.actor.branch_id:
            return branch, team, staff
    elif "own" in rows and level is Level.STAFF and staff in (None, ctx.actor.id):
        return ctx.actor.branch_id, None, ctx.actor.id
    raise ForbiddenError("these scorecards lie outside what you may read")


@strawberry.type
class ScorecardQuery:
    @guarded_field(
        "Every version of the scorecard weights (KPI-2) with its validity, the indicators of "
        "each level with their weights and scoring rules, and the honour rules. 考核权重。",
        HasRight("scorecard:read"),
    )
    def scorecard_weights(self, info: ContextInfo) -> list[ScorecardWeightVersion]:
        found = reads.weight_versions(info.context.session)
        return [ScorecardWeightVersion.of(v, by) for v, by in found]

    @guarded_field(
        "Frozen scorecards (KPI-2) of a month or quarter (`2026-Q3`, `2026-09`) at a level, in "
        "a scope (the bank, a branch, a team, a staff member), by rank — the ranking (KPI-3) — "
        "with every indicator's value, numerator, denominator and score, honours and (teams) "
        "training recommendations. The newest version unless `version` is given; `versions` "
        "lists them all. Head office: every scope; supervisors: their branch; relationship "
        "managers: their own. Refused: future periods (FUTURE_PERIOD), unknown scopes "
        "(UNKNOWN_SCOPE). 考核记分卡与排名。",
        HasRight("scorecard:read"),
    )
    def scorecards(
        self,
        info: ContextInfo,
        period: str,
        level: ScorecardLevelEnum,  # type: ignore[valid-type]
        scope: KpiScopeInput | None = None,
        version: int | None = None,
    ) -> ScorecardSet:
        session = info.context.session
        found = reads.period_of(period, clock.today())
        chosen_level = Level(level.value)  # type: ignore[attr-defined]
        branch, team, staff = _scope(info, chosen_level, scope)
        runs = reads.runs_of(session, found.window.label, branch)
        run = reads.chosen_run(runs, version)
        cards = (
            [] if run is None else reads.scorecards(session, run, chosen_level, branch, team, staff)
        )
        catalogue = model.load_catalogue()
        return ScorecardSet(
            period=found.window.label,
            level=level,
            version=None if run is None else ScorecardVersion.of(run),
            versions=[ScorecardVersion.of(r) for r in runs],
            scorecards=[Scorecard.of(c, catalogue) for c in cards],
        )

    @guarded_field(
        "A bonus pool (CNY, to the fen) split over the frozen scorecards of a level (KPI-3) in "
        "proportion to their scores: each part is its exact share rounded down to the fen, "
        "the fen left over go one each to the largest remainders (ties: the better rank); the "
        "parts add up to the pool exactly. Head office only. The CLI `kehu bonus` writes the "
        "same as CSV. 奖金分配。",
        HasRight("scorecard:manage"),
    )
    def bonus_allocation(
        self,
        info: ContextInfo,
        period: str,
        pool: Decimal,
        level: ScorecardLevelEnum = ScorecardLevelEnum.STAFF,  # type: ignore[attr-defined,valid-type]
        branch_id: strawberry.ID | None = None,
        version: int | None = None,
    ) -> BonusAllocation:
        session = info.context.session
        amount = validation.money(pool, "pool")
        branch = None if branch_id is None else pk_of(branch_id, "Branch", "branchId")
        if branch is not None and session.get(Branch, branch) is None:
            raise UserInputError.one(("branchId",), "UNKNOWN_SCOPE", "no such branch")
        chosen_level = Level(level.value)  # type: ignore[attr-defined]
        run, shares = reads.bonus(
            session, period, amount, chosen_level, branch, version, clock.today()
        )
        return BonusAllocation(
            period=run.period,
            version=run.version,
            level=level,
            pool=amount,
            total=sum((s.amount for s in shares), Decimal("0.00")),
            shares=[
                BonusShare(
                    subject_id=node_id(TYPE_OF[chosen_level], s.card.subject_id),
                    label=s.card.label,
                    rank=s.card.rank,
                    score=s.card.score,
                    amount=s.amount,
                )
                for s in shares
            ],
        )
