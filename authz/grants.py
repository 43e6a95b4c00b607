"""Share grants (SHARE-2): when a grant is in force, who may use it, which customers it opens.

A grant is in force while ``valid_from <= now < expires_at`` and it is not revoked. That rule is
written once (:func:`_in_force_rule`) and evaluated two ways: in SQL (:func:`grant_in_force`,
behind every row condition that uses grants) and in Python (:func:`is_in_force`, behind the
API's ``ShareGrant.inForce``), so the field and the data served can never disagree. An expired
grant stops working by itself.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, func, or_, select, true
from sqlalchemy.orm import Session

from core import clock
from store.customers import Customer
from store.sharing import ShareGrant, ShareGrantCustomer
from store.staff import Staff


def _in_force_rule(revoked_at: Any, valid_from: Any, expires_at: Any, now: datetime) -> list[Any]:
    """The conditions of "in force", for a grant's values or for its columns alike.

    ``==``, ``<=`` and ``<`` give booleans on values and SQL conditions on columns, so both
    readings come from these same three lines.
    """
    return [
        revoked_at == None,  # noqa: E711 - on a column this is IS NULL
        valid_from <= now,
        now < expires_at,
    ]


def grant_in_force(now: datetime) -> ColumnElement[bool]:
    """SQL condition: the grant is in force at ``now`` (whoever receives it)."""
    return and_(
        *_in_force_rule(ShareGrant.revoked_at, ShareGrant.valid_from, ShareGrant.expires_at, now)
    )


def is_in_force(grant: ShareGrant, now: datetime) -> bool:
    """Whether ``grant`` is in force at ``now``: the same rule as :func:`grant_in_force`."""
    return all(_in_force_rule(grant.revoked_at, grant.valid_from, grant.expires_at, now))


def in_force(staff: Staff, now: datetime) -> ColumnElement[bool]:
    """Grants this staff member may use now: in force, and received by one of their roles."""
    return and_(
        ShareGrant.receiving_role.in_(list(staff.roles)),
        or_(
            ShareGrant.receiving_branch_id.is_(None),
            ShareGrant.receiving_branch_id == staff.branch_id,
        ),
        grant_in_force(now),
    )


def grant_for_customer(staff: Staff, now: datetime) -> Any:
    """Correlated scalar subquery: a grant in force that covers the outer query's customer."""
    # Correlated explicitly: auto-correlation only looks one level up and would miss Customer.
    listed = (
        select(ShareGrantCustomer.grant_id)
        .where(
            ShareGrantCustomer.grant_id == ShareGrant.id,
            ShareGrantCustomer.customer_id == Customer.id,
        )
        .correlate(ShareGrant, Customer)
    )
    return (
        select(func.min(ShareGrant.id))
        .where(
            in_force(staff, now),
            ShareGrant.granting_branch_id == Customer.branch_id,
            or_(ShareGrant.whole_branch.is_(True), listed.exists()),
        )
        .correlate(Customer)
        .scalar_subquery()
    )


def grant_holders(session: Session, customer_id: int, branch_id: int) -> set[int]:
    """Active staff of the departments holding a grant in force that covers a customer."""
    listed = (
        select(ShareGrantCustomer.grant_id)
        .where(
            ShareGrantCustomer.grant_id == ShareGrant.id,
            ShareGrantCustomer.customer_id == customer_id,
        )
        .correlate(ShareGrant)
    )
    grants = session.execute(
        select(ShareGrant.receiving_role, ShareGrant.receiving_branch_id).where(
            ShareGrant.granting_branch_id == branch_id,
            grant_in_force(clock.now()),
            or_(ShareGrant.whole_branch.is_(True), listed.exists()),
        )
    ).all()
    if not grants:
        return set()
    branches = {b for _, b in grants}
    staff = session.execute(
        select(Staff.id, Staff.roles, Staff.branch_id).where(
            Staff.active.is_(True),
            true() if None in branches else Staff.branch_id.in_([b for b in branches if b]),
        )
    ).all()
    return {
        staff_id
        for staff_id, roles, staff_branch in staff
        for role, receiving_branch in grants
        if role in roles and receiving_branch in (None, staff_branch)
    }


def has_grants_in_force(session: Session, staff: Staff) -> bool:
    """Whether ``staff`` may use any grant now."""
    return (
        session.scalar(select(ShareGrant.id).where(in_force(staff, clock.now())).limit(1))
        is not None
    )


class GrantPresence:
    """Whether a staff member may hold any grant, remembered for ``ttl`` seconds per process.

    Most callers hold none; for them the per-row grant subquery is left out of every customer
    query. A new grant therefore reaches its receivers within ``ttl`` seconds (like a policy
    change); expiry and revocation stay exact because the subquery checks them when it runs.
    """

    def __init__(self, ttl: float = 2.0) -> None:
        self.ttl = ttl
        self._seen: dict[tuple[int, tuple[str, ...], int], tuple[float, bool]] = {}

    def may_hold(self, session: Session, staff: Staff) -> bool:
        key = (staff.id, tuple(sorted(staff.roles)), staff.branch_id)
        now = time.monotonic()
        found = self._seen.get(key)
        if found is None or now - found[0] > self.ttl:
            found = (now, has_grants_in_force(session, staff))
            self._seen[key] = found
        return found[1]

    def forget(self) -> None:
        """Drop what is remembered (this process created a grant: it applies at once here)."""
        self._seen.clear()


def grants_by_id(session: Session, ids: Sequence[int]) -> dict[int, ShareGrant]:
    return {
        g.id: g for g in session.scalars(select(ShareGrant).where(ShareGrant.id.in_(list(ids))))
    }
