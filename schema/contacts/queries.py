"""Contact queries: the contacts list, the cadence worklist, the compliance report."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from core import clock
from resolvers.contacts import cadence, loaders
from resolvers.contacts import queries as logic
from resolvers.customers.queries import customer_rows_in
from resolvers.kpis.indicators import BY_CODE
from resolvers.shared.filters import compile_where
from schema.contacts.enums import CadenceGrouping, CadencePeriod
from schema.contacts.filters import (
    CONTACT_FILTERS,
    SCOPE_FILTERS,
    ContactCadenceWhere,
    ContactOrderBy,
    ContactWhere,
    ContactWorklistWhere,
)
from schema.contacts.types import (
    ContactCadenceReport,
    ContactCadenceRow,
    ContactNode,
    ContactWorklistItem,
    newest_first,
    present,
    present_worklist,
)
from schema.shared.base import Connection, ContextInfo, NodeLoader, page_request, selects
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from schema.staff import BranchNode
from store.staff import Branch

# The compliance rate's definition, in the API's words: the KPI indicator's (one definition).
DEFINITION = (
    "rate = met / due (the indicator CADENCE_COMPLIANCE: met its numerator, due its "
    "denominator), per customer's relationship manager or branch now, as of asOf. "
    + BY_CODE["CADENCE_COMPLIANCE"].definition
)


@strawberry.type
class ContactQuery:
    @guarded_field(
        "Contacts with the customers you see, newest first (REL-1); for a manager "
        "(`where: {relationshipManager}` or `{contactedBy}`) or a branch (`{branch}`). "
        "客户联系记录。",
        Authenticated(),
    )
    def contacts(
        self,
        info: ContextInfo,
        where: ContactWhere | None = None,
        order_by: list[ContactOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ContactNode]:
        ctx = info.context
        ctx.access.require_rows()
        condition = compile_where(where, CONTACT_FILTERS)
        page = logic.contact_page(
            ctx.session,
            ctx.access.visible,
            condition,
            logic.contact_keys(newest_first(order_by)),
            page_request(first, after, last, before),
        )
        return Connection.of(page, present(info, page.rows))

    @guarded_field(
        "Your customers due or overdue for a contact in the current cadence period (REL-2): "
        "HIGH every ISO week, MEDIUM every calendar month, LOW (and not classified) every "
        "calendar quarter, in Beijing dates; overdue first, then the longest since the last "
        "contact (never contacted first). A manager sees their customers, a supervisor the "
        "branch's (filter by `relationshipManager`), head office the bank's. 待联系客户清单。",
        HasRight("contact:cadence"),
    )
    def contact_worklist(
        self,
        info: ContextInfo,
        where: ContactWorklistWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ContactWorklistItem]:
        ctx = info.context
        ctx.access.require_rows()
        condition = compile_where(where, SCOPE_FILTERS)
        tiers = None
        if where is not None and where.tier is not None:
            chosen: list[Any] = [where.tier.eq] if where.tier.eq is not None else []
            tiers = [str(t.value) for t in [*chosen, *(where.tier.in_ or [])]]
        overdue = where.overdue.eq if where is not None and where.overdue is not None else None
        page = logic.worklist_page(
            ctx.session,
            clock.now(),
            clock.today(),
            ctx.access.in_rows,
            condition,
            page_request(first, after, last, before),
            tiers,
            overdue,
        )
        if page.rows and selects(info, "edges", "node", "customer"):
            # The items' customers, in the caller's own rows like the items: one statement,
            # built once per caller (``customer_rows_in``), not the visibility of any customer.
            ids = [row._mapping["customer_id"] for row in page.rows]
            found = customer_rows_in(ctx.session, ids, ctx.access.in_rows)
            ctx.prime("worklist_customers", {pk: found.get(pk) for pk in ids})
        return Connection.of(page, present_worklist(info, page.rows))

    @guarded_field(
        "Cadence compliance per relationship manager or branch for a week, month, quarter or year "
        "(REL-2; the KPI issue reads it): see `definition`. Over the customers you see by your "
        "own rows. 联系频次达标率。",
        HasRight("contact:cadence"),
    )
    def contact_cadence(
        self,
        info: ContextInfo,
        period: CadencePeriod,  # type: ignore[valid-type]
        of: dt.date,
        by: CadenceGrouping = CadenceGrouping.MANAGER,  # type: ignore[valid-type,attr-defined]
        where: ContactCadenceWhere | None = None,
    ) -> ContactCadenceReport:
        ctx = info.context
        ctx.access.require_rows()
        grouping = str(by.value)  # type: ignore[attr-defined]
        report = cadence.report_period(cadence.PeriodKind(period.value), of, "of")  # type: ignore[attr-defined]
        today = clock.today()
        groups, total = logic.compliance(
            ctx.session,
            clock.now(),
            today,
            ctx.access.in_rows,
            compile_where(where, SCOPE_FILTERS),
            report,
            grouping,
        )
        branches = {}
        if grouping == "BRANCH":
            ids = [g.key for g in groups]
            branches = {
                b.id: BranchNode.of(b) for b in ctx.session.query(Branch).filter(Branch.id.in_(ids))
            }
        else:
            ctx.pending("staff").extend(g.key for g in groups if g.key is not None)
        rows = [
            ContactCadenceRow(
                _manager_id=g.key if grouping == "MANAGER" else None,
                branch=branches.get(g.key) if grouping == "BRANCH" else None,
                due=g.due,
                met=g.met,
                rate=g.rate,
            )
            for g in groups
        ]
        return ContactCadenceReport(
            period=period,
            label=report.label,
            start=report.start,
            end=report.end - dt.timedelta(days=1),
            as_of=today,
            grouping=by,
            rows=rows,
            total=ContactCadenceRow(
                _manager_id=None, branch=None, due=total.due, met=total.met, rate=total.rate
            ),
            definition=DEFINITION,
        )


def _load_contact(info: ContextInfo, pk: int) -> ContactNode | None:
    """A contact is visible exactly when its customer is."""
    ctx = info.context
    row = loaders.contacts_by_id(ctx.session, [pk], ctx.access.visible).get(pk)
    return present(info, [row])[0] if row is not None else None


NODE_LOADERS: dict[str, NodeLoader] = {"Contact": _load_contact}
