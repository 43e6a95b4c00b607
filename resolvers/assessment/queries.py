"""Assessment reads (KPI-2): spot checks and their items, inspectors' and owners' worklists,
and two aggregates — the pass rate of spot-check findings and the average customer rating of
staff — by member of staff or by branch, for a Beijing period (``spotCheckPassRates``,
``staffRatings``; one statement each).

The scorecards read ratings and spot checks as the KPI indicators ``STAFF_RATING`` and
``SPOT_CHECK_PASS_RATE`` (``resolvers.kpis.families``: ``ratings``, ``inspections``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, func, literal, select
from sqlalchemy.orm import Session

from resolvers.assessment.spot_checks import period_bounds
from resolvers.segments.distribution import suppressed
from resolvers.segments.queries import MINIMUM_CELL
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.assessment import (
    SpotCheck,
    SpotCheckFinding,
    SpotCheckItem,
    SpotCheckRectification,
    SpotCheckStatus,
    StaffEvaluation,
)
from store.customers import Customer
from store.staff import Staff


class By(StrEnum):
    STAFF = "STAFF"
    BRANCH = "BRANCH"


@dataclass(frozen=True)
class PassRate:
    """Findings of one member of staff (``staff_id``) or branch: passed / answered."""

    staff_id: int | None
    branch_id: int
    numerator: int
    denominator: int


def pass_rates(
    session: Session, start: date, end: date, by: By, branch_id: int | None = None
) -> list[PassRate]:
    """Per member of staff responsible for the sampled records (``by=STAFF``; records with
    nobody responsible are left out) or per branch of the records (``by=BRANCH``): the
    criteria passed over the criteria answered, of the spot checks completed from ``start`` to
    ``end`` (Beijing dates, inclusive); ``branch_id``: the records of one branch. By staff,
    ``branch_id`` of a row is the staff member's branch now."""
    since, until = period_bounds(start, end)
    passed = func.sum(case((SpotCheckFinding.passed.is_(True), 1), else_=0))
    keys: list[Any]
    if by is By.STAFF:
        keys = [SpotCheckItem.responsible_id, Staff.branch_id]
    else:
        keys = [literal(None, Integer).label("staff"), SpotCheckItem.branch_id]
    statement = (
        select(*keys, passed, func.count())
        .select_from(SpotCheckFinding)
        .join(SpotCheckItem, SpotCheckItem.id == SpotCheckFinding.item_id)
        .join(SpotCheck, SpotCheck.id == SpotCheckItem.check_id)
        .where(
            SpotCheck.status == SpotCheckStatus.COMPLETED,
            SpotCheck.completed_at >= since,
            SpotCheck.completed_at < until,
        )
    )
    if by is By.STAFF:
        statement = statement.join(Staff, Staff.id == SpotCheckItem.responsible_id)
        group: list[Any] = keys
    else:
        group = [SpotCheckItem.branch_id]
    if branch_id is not None:
        statement = statement.where(SpotCheckItem.branch_id == branch_id)
    rows = session.execute(statement.group_by(*group).order_by(*group))
    return [PassRate(r[0], r[1], int(r[2] or 0), int(r[3])) for r in rows]


@dataclass(frozen=True)
class Rating:
    """The ratings of one member of staff or branch: sum of ratings / number of ratings, and
    the customers who gave them; all None when suppressed."""

    staff_id: int | None
    branch_id: int
    numerator: int | None
    denominator: int | None
    customers: int | None

    @property
    def suppressed(self) -> bool:
        return self.denominator is None


def ratings(
    session: Session,
    start: date,
    end: date,
    by: By,
    branch_id: int | None = None,
    minimum: int = MINIMUM_CELL,
) -> tuple[list[Rating], Rating]:
    """Ratings recorded from ``start`` to ``end`` (Beijing dates, inclusive) of the staff of
    ``branch_id`` (the bank: None), per member of staff or per branch (the evaluated staff
    member's branch now), and their total. A cell given by fewer than ``minimum`` customers is
    suppressed, and so is the smallest other cell of its branch (by staff) or of the scope (by
    branch) when it would be the only one withheld — the published total minus the shown cells
    must not give it back (``resolvers.segments.distribution.suppressed``)."""
    since, until = period_bounds(start, end)
    staff_key: Any = StaffEvaluation.staff_id if by is By.STAFF else literal(None, Integer)
    statement = (
        select(
            staff_key.label("staff"),
            Staff.branch_id,
            func.sum(StaffEvaluation.rating),
            func.count(),
            func.count(StaffEvaluation.customer_id.distinct()),
        )
        .select_from(StaffEvaluation)
        .join(Staff, Staff.id == StaffEvaluation.staff_id)
        .where(StaffEvaluation.recorded_at >= since, StaffEvaluation.recorded_at < until)
    )
    if branch_id is not None:
        statement = statement.where(Staff.branch_id == branch_id)
    group: list[Any] = (
        [StaffEvaluation.staff_id, Staff.branch_id] if by is By.STAFF else [Staff.branch_id]
    )
    found = {
        (staff, branch): (int(total), int(count), int(customers))
        for staff, branch, total, count, customers in session.execute(
            statement.group_by(*group).order_by(*group)
        )
    }
    hidden = suppressed(
        {key: value[2] for key, value in found.items()},
        minimum,
        row=(lambda key: key[1]) if by is By.STAFF else (lambda key: None),
        column=lambda key: key,
    )
    cells = [
        Rating(staff, branch, None, None, None)
        if (staff, branch) in hidden
        else Rating(staff, branch, total, count, customers)
        for (staff, branch), (total, count, customers) in found.items()
    ]
    total = sum(v[0] for v in found.values())
    count = sum(v[1] for v in found.values())
    customers = _customers(session, since, until, branch_id)
    whole = (
        Rating(None, branch_id or 0, None, None, None)
        if customers < minimum
        else Rating(None, branch_id or 0, total, count, customers)
    )
    return cells, whole


def _customers(session: Session, since: datetime, until: datetime, branch_id: int | None) -> int:
    statement = (
        select(func.count(StaffEvaluation.customer_id.distinct()))
        .join(Staff, Staff.id == StaffEvaluation.staff_id)
        .where(StaffEvaluation.recorded_at >= since, StaffEvaluation.recorded_at < until)
    )
    if branch_id is not None:
        statement = statement.where(Staff.branch_id == branch_id)
    return int(session.scalar(statement) or 0)


CHECK_KEYS = [SortKey(SpotCheck.created_at, True, datetime), SortKey(SpotCheck.id, True, int)]


def check_page(session: Session, condition: ColumnElement[bool], request: PageRequest) -> Page:
    """Spot checks, newest first."""
    statement = select(SpotCheck).where(condition)
    return paginate(session, statement, CHECK_KEYS, request, lambda r: [r.created_at, r.id])


ITEM_KEYS = [SortKey(SpotCheckItem.id, False, int)]


def item_page(session: Session, condition: ColumnElement[bool], request: PageRequest) -> Page:
    """Sampled items, in drawing order (oldest check first)."""
    statement = select(SpotCheckItem).where(condition)
    return paginate(session, statement, ITEM_KEYS, request, lambda r: [r.id])


RECTIFICATION_KEYS = [
    SortKey(SpotCheckRectification.due_at, False, datetime),
    SortKey(SpotCheckRectification.id, False, int),
]


def rectification_page(
    session: Session, condition: ColumnElement[bool], request: PageRequest
) -> Page:
    """Rectifications, the earliest due first."""
    statement = (
        select(SpotCheckRectification)
        .join(SpotCheckFinding, SpotCheckFinding.id == SpotCheckRectification.finding_id)
        .join(SpotCheckItem, SpotCheckItem.id == SpotCheckFinding.item_id)
        .where(condition)
    )
    return paginate(session, statement, RECTIFICATION_KEYS, request, lambda r: [r.due_at, r.id])


def findings_of(session: Session, item_ids: Sequence[int]) -> dict[int, list[SpotCheckFinding]]:
    """The findings of the items, one statement."""
    found: dict[int, list[SpotCheckFinding]] = {i: [] for i in item_ids}
    for row in session.scalars(
        select(SpotCheckFinding)
        .where(SpotCheckFinding.item_id.in_(item_ids))
        .order_by(SpotCheckFinding.id)
    ):
        found[row.item_id].append(row)
    return found


def rectifications_of(
    session: Session, finding_ids: Sequence[int]
) -> dict[int, SpotCheckRectification]:
    return {
        r.finding_id: r
        for r in session.scalars(
            select(SpotCheckRectification).where(SpotCheckRectification.finding_id.in_(finding_ids))
        )
    }


EVALUATION_KEYS = [
    SortKey(StaffEvaluation.recorded_at, True, datetime),
    SortKey(StaffEvaluation.id, True, int),
]


def evaluation_page(session: Session, condition: ColumnElement[bool], request: PageRequest) -> Page:
    """Evaluations of the customers of ``condition`` (joined to ``customers``), newest first."""
    statement = (
        select(StaffEvaluation)
        .join(Customer, Customer.id == StaffEvaluation.customer_id)
        .where(condition)
    )
    return paginate(session, statement, EVALUATION_KEYS, request, lambda r: [r.recorded_at, r.id])
