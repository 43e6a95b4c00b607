"""Complaint queries: the list, one complaint, statistics (CMP-5, CMP-6); node loaders."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy import and_

from core import clock
from core.ids import pk_of
from resolvers.complaints import queries as logic
from resolvers.complaints.statistics import statistics
from schema.complaints.enums import ComplaintDimension, ComplaintOrderField
from schema.complaints.filters import (
    ComplaintAlertWhere,
    ComplaintOrderBy,
    ComplaintWhere,
)
from schema.complaints.types import (
    ComplaintAlertNode,
    ComplaintNode,
    ComplaintStatistic,
    present,
    present_alerts,
)
from schema.shared.base import Connection, ContextInfo, Node, SortDirection, page_request
from schema.shared.rights import Authenticated, HasRight, SeesCustomerRows
from schema.shared.rights import field as guarded_field
from store.complaints import ComplaintAlert


def _visible(info: ContextInfo) -> Any:
    ctx = info.context
    return ctx.access.complaints_visible


def load_complaint(info: ContextInfo, pk: int) -> ComplaintNode | None:
    """``node(id:)`` of a complaint: visible as in ``complaints`` (None when not)."""
    row = logic.find(info.context.session, pk, _visible(info))
    return present(info, [row])[0] if row is not None else None


def load_alert(info: ContextInfo, pk: int) -> Node | None:
    """``node(id:)`` of an alert: for callers with the ``complaint:oversee`` right."""
    ctx = info.context
    if not ctx.access.has_right("complaint:oversee"):
        return None
    row = ctx.session.get(ComplaintAlert, pk)
    return present_alerts(info, [row])[0] if row is not None else None


NODE_LOADERS: dict[str, Callable[[ContextInfo, int], Node | None]] = {
    "Complaint": load_complaint,
    "ComplaintAlert": load_alert,
}


def _page(
    info: ContextInfo,
    condition: Any,
    order: ComplaintOrderBy,
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
) -> Connection[ComplaintNode]:
    """A page of the complaints the caller sees that meet ``condition``."""
    page = logic.page(
        info.context.session,
        _visible(info),
        condition,
        order.field.value,  # type: ignore[attr-defined]
        order.direction is SortDirection.DESC,
        page_request(first, after, last, before),
    )
    return Connection.of(page, present(info, page.rows))


@strawberry.type
class ComplaintQuery:
    @guarded_field(
        "Complaints you may see: of customers you see, or handled by you. "
        "`where: {overdue: {eq: true}}` lists the overdue ones (CMP-6). 投诉列表。",
        Authenticated(),
    )
    def complaints(
        self,
        info: ContextInfo,
        where: ComplaintWhere | None = None,
        order_by: ComplaintOrderBy | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ComplaintNode]:
        order = order_by or ComplaintOrderBy(
            field=ComplaintOrderField.ACCEPTED_AT,  # type: ignore[attr-defined]
            direction=SortDirection.DESC,
        )
        return _page(info, logic.condition(where, clock.now()), order, first, after, last, before)

    @guarded_field(
        "One complaint with its timeline, tasks and process. 投诉详情。", Authenticated()
    )
    def complaint(self, info: ContextInfo, id: strawberry.ID) -> ComplaintNode:
        row = logic.get(info.context.session, pk_of(id, "Complaint", "id"), _visible(info))
        return present(info, [row])[0]

    @guarded_field(
        "Complaint statistics by category, channel, unit, cause or month (CMP-5), over the "
        "complaints you may see. 投诉统计。",
        SeesCustomerRows(),
    )
    def complaint_statistics(
        self,
        info: ContextInfo,
        by: ComplaintDimension,  # type: ignore[valid-type]
        where: ComplaintWhere | None = None,
    ) -> list[ComplaintStatistic]:
        ctx = info.context
        visible = _visible(info)
        condition = logic.condition(where, clock.now())
        rows = statistics(
            ctx.session,
            visible,
            by.value,  # type: ignore[attr-defined]
            condition,
        )
        return [
            ComplaintStatistic(
                key=r.key,
                count=r.count,
                closed=r.closed,
                decided=r.decided,
                decided_on_time=r.decided_on_time,
                on_time_rate=(Decimal(r.decided_on_time) / Decimal(r.decided)).quantize(
                    Decimal("0.0001")
                )
                if r.decided
                else None,
                average_satisfaction=r.average_satisfaction,
                overdue_open=r.overdue_open,
                major=r.major,
                regulator_referred=r.regulator_referred,
                withdrawn=r.withdrawn,
                merged=r.merged,
            )
            for r in rows
        ]

    @guarded_field(
        "The complaints the regulatory report lists (CMP-7): major complaints (重大投诉) and "
        "those referred by a regulator, of the complaints you may see. `where:` narrows them "
        "(e.g. `acceptedAt` for the period). 监管报送投诉清单。",
        Authenticated(),
    )
    def regulatory_complaints(
        self,
        info: ContextInfo,
        where: ComplaintWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ComplaintNode]:
        condition = and_(logic.condition(where, clock.now()), logic.regulatory_condition())
        order = ComplaintOrderBy(
            field=ComplaintOrderField.ACCEPTED_AT,  # type: ignore[attr-defined]
            direction=SortDirection.ASC,
        )
        return _page(info, condition, order, first, after, last, before)

    @guarded_field(
        "Head office's alerts: major complaints raised at intake, open until taken up "
        "(CMP-7). 总行提示。",
        HasRight("complaint:oversee"),
    )
    def complaint_alerts(
        self,
        info: ContextInfo,
        where: ComplaintAlertWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ComplaintAlertNode]:
        page = logic.alert_page(
            info.context.session, where, page_request(first, after, last, before)
        )
        return Connection.of(page, present_alerts(info, page.rows))
