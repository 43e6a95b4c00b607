"""One definition of "in force": what ``inForce`` says is what serves data, at every boundary.

A grant or a consent is in force from its first instant (``validFrom``) up to, not including, its
last (``expiresAt`` / ``validUntil``), until revoked; a consent also needs its third party's
confidentiality agreement in force on the business date. Each test reads ``inForce`` through the
API on both sides of a boundary and checks that the receiver sees the customer exactly then.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

import pytest

from core import clock
from tests.conftest import Backend, branch_id, create_customer
from tests.test_consent import _consent, _register
from tests.test_sharing import CREATE, REVOKE

SEEN = "query($id: ID!) { customer(id: $id) { id } }"
CONSENTS = (
    "query($id: ID!) { consents(customerId: $id, first: 100) { edges { node { id inForce } } } }"
)
GRANTS = "{ shareGrants(first: 100) { edges { node { id inForce } } } }"
REVOKE_CONSENT = """mutation($id: ID!) { revokeConsent(input: {id: $id}) {
                      consent { inForce } errors { code } } }"""


@contextmanager
def at(moment: datetime) -> Iterator[None]:
    with clock.travel_to(moment, all_threads=True):
        yield


def _whole_second(moment: datetime) -> datetime:
    return moment.replace(microsecond=0)


def _sees(backend: Backend, staff: str, customer: dict[str, Any]) -> bool:
    body = backend.post(SEEN, {"id": customer["id"]}, staff=staff).json()
    assert not body.get("errors"), body
    return body["data"]["customer"] is not None


# -- consents -------------------------------------------------------------------------------


@pytest.fixture
def customer(backend: Backend) -> dict[str, Any]:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    return create_customer(
        backend,
        relationshipManager=manager,
        branch=branch_id(backend, "SUP0001"),
        phone="13500009001",
    )


def _consent_in_force(backend: Backend, customer: dict[str, Any], consent_id: str) -> bool:
    """``Consent.inForce`` as the customer's relationship manager reads it."""
    listed = backend.gql(
        CONSENTS, {"id": customer["id"]}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT"
    )["consents"]["edges"]
    return bool(next(e["node"]["inForce"] for e in listed if e["node"]["id"] == consent_id))


def _consent_agrees(
    backend: Backend, customer: dict[str, Any], consent_id: str, party: dict[str, Any]
) -> bool:
    """The consent's ``inForce``, checked to be whether its third party sees the customer."""
    in_force = _consent_in_force(backend, customer, consent_id)
    assert in_force == _sees(backend, party["principal"], customer)
    return in_force


def test_a_consent_is_in_force_up_to_not_including_its_last_instant(
    backend: Backend, customer: dict[str, Any]
) -> None:
    party = _register(backend)
    until = _whole_second(clock.now() + timedelta(hours=1))
    recorded = _consent(backend, customer, party, validUntil=until.isoformat())
    assert recorded["errors"] == []
    consent = recorded["consent"]["id"]
    with at(until - timedelta(seconds=1)):
        assert _consent_agrees(backend, customer, consent, party) is True
    with at(until):
        assert _consent_agrees(backend, customer, consent, party) is False


def test_a_consent_is_not_in_force_before_it_was_given(
    backend: Backend, customer: dict[str, Any]
) -> None:
    party = _register(backend)
    given = _whole_second(clock.now() + timedelta(hours=1))
    with at(given):
        recorded = _consent(backend, customer, party)
        assert recorded["errors"] == []
        consent = recorded["consent"]["id"]
        assert _consent_agrees(backend, customer, consent, party) is True
    with at(given - timedelta(seconds=1)):
        assert _consent_agrees(backend, customer, consent, party) is False


def test_a_revoked_consent_is_not_in_force(backend: Backend, customer: dict[str, Any]) -> None:
    party = _register(backend)
    consent = _consent(backend, customer, party)["consent"]["id"]
    assert _consent_agrees(backend, customer, consent, party) is True
    revoked = backend.gql(
        REVOKE_CONSENT, {"id": consent}, staff="RM0001", purpose="RELATIONSHIP_MANAGEMENT"
    )["revokeConsent"]
    assert revoked == {"consent": {"inForce": False}, "errors": []}
    assert _consent_agrees(backend, customer, consent, party) is False


def test_a_consent_is_not_in_force_once_its_partys_agreement_ended(
    backend: Backend, customer: dict[str, Any]
) -> None:
    """The agreement's last day is a business date: it ends at midnight in Beijing."""
    last_day = clock.today() + timedelta(days=1)
    party = _register(backend, expires=last_day.isoformat())
    consent = _consent(backend, customer, party)["consent"]["id"]
    agreement_end = clock.end_of_business_day(last_day)
    with at(agreement_end - timedelta(seconds=1)):
        assert _consent_agrees(backend, customer, consent, party) is True
    with at(agreement_end):
        # The consent itself runs for months more, but no data goes without an agreement.
        assert _consent_agrees(backend, customer, consent, party) is False


# -- share grants -----------------------------------------------------------------------------


@pytest.fixture
def shared(backend: Backend) -> dict[str, Any]:
    """A customer of branch BJ01 (SUP0001's), which grants reach branch SH01's supervisor."""
    return create_customer(backend, branch=branch_id(backend, "SUP0001"), phone="13600009001")


@contextmanager
def _grant(backend: Backend, customer: dict[str, Any], expires_at: datetime) -> Iterator[str]:
    values = {
        "receivingRole": "BRANCH_SUPERVISOR",
        "receivingBranch": branch_id(backend, "SH01SUP01"),
        "purpose": "CUSTOMER_SERVICE",
        "fieldGroups": ["contact"],
        "customers": [customer["id"]],
        "expiresAt": expires_at.isoformat(),
        "reason": "joint campaign follow-up",
    }
    created = backend.gql(CREATE, {"input": values}, staff="SUP0001")["createShareGrant"]
    assert created["errors"] == []
    try:
        yield created["shareGrant"]["id"]
    finally:
        backend.gql(REVOKE, {"id": created["shareGrant"]["id"]}, staff="SUP0001")


def _grant_agrees(backend: Backend, customer: dict[str, Any], grant_id: str) -> bool:
    """The grant's ``inForce``, checked to be whether its receiver sees the customer."""
    edges = backend.gql(GRANTS, staff="SUP0001")["shareGrants"]["edges"]
    in_force = bool(next(e["node"]["inForce"] for e in edges if e["node"]["id"] == grant_id))
    assert in_force == _sees(backend, "SH01SUP01", customer)
    return in_force


def test_a_grant_is_in_force_up_to_not_including_its_expiry_instant(
    backend: Backend, shared: dict[str, Any]
) -> None:
    expires = _whole_second(clock.now() + timedelta(hours=1))
    with _grant(backend, shared, expires) as grant:
        with at(expires - timedelta(seconds=1)):
            assert _grant_agrees(backend, shared, grant) is True
        with at(expires):
            assert _grant_agrees(backend, shared, grant) is False


def test_a_grant_is_not_in_force_before_it_was_given(
    backend: Backend, shared: dict[str, Any]
) -> None:
    given = _whole_second(clock.now() + timedelta(hours=1))
    with at(given), _grant(backend, shared, given + timedelta(days=1)) as grant:
        assert _grant_agrees(backend, shared, grant) is True
        with at(given - timedelta(seconds=1)):
            assert _grant_agrees(backend, shared, grant) is False


def test_a_revoked_grant_is_not_in_force(backend: Backend, shared: dict[str, Any]) -> None:
    with _grant(backend, shared, clock.now() + timedelta(days=1)) as grant:
        assert _grant_agrees(backend, shared, grant) is True
        revoked = backend.gql(REVOKE, {"id": grant}, staff="SUP0001")["revokeShareGrant"]
        assert revoked["shareGrant"]["inForce"] is False
        assert _grant_agrees(backend, shared, grant) is False
