"""Sharing queries: grants, consents, share requests, access explanations; node loaders."""

from __future__ import annotations

from collections.abc import Callable

import strawberry
from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from authz.fields import Effect
from authz.policy import AccessAction
from authz.rows import row_visibility_reason
from core import clock
from core.errors import NotFoundError
from core.ids import pk_of
from resolvers.shared import validation
from resolvers.shared.filters import compile_where
from resolvers.shared.staff import staff_by_employee_number
from resolvers.sharing import queries as sharing
from schema.shared.base import Connection, ContextInfo, Node, page_request
from schema.shared.context import Context
from schema.shared.rights import Authenticated, SelfOrRight
from schema.shared.rights import field as guarded_field
from schema.sharing.enums import AccessActionEnum
from schema.sharing.filters import (
    CONSENT_FILTERS,
    SHARE_REQUEST_FILTERS,
    THIRD_PARTY_FILTERS,
    ConsentWhere,
    ShareGrantWhere,
    ShareRequestWhere,
    ThirdPartyWhere,
    share_grant_filters,
)
from schema.sharing.types import (
    AccessExplanation,
    ConsentNode,
    ShareGrantNode,
    ShareRequestNode,
    ThirdPartyNode,
)
from schema.staff import StaffNode
from store.sharing import Consent


def _grant_scope(ctx: Context) -> ColumnElement[bool]:
    see_all = ctx.access.has_right("admin:policy") or ctx.access.has_right("admin:audit")
    return sharing.grant_scope(ctx.actor, see_all)


def _share_request_scope(ctx: Context) -> ColumnElement[bool]:
    return sharing.share_request_scope(ctx.actor, ctx.access.has_right("admin:policy"))


def visible_consent(session: Session, ctx: Context, pk: int) -> Consent | None:
    """A consent the caller may see: of a customer they see and, for a third party, its own —
    what ``consents`` lists (None when missing or outside, alike)."""
    consent = session.scalar(
        select(Consent).where(Consent.id == pk, sharing.consent_scope(ctx.actor))
    )
    if consent is None or not row_scopes.is_visible(
        session, consent.customer_id, ctx.access.visible
    ):
        return None
    return consent


@strawberry.type
class SharingQuery:
    @guarded_field(
        "External data share requests: yours, or all for security admins "
        "(`admin:policy`), newest first. 数据对外提供申请。",
        Authenticated(),
    )
    def share_requests(
        self,
        info: ContextInfo,
        where: ShareRequestWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ShareRequestNode]:
        ctx = info.context
        page = sharing.share_request_page(
            ctx.session,
            _share_request_scope(ctx),
            compile_where(where, SHARE_REQUEST_FILTERS),
            page_request(first, after, last, before),
        )
        return Connection.of(page, [ShareRequestNode.of(r) for r in page.rows])

    @guarded_field(
        "A customer's consents (a third party: only its own), newest first. 客户授权同意记录。",
        Authenticated(),
    )
    def consents(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        where: ConsentWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ConsentNode]:
        ctx = info.context
        customer = row_scopes.require_visible(
            ctx.session, pk_of(customer_id, "Customer", "customerId"), ctx.access.visible
        )
        page = sharing.consent_page(
            ctx.session,
            customer,
            sharing.consent_scope(ctx.actor),
            compile_where(where, CONSENT_FILTERS),
            page_request(first, after, last, before),
        )
        parties = sharing.parties_of(ctx.session, page.rows)
        return Connection.of(
            page, [ConsentNode.of(c, parties[c.third_party_id]) for c in page.rows]
        )

    @guarded_field(
        "Share grants your branch gave or you receive (all, for security admins "
        "and auditors), newest first. 共享授权列表。",
        Authenticated(),
    )
    def share_grants(
        self,
        info: ContextInfo,
        where: ShareGrantWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ShareGrantNode]:
        ctx = info.context
        page = sharing.grant_page(
            ctx.session,
            _grant_scope(ctx),
            compile_where(where, share_grant_filters(clock.now())),
            page_request(first, after, last, before),
        )
        return Connection.of(page, [ShareGrantNode.of(g) for g in page.rows])

    @guarded_field(
        "Outside organisations that may receive data under a confidentiality agreement, by "
        "name (a third party: only itself). 第三方机构列表。",
        Authenticated(),
    )
    def third_parties(
        self,
        info: ContextInfo,
        where: ThirdPartyWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[ThirdPartyNode]:
        ctx = info.context
        page = sharing.third_party_page(
            ctx.session,
            sharing.third_party_scope(ctx.actor),
            compile_where(where, THIRD_PARTY_FILTERS),
            page_request(first, after, last, before),
        )
        numbers = sharing.principals(ctx.session, [p.id for p in page.rows])
        nodes = [ThirdPartyNode.of(p, numbers.get(p.id, "")) for p in page.rows]
        return Connection.of(page, nodes)

    @guarded_field(
        "FULL / MASKED / DENIED for a field — and which rule decided — for you or any staff "
        "member; with `action: WRITE`, whether they may change it (rows: their write scopes); "
        "with `action: USE`, whether they hold the right `type:field` (e.g. `customer:create`). "
        "Declared purpose is not considered. 说明字段访问权限。",
        SelfOrRight("admin:explain", argument="employee_no"),
    )
    def explain_access(
        self,
        info: ContextInfo,
        type: str,
        field: str,
        employee_no: str | None = None,
        customer_id: strawberry.ID | None = None,
        action: AccessActionEnum = AccessAction.READ,  # type: ignore[valid-type]
    ) -> AccessExplanation:
        ctx = info.context
        caller = ctx.actor
        subject = caller
        if employee_no is not None and validation.employee_number(employee_no) != (
            caller.employee_no
        ):
            found = staff_by_employee_number(ctx.session, employee_no)
            if found is None:
                raise NotFoundError("no staff member with this employee number")
            subject = found
        decision = ctx.policy.explain(subject.roles, type, field, action)
        visible: bool | None = None
        reason: str | None = None
        if customer_id is not None:
            scopes = ctx.policy.row_scopes(subject.roles, action)
            visible, reason = row_visibility_reason(ctx.session, subject, scopes, customer_id)
        return AccessExplanation(
            staff=StaffNode.of(subject),
            type=type,
            field=field,
            effect=decision.effect if visible is not False else Effect.DENIED,
            rule=decision.rule if visible is not False else (reason or decision.rule),
            row_visible=visible,
            row_reason=reason,
        )


# --- node(id:) ---------------------------------------------------------------------------------


def _consent_node(info: ContextInfo, pk: int) -> Node | None:
    ctx = info.context
    consent = visible_consent(ctx.session, ctx, pk)
    return None if consent is None else ConsentNode.of(consent)


def _third_party_node(info: ContextInfo, pk: int) -> Node | None:
    ctx = info.context
    found = sharing.visible_third_party(ctx.session, sharing.third_party_scope(ctx.actor), pk)
    return None if found is None else ThirdPartyNode.of(*found)


def _share_grant_node(info: ContextInfo, pk: int) -> Node | None:
    ctx = info.context
    grant = sharing.visible_grant(ctx.session, _grant_scope(ctx), pk)
    return None if grant is None else ShareGrantNode.of(grant)


def _share_request_node(info: ContextInfo, pk: int) -> Node | None:
    ctx = info.context
    row = sharing.visible_share_request(ctx.session, _share_request_scope(ctx), pk)
    return None if row is None else ShareRequestNode.of(row)


# Each with the row scope of its list: invisible and missing objects are both None.
NODE_LOADERS: dict[str, Callable[[ContextInfo, int], Node | None]] = {
    "Consent": _consent_node,
    "ThirdParty": _third_party_node,
    "ShareGrant": _share_grant_node,
    "ShareRequest": _share_request_node,
}
