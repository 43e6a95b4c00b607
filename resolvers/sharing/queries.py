"""Sharing lists and single lookups, each inside the caller's scope (the same for node(id:))."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, case, false, or_, select, true
from sqlalchemy.orm import Session

from authz.grants import grant_in_force, in_force
from authz.grants import is_in_force as is_grant_in_force
from core import clock
from resolvers.shared.pagination import Page, PageRequest, SortKey, paginate
from store.sharing import Consent, ShareGrant, ShareGrantStatus, ShareRequest, ThirdParty
from store.staff import Staff


def grant_status(now: datetime) -> Any:
    """SQL: a grant's ``ShareGrantStatus`` at ``now`` (IN_FORCE exactly when the one rule,
    :func:`authz.grants.grant_in_force`, holds)."""
    return case(
        (ShareGrant.revoked_at.is_not(None), ShareGrantStatus.REVOKED.value),
        (grant_in_force(now), ShareGrantStatus.IN_FORCE.value),
        (ShareGrant.expires_at <= now, ShareGrantStatus.EXPIRED.value),
        else_=ShareGrantStatus.SCHEDULED.value,
    )


def status_of_grant(grant: ShareGrant, now: datetime) -> ShareGrantStatus:
    """:func:`grant_status` of one loaded grant."""
    if grant.revoked_at is not None:
        return ShareGrantStatus.REVOKED
    if is_grant_in_force(grant, now):
        return ShareGrantStatus.IN_FORCE
    if grant.expires_at <= now:
        return ShareGrantStatus.EXPIRED
    return ShareGrantStatus.SCHEDULED


def grant_scope(actor: Staff, see_all: bool) -> ColumnElement[bool]:
    """Grants a caller may list: those their branch gave or they receive, or all (``see_all``:
    security admins and auditors). A third party's principal is filed under a branch but
    belongs to none, and never receives a grant: no grant at all."""
    if see_all:
        return true()
    if actor.third_party_id is not None:
        return false()
    return or_(ShareGrant.granting_branch_id == actor.branch_id, in_force(actor, clock.now()))


def grant_page(
    session: Session, scope: ColumnElement[bool], where: Any, request: PageRequest
) -> Page:
    """Grants inside ``scope`` matching ``where``, newest first."""
    statement = select(ShareGrant).where(scope, where)
    keys = [SortKey(ShareGrant.id, True, int)]
    return paginate(session, statement, keys, request, lambda g: [g.id])


def visible_grant(session: Session, scope: ColumnElement[bool], grant_id: int) -> ShareGrant | None:
    """One grant inside ``scope`` (None when missing or outside it, alike)."""
    return session.scalar(select(ShareGrant).where(ShareGrant.id == grant_id, scope))


def share_request_scope(actor: Staff, see_all: bool) -> ColumnElement[bool]:
    """Share requests a caller may list: their own, or all (``see_all``: security admins)."""
    return true() if see_all else ShareRequest.requested_by_id == actor.id


def share_request_page(
    session: Session, scope: ColumnElement[bool], where: Any, request: PageRequest
) -> Page:
    """Share requests inside ``scope`` matching ``where``, newest first."""
    statement = select(ShareRequest).where(scope, where)
    keys = [SortKey(ShareRequest.id, True, int)]
    return paginate(session, statement, keys, request, lambda r: [r.id])


def visible_share_request(
    session: Session, scope: ColumnElement[bool], request_id: int
) -> ShareRequest | None:
    return session.scalar(select(ShareRequest).where(ShareRequest.id == request_id, scope))


def consent_scope(actor: Staff) -> ColumnElement[bool]:
    """Consents a caller may list of a customer they see: a third party only its own, not
    other recipients'; staff every one."""
    if actor.third_party_id is not None:
        return Consent.third_party_id == actor.third_party_id
    return true()


def consent_page(
    session: Session,
    customer_id: int,
    scope: ColumnElement[bool],
    where: Any,
    request: PageRequest,
) -> Page:
    """A customer's consents inside ``scope`` matching ``where``, newest first."""
    statement = select(Consent).where(Consent.customer_id == customer_id, scope, where)
    keys = [SortKey(Consent.id, True, int)]
    return paginate(session, statement, keys, request, lambda c: [c.id])


def parties_of(session: Session, consents: Sequence[Consent]) -> dict[int, ThirdParty]:
    """The third parties a page of consents names, in one statement (``inForce`` needs their
    agreements)."""
    ids = {c.third_party_id for c in consents}
    if not ids:
        return {}
    return {p.id: p for p in session.scalars(select(ThirdParty).where(ThirdParty.id.in_(ids)))}


def third_party_scope(actor: Staff) -> ColumnElement[bool]:
    """Third parties a caller may look up: staff every one (they record consents naming
    them); a third party's principal only its own organisation."""
    if actor.third_party_id is not None:
        return ThirdParty.id == actor.third_party_id
    return true()


def third_party_page(
    session: Session, scope: ColumnElement[bool], where: Any, request: PageRequest
) -> Page:
    """Third parties inside ``scope`` matching ``where``, by name."""
    statement = select(ThirdParty).where(scope, where)
    keys = [SortKey(ThirdParty.name, False, str), SortKey(ThirdParty.id, False, int)]
    return paginate(session, statement, keys, request, lambda p: [p.name, p.id])


def principals(session: Session, party_ids: Sequence[int]) -> dict[int, str]:
    """The employee number each third party's API client signs in as."""
    rows = session.execute(
        select(Staff.third_party_id, Staff.employee_no)
        .where(Staff.third_party_id.in_(list(party_ids)))
        .order_by(Staff.id)
    )
    found: dict[int, str] = {}
    for party, number in rows:
        if party is not None:
            found.setdefault(party, number)
    return found


def visible_third_party(
    session: Session, scope: ColumnElement[bool], party_id: int
) -> tuple[ThirdParty, str] | None:
    """A third party inside ``scope`` and its principal's employee number."""
    party = session.scalar(select(ThirdParty).where(ThirdParty.id == party_id, scope))
    if party is None:
        return None
    return party, principals(session, [party.id]).get(party.id, "")
