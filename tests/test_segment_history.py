"""Segment history and overrides (SEG-4) over HTTP, on SQLite and PostgreSQL: every change kept
(from, to, reason, run, who), an expired override's fallback shown when read (no job), and
overrides refused without a reason or an expiry, or with an expiry that is not in the future.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select

from core import clock
from resolvers.segments.commands import MAX_OVERRIDE
from store.db import make_session_factory
from store.segments import SegmentChange
from tests.conftest import Backend, create_customer
from tests.test_segments import OVERRIDE, WITHDRAW, _record_aum

HISTORY = """
query($id: ID!) { customer(id: $id) {
  segment { tier computedTier override { tier } }
  segmentHistory { fromTier toTier reason run ruleSetVersion changedAt changedBy overrideReason
                   fromRiskGrade toRiskGrade riskRuleSetVersion }
} }
"""


def _read(backend: Backend, customer_id: str, staff: str = "HO0001") -> dict[str, Any]:
    found = backend.gql(HISTORY, {"id": customer_id}, staff=staff)["customer"]
    return found  # type: ignore[no-any-return]


def _stored_changes(backend: Backend) -> int:
    with make_session_factory(backend.engine)() as session:
        return int(session.scalar(select(func.count()).select_from(SegmentChange)) or 0)


def _override(backend: Backend, staff: str = "SUP0001", **values: Any) -> dict[str, Any]:
    payload = backend.gql(OVERRIDE, {"input": values}, staff=staff)["overrideSegment"]
    return payload  # type: ignore[no-any-return]


def _low_customer(backend: Backend) -> str:
    customer = create_customer(backend, staff="RM0001")
    _record_aum(backend, customer["id"], "1000", staff="RM0001")
    return str(customer["id"])


def test_SEG_4_an_expired_override_falls_back_in_the_history_when_read_without_a_job(
    backend: Backend,
) -> None:
    """Overridden HIGH until T; meanwhile the computed tier rose LOW → MEDIUM. At T − 1 s the
    history ends with the computed change; from T on it shows OVERRIDE_EXPIRED HIGH → MEDIUM at
    T (who overrode, why), and nothing was written to read it."""
    customer_id = _low_customer(backend)
    expires = (clock.now() + timedelta(hours=2)).replace(microsecond=0)
    payload = _override(
        backend,
        customerId=customer_id,
        tier="HIGH",
        reason="moving a family trust in",
        expiresAt=expires.isoformat(),
    )
    assert payload["errors"] == []
    _record_aum(backend, customer_id, "60000", staff="RM0001")  # computed MEDIUM now
    stored = _stored_changes(backend)
    with clock.travel_to(expires - timedelta(seconds=1), all_threads=True):
        before = _read(backend, customer_id)
    assert before["segment"]["tier"] == "HIGH"
    assert [(h["fromTier"], h["toTier"], h["reason"]) for h in before["segmentHistory"]] == [
        ("LOW", "MEDIUM", "INPUTS_CHANGED"),
        ("LOW", "HIGH", "OVERRIDE"),
        (None, "LOW", "FIRST_CLASSIFICATION"),
    ]
    overridden = before["segmentHistory"][1]
    assert (overridden["changedBy"], overridden["overrideReason"]) == (
        "SUP0001",
        "moving a family trust in",
    )
    assert before["segmentHistory"][0]["changedBy"] == "RM0001"
    with clock.travel_to(expires, all_threads=True):
        after = _read(backend, customer_id, staff="RM0001")
    assert after["segment"] == {"tier": "MEDIUM", "computedTier": "MEDIUM", "override": None}
    expired = after["segmentHistory"][0]
    assert (expired["fromTier"], expired["toTier"], expired["reason"]) == (
        "HIGH",
        "MEDIUM",
        "OVERRIDE_EXPIRED",
    )
    assert expired["changedAt"] == expires.isoformat()
    assert (expired["changedBy"], expired["overrideReason"], expired["run"]) == (
        "SUP0001",
        "moving a family trust in",
        None,
    )
    assert expired["ruleSetVersion"] == before["segmentHistory"][0]["ruleSetVersion"]
    # Overrides change the value tier only: their entries, the expired one's included, carry
    # the risk grade in force then, unchanged (SEG-3: unscored, MEDIUM), like every entry.
    computed = before["segmentHistory"][0]
    assert computed["toRiskGrade"] == "MEDIUM" and computed["riskRuleSetVersion"] is not None
    grade = ("MEDIUM", "MEDIUM", computed["riskRuleSetVersion"])
    assert (expired["fromRiskGrade"], expired["toRiskGrade"], expired["riskRuleSetVersion"]) == (
        grade
    )
    assert (
        overridden["fromRiskGrade"],
        overridden["toRiskGrade"],
        overridden["riskRuleSetVersion"],
    ) == grade
    assert after["segmentHistory"][1:] == before["segmentHistory"]
    assert _stored_changes(backend) == stored  # read, never written


def test_SEG_4_a_withdrawn_or_replaced_override_never_reads_as_expired(backend: Backend) -> None:
    customer_id = _low_customer(backend)
    expires = clock.now() + timedelta(days=1)
    values = {"customerId": customer_id, "reason": "retention", "expiresAt": expires.isoformat()}
    assert _override(backend, tier="MEDIUM", **values)["errors"] == []
    assert _override(backend, tier="HIGH", **values)["errors"] == []  # replaces the first
    withdrawn = backend.gql(WITHDRAW, {"input": {"customerId": customer_id}}, staff="HO0001")
    assert withdrawn["withdrawSegmentOverride"]["errors"] == []
    with clock.travel_to(expires + timedelta(days=1), all_threads=True):
        history = _read(backend, customer_id)["segmentHistory"]
    assert [
        (h["fromTier"], h["toTier"], h["reason"], h["changedBy"], h["toRiskGrade"]) for h in history
    ] == [
        ("HIGH", "LOW", "OVERRIDE_WITHDRAWN", "HO0001", "MEDIUM"),
        ("MEDIUM", "HIGH", "OVERRIDE", "SUP0001", "MEDIUM"),
        ("LOW", "MEDIUM", "OVERRIDE", "SUP0001", "MEDIUM"),
        (None, "LOW", "FIRST_CLASSIFICATION", "RM0001", "MEDIUM"),
    ]


def test_SEG_4_an_override_needs_a_reason_and_an_expiry_in_the_future(backend: Backend) -> None:
    """Exact boundaries with the clock held: an expiry at now or 1 s before is EXPIRED, 1 s
    after is accepted; a year (366 days) ahead is accepted, 1 s more is TOO_LONG. Missing
    reason or expiry: REQUIRED naming the field. A refusal writes nothing."""
    customer_id = _low_customer(backend)
    moment = clock.now().replace(microsecond=0)
    with clock.travel_to(moment, all_threads=True):
        before = _read(backend, customer_id)
        stored = _stored_changes(backend)
        refused = [
            ({"reason": "why"}, [("REQUIRED", ["expiresAt"])]),
            ({"expiresAt": (moment + timedelta(days=1)).isoformat()}, [("REQUIRED", ["reason"])]),
            ({}, [("REQUIRED", ["reason"]), ("REQUIRED", ["expiresAt"])]),
            ({"reason": "why", "expiresAt": moment.isoformat()}, [("EXPIRED", ["expiresAt"])]),
            (
                {"reason": "why", "expiresAt": (moment - timedelta(seconds=1)).isoformat()},
                [("EXPIRED", ["expiresAt"])],
            ),
            (
                {
                    "reason": "why",
                    "expiresAt": (moment + MAX_OVERRIDE + timedelta(seconds=1)).isoformat(),
                },
                [("TOO_LONG", ["expiresAt"])],
            ),
        ]
        for values, errors in refused:
            payload = _override(backend, customerId=customer_id, tier="HIGH", **values)
            assert [(e["code"], e["field"]) for e in payload["errors"]] == errors, values
            assert payload["segment"] is None
        assert _read(backend, customer_id) == before
        assert _stored_changes(backend) == stored
        for expiry in (moment + timedelta(seconds=1), moment + MAX_OVERRIDE):
            accepted = _override(
                backend,
                customerId=customer_id,
                tier="HIGH",
                reason="why",
                expiresAt=expiry.isoformat(),
            )
            assert accepted["errors"] == [] and accepted["segment"]["tier"] == "HIGH"
    # Error messages never repeat the submitted value.
    secret = "机密理由" * 100
    long = _override(
        backend,
        customerId=customer_id,
        tier="HIGH",
        reason=secret,
        expiresAt=(clock.now() + timedelta(days=1)).isoformat(),
    )
    assert [e["code"] for e in long["errors"]] == ["TOO_LONG"]
    assert secret[:8] not in long["errors"][0]["message"]


def test_SEG_4_history_hides_override_reasons_from_those_without_the_segment_group(
    backend: Backend,
) -> None:
    customer_id = _low_customer(backend)
    payload = _override(
        backend,
        customerId=customer_id,
        tier="MEDIUM",
        reason="private reason",
        expiresAt=(clock.now() + timedelta(days=1)).isoformat(),
    )
    assert payload["errors"] == []
    body = backend.post(
        "query($id: ID!) { customer(id: $id) { segmentHistory { toTier overrideReason } } }",
        {"id": customer_id},
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    rows = body["data"]["customer"]["segmentHistory"]
    assert rows and all(r["overrideReason"] is None and r["toTier"] is None for r in rows)


def test_SEG_4_a_new_customer_is_classified_in_its_registration(backend: Backend) -> None:
    """No input yet: the models' answer for nothing (tier LOW, the unscored risk grade), one
    FIRST_CLASSIFICATION entry with its run — before, the segment stayed null until an input
    changed."""
    customer = create_customer(backend, staff="RM0001")
    found = _read(backend, customer["id"])
    assert found["segment"]["tier"] == found["segment"]["computedTier"] == "LOW"
    [entry] = found["segmentHistory"]
    assert (entry["fromTier"], entry["toTier"], entry["reason"]) == (
        None,
        "LOW",
        "FIRST_CLASSIFICATION",
    )
    assert entry["run"] and entry["ruleSetVersion"] and entry["changedBy"]
    assert (entry["fromRiskGrade"], entry["toRiskGrade"]) == (None, "MEDIUM")
