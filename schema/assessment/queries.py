"""Assessment queries (KPI-2): spot checks, inspectors' items, owners' rectifications, the
overdue list, a customer's evaluations, and the pass-rate and rating aggregates."""

from __future__ import annotations

import datetime as dt

import strawberry
from sqlalchemy import ColumnElement, false, or_, select, true

from core import clock
from core.errors import Problems, UserInputError
from core.ids import pk_of
from resolvers.assessment import queries as logic
from resolvers.assessment.spot_checks import check_period, overdue
from resolvers.segments.queries import MINIMUM_CELL
from resolvers.shared.filters import compile_where
from schema.assessment.enums import AssessmentByEnum
from schema.assessment.filters import (
    RECTIFICATION_FILTERS,
    SPOT_CHECK_ITEM_FILTERS,
    SpotCheckItemWhere,
    SpotCheckRectificationWhere,
)
from schema.assessment.types import (
    SpotCheckItemNode,
    SpotCheckNode,
    SpotCheckPassRate,
    SpotCheckPassRates,
    SpotCheckRectificationNode,
    StaffEvaluationNode,
    StaffRatings,
    branch_nodes,
    present_checks,
    present_evaluations,
    present_items,
    present_rating,
    present_rectifications,
    ratio,
    staff_nodes,
)
from schema.shared.base import Connection, ContextInfo, NodeLoader, page_request
from schema.shared.context import Context
from schema.shared.rights import Authenticated, HasRight, SeesCustomerRows
from schema.shared.rights import field as guarded_field
from store.assessment import (
    SpotCheck,
    SpotCheckItem,
    SpotCheckRectification,
    StaffEvaluation,
)

PASS_RATE_DEFINITION = (
    "Spot checks completed from start to end (Beijing dates, inclusive): criteria passed / "
    "criteria answered, per member of staff responsible for the sampled record (relationship "
    "manager, who made the contact, the complaint's handler) or per branch of the record."
)
RATING_DEFINITION = (
    "Evaluations recorded from start to end (Beijing dates, inclusive) of staff of the scope "
    "(a branch's staff now, or the bank's): average = sum of ratings (1 … 5) / number of "
    "ratings, per member of staff or per branch. A cell rated by fewer than minimumCount "
    "customers is suppressed (null), and so is the smallest other cell of its branch (or of "
    "the scope) when it would be the only one withheld."
)


def own_branch_only(ctx: Context) -> int | None:
    """The caller's branch when they see one branch's rows (a supervisor), None when they see
    the bank's (head office, auditors) or no rows at all (aggregates only: marketing)."""
    scopes = ctx.access.row_scopes
    return None if not scopes or "bank" in scopes else ctx.actor.branch_id


def scope_branch(ctx: Context, branch: strawberry.ID | None) -> int | None:
    """The branch asked for, within the caller's scope (a supervisor: their own)."""
    asked = None if branch is None else pk_of(branch, "Branch", "branch")
    own = own_branch_only(ctx)
    if own is not None and asked not in (None, own):
        raise UserInputError.one(("branch",), "OUT_OF_SCOPE", "your own branch only")
    return own if own is not None else asked


def checks_visible(ctx: Context) -> ColumnElement[bool]:
    """Head office and inspectors: every check; a supervisor: their branch's."""
    own = own_branch_only(ctx)
    return true() if own is None else SpotCheck.branch_id == own


def _period(start: dt.date, end: dt.date) -> None:
    problems = Problems()
    check_period(start, end, problems)
    problems.raise_if_any()


@strawberry.type
class AssessmentQuery:
    @guarded_field(
        "Spot checks (KPI-2), newest first: head office and auditors see all, a supervisor "
        "their branch's. 抽查列表。",
        HasRight("spot_check:read"),
    )
    def spot_checks(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SpotCheckNode]:
        ctx = info.context
        page = logic.check_page(
            ctx.session, checks_visible(ctx), page_request(first, after, last, before)
        )
        return Connection.of(page, present_checks(ctx, page.rows))

    @guarded_field(
        "One spot check with its sample and findings. 抽查详情。", HasRight("spot_check:read")
    )
    def spot_check(self, info: ContextInfo, id: strawberry.ID) -> SpotCheckNode | None:
        return _load_check(info, pk_of(id, "SpotCheck", "id"))

    @guarded_field(
        "The sampled items assigned to you to inspect, in drawing order; `where: {inspected: "
        "{eq: false}}`: those still without findings. 我的抽查任务。",
        HasRight("spot_check:inspect"),
    )
    def my_inspection_items(
        self,
        info: ContextInfo,
        where: SpotCheckItemWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SpotCheckItemNode]:
        ctx = info.context
        condition = (SpotCheckItem.inspector_id == ctx.actor.id) & compile_where(
            where, SPOT_CHECK_ITEM_FILTERS
        )
        page = logic.item_page(ctx.session, condition, page_request(first, after, last, before))
        return Connection.of(page, present_items(ctx, page.rows))

    @guarded_field(
        "The rectifications you own, the earliest due first. 我的整改事项。", Authenticated()
    )
    def my_rectifications(
        self,
        info: ContextInfo,
        where: SpotCheckRectificationWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SpotCheckRectificationNode]:
        ctx = info.context
        condition = (SpotCheckRectification.owner_id == ctx.actor.id) & compile_where(
            where, RECTIFICATION_FILTERS
        )
        page = logic.rectification_page(
            ctx.session, condition, page_request(first, after, last, before)
        )
        return Connection.of(page, present_rectifications(ctx, page.rows))

    @guarded_field(
        "Rectifications still open at or after their due instant, the earliest due first: "
        "head office and auditors all, a supervisor their branch's records. 逾期整改。",
        HasRight("spot_check:read"),
    )
    def overdue_rectifications(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[SpotCheckRectificationNode]:
        ctx = info.context
        condition = overdue(clock.now())
        own = own_branch_only(ctx)
        if own is not None:
            condition = condition & (SpotCheckItem.branch_id == own)
        page = logic.rectification_page(
            ctx.session, condition, page_request(first, after, last, before)
        )
        return Connection.of(page, present_rectifications(ctx, page.rows))

    @guarded_field(
        f"Pass rate of spot-check findings by staff or branch (KPI-2, for scorecards). "
        f"{PASS_RATE_DEFINITION} 抽查通过率。",
        HasRight("spot_check:read"),
    )
    def spot_check_pass_rates(
        self,
        info: ContextInfo,
        start: dt.date,
        end: dt.date,
        by: AssessmentByEnum,  # type: ignore[valid-type]
        branch: strawberry.ID | None = None,
    ) -> SpotCheckPassRates:
        ctx = info.context
        _period(start, end)
        rows = logic.pass_rates(ctx.session, start, end, logic.By(by), scope_branch(ctx, branch))
        staff = staff_nodes(ctx, {r.staff_id for r in rows if r.staff_id is not None})
        branches = branch_nodes(ctx, {r.branch_id for r in rows})
        cells = [
            SpotCheckPassRate(
                staff=None if r.staff_id is None else staff[r.staff_id],
                branch=branches[r.branch_id],
                numerator=r.numerator,
                denominator=r.denominator,
                value=ratio(r.numerator, r.denominator),
            )
            for r in rows
        ]
        return SpotCheckPassRates(
            start=start, end=end, cells=cells, definition=PASS_RATE_DEFINITION
        )

    @guarded_field(
        "Customers' average rating of staff by member of staff or branch, with numerators, "
        "denominators and small cells suppressed (KPI-2, for scorecards). 客户评价统计。",
        SeesCustomerRows("evaluation:results"),
    )
    def staff_ratings(
        self,
        info: ContextInfo,
        start: dt.date,
        end: dt.date,
        by: AssessmentByEnum,  # type: ignore[valid-type]
        branch: strawberry.ID | None = None,
    ) -> StaffRatings:
        ctx = info.context
        _period(start, end)
        cells, total = logic.ratings(
            ctx.session, start, end, logic.By(by), scope_branch(ctx, branch), MINIMUM_CELL
        )
        staff = staff_nodes(ctx, {c.staff_id for c in cells if c.staff_id is not None})
        branches = branch_nodes(ctx, {c.branch_id for c in [*cells, total]})
        return StaffRatings(
            start=start,
            end=end,
            minimum_count=MINIMUM_CELL,
            cells=[present_rating(c, staff, branches) for c in cells],
            total=present_rating(total, staff, branches),
            definition=RATING_DEFINITION,
        )

    @guarded_field(
        "A customer's evaluations of staff, newest first (comments: the `evaluation_text` "
        "group) — for a customer you see. 客户对员工的评价。",
        Authenticated(),
    )
    def staff_evaluations(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[StaffEvaluationNode]:
        ctx = info.context
        ctx.access.require_rows()
        customer = pk_of(customer_id, "Customer", "customerId")
        condition = (StaffEvaluation.customer_id == customer) & ctx.access.visible
        page = logic.evaluation_page(
            ctx.session, condition, page_request(first, after, last, before)
        )
        return Connection.of(page, present_evaluations(ctx, page.rows))


def _load_check(info: ContextInfo, pk: int) -> SpotCheckNode | None:
    ctx = info.context
    if not ctx.access.has_right("spot_check:read"):
        return None
    row = ctx.session.scalar(select(SpotCheck).where(SpotCheck.id == pk, checks_visible(ctx)))
    return present_checks(ctx, [row])[0] if row else None


def _load_item(info: ContextInfo, pk: int) -> SpotCheckItemNode | None:
    """An item: to its inspector, and to who may read its check."""
    ctx = info.context
    mine = SpotCheckItem.inspector_id == ctx.actor.id
    readable = checks_visible(ctx) if ctx.access.has_right("spot_check:read") else false()
    row = ctx.session.scalar(
        select(SpotCheckItem)
        .join(SpotCheck, SpotCheck.id == SpotCheckItem.check_id)
        .where(SpotCheckItem.id == pk, or_(mine, readable))
    )
    return present_items(ctx, [row])[0] if row else None


def _load_rectification(info: ContextInfo, pk: int) -> SpotCheckRectificationNode | None:
    """A rectification: to its owner, the item's inspector, and who may read spot checks of
    the record's branch."""
    ctx = info.context
    readable: ColumnElement[bool] = false()
    if ctx.access.has_right("spot_check:read"):
        own = own_branch_only(ctx)
        readable = true() if own is None else SpotCheckItem.branch_id == own
    found = logic.rectification_page(
        ctx.session,
        (SpotCheckRectification.id == pk)
        & or_(
            SpotCheckRectification.owner_id == ctx.actor.id,
            SpotCheckItem.inspector_id == ctx.actor.id,
            readable,
        ),
        page_request(1, None, None, None),
    )
    return present_rectifications(ctx, found.rows)[0] if found.rows else None


def _load_evaluation(info: ContextInfo, pk: int) -> StaffEvaluationNode | None:
    """An evaluation is visible exactly when its customer is."""
    ctx = info.context
    if not ctx.access.row_scopes:
        return None
    found = logic.evaluation_page(
        ctx.session,
        (StaffEvaluation.id == pk) & ctx.access.visible,
        page_request(1, None, None, None),
    )
    return present_evaluations(ctx, found.rows)[0] if found.rows else None


NODE_LOADERS: dict[str, NodeLoader] = {
    "SpotCheck": _load_check,
    "SpotCheckItem": _load_item,
    "SpotCheckRectification": _load_rectification,
    "StaffEvaluation": _load_evaluation,
}
