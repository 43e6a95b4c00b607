"""Third parties' consents (SHARE-3): when a consent is in force, which customers and categories
it opens to its third party.

A consent is in force while it is not revoked, ``valid_from <= now < valid_until``, and its third
party's confidentiality agreement is in force on the bank's business date (no data without one).
That rule is written once (:func:`_in_force_rule`) and evaluated in SQL (:func:`consent_in_force`,
behind third-party rows and the share check) and in Python (:func:`is_in_force`, behind the API's
``Consent.inForce``), so the field and the data served can never disagree.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, String, and_, cast, func, null, select
from sqlalchemy.orm import Session, object_session

from core import clock
from store.customers import Customer
from store.sharing import Consent, ThirdParty
from store.staff import Staff


def _in_force_rule(
    revoked_at: Any,
    valid_from: Any,
    valid_until: Any,
    agreement_signed_on: Any,
    agreement_expires_on: Any,
    now: datetime,
    today: date,
) -> list[Any]:
    """The conditions of "in force", for a consent's values or for its columns alike.

    ``==``, ``<=`` and ``<`` give booleans on values and SQL conditions on columns, so both
    readings come from these same lines.
    """
    return [
        revoked_at == None,  # noqa: E711 - on a column this is IS NULL
        valid_from <= now,
        now < valid_until,
        # No data without a confidentiality agreement in force.
        *_agreement_rule(agreement_signed_on, agreement_expires_on, today),
    ]


def _agreement_rule(signed_on: Any, expires_on: Any, today: date) -> list[Any]:
    """A third party's confidentiality agreement is in force from its signing day through its
    last day (business dates)."""
    return [signed_on <= today, today <= expires_on]


def agreement_in_force(party: ThirdParty, now: datetime) -> bool:
    """Whether ``party``'s confidentiality agreement is in force at ``now``."""
    return all(
        _agreement_rule(
            party.agreement_signed_on, party.agreement_expires_on, clock.business_date(now)
        )
    )


def consent_in_force(now: datetime) -> ColumnElement[bool]:
    """SQL condition on ``Consent`` joined with its ``ThirdParty``: in force at ``now``."""
    return and_(
        *_in_force_rule(
            Consent.revoked_at,
            Consent.valid_from,
            Consent.valid_until,
            ThirdParty.agreement_signed_on,
            ThirdParty.agreement_expires_on,
            now,
            clock.business_date(now),
        )
    )


def is_in_force(consent: Consent, now: datetime, party: ThirdParty | None = None) -> bool:
    """Whether ``consent`` is in force at ``now``: the rule of :func:`consent_in_force`.

    ``party``: the consent's third party, loaded through the consent's session when not given.
    """
    if party is None:
        session = object_session(consent)
        if session is None:
            raise ValueError("a consent outside a session needs its third party")
        party = session.get_one(ThirdParty, consent.third_party_id)
    return all(
        _in_force_rule(
            consent.revoked_at,
            consent.valid_from,
            consent.valid_until,
            party.agreement_signed_on,
            party.agreement_expires_on,
            now,
            clock.business_date(now),
        )
    )


def consents_in_force(now: datetime) -> Select[Consent]:
    """Consents in force at ``now`` (:func:`consent_in_force`)."""
    return (
        select(Consent)
        .join(ThirdParty, ThirdParty.id == Consent.third_party_id)
        .where(consent_in_force(now))
    )


def consents_naming(now: datetime, customer_id: Any, third_party_id: int, purpose: str) -> Any:
    """The consents in force of one customer for one third party that name ``purpose``.

    Together they decide what the party gets for that purpose — the union of their data
    categories (SHARE-3); consents for other purposes add nothing. ``customer_id`` is an ID or
    a column of an outer query. The one definition behind third-party rows and the share check.
    """
    return consents_in_force(now).where(
        Consent.customer_id == customer_id,
        Consent.third_party_id == third_party_id,
        Consent.purpose == purpose,
    )


def consent_for_customer(staff: Staff, now: datetime, purpose: str | None) -> Any:
    """Correlated scalar subquery: the consents ("3,7") opening the outer customer, or NULL.

    Only consents of the caller's organisation naming the declared ``purpose`` count: under any
    other purpose (or none) the customer is not visible at all.
    """
    if staff.third_party_id is None or purpose is None:
        return null()
    return (
        consents_naming(now, Customer.id, staff.third_party_id, purpose)
        .with_only_columns(func.aggregate_strings(cast(Consent.id, String), ","))
        .correlate(Customer)
        .scalar_subquery()
    )


def consented_unions(
    session: Session, third_party_id: int, purpose: str, now: datetime
) -> list[frozenset[str]]:
    """Per customer opened to a third party under ``purpose``: the union of its consents'
    categories (what a filter or ordering on that customer's fields may touch)."""
    unions: dict[int, set[str]] = {}
    for consent in session.scalars(
        consents_in_force(now).where(
            Consent.third_party_id == third_party_id, Consent.purpose == purpose
        )
    ):
        unions.setdefault(consent.customer_id, set()).update(consent.data_categories)
    return [frozenset(u) for u in unions.values()]


def consent_ids(column_value: str) -> tuple[int, ...]:
    """The consent IDs of a ``consent_for_customer`` value, ascending."""
    return tuple(sorted(int(n) for n in column_value.split(",")))


def consented_categories(consents: Iterable[Consent]) -> frozenset[str]:
    """Union by purpose: every data category any of these consents names."""
    return frozenset(c for consent in consents for c in consent.data_categories)


def consents_by_id(session: Session, ids: Sequence[int]) -> dict[int, Consent]:
    return {c.id: c for c in session.scalars(select(Consent).where(Consent.id.in_(list(ids))))}
