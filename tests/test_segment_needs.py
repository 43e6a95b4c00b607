"""Needs set by staff (SEG-2) over HTTP, on SQLite and PostgreSQL: kept with who, when and why,
shown with their source, and their history readable like the needs themselves.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core import clock
from tests.conftest import Backend, create_customer
from tests.test_segments import SET_NEED, _payments

NEEDS = """
query($id: ID!) { customer(id: $id) { segment {
  tier
  needs { need source derived reason setBy setAt }
  needHistory { need present reason setBy setAt }
} } }
"""


def _set(backend: Backend, staff: str, **values: Any) -> None:
    payload = backend.gql(SET_NEED, {"input": values}, staff=staff)["setCustomerNeed"]
    assert payload["errors"] == [], payload


def _read(backend: Backend, customer_id: str, staff: str = "HO0001") -> dict[str, Any]:
    return backend.gql(NEEDS, {"id": customer_id}, staff=staff)["customer"]["segment"]  # type: ignore[no-any-return]


def test_SEG_2_each_setting_is_kept_with_who_when_and_why_newest_first(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    _payments(backend, customer["id"], range(1), wealth=True)  # INVESTMENT derived
    start = clock.now().replace(microsecond=0)
    settings = [
        ("RM0001", "FINANCING", True, "asked about a mortgage"),
        ("SUP0001", "INVESTMENT", False, "closed every wealth product"),
        ("HO0001", "FINANCING", False, "mortgage taken elsewhere"),
    ]
    for minutes, (staff, need, present, reason) in enumerate(settings):
        with clock.travel_to(start + timedelta(minutes=minutes), all_threads=True):
            _set(
                backend,
                staff,
                customerId=customer["id"],
                need=need,
                present=present,
                reason=reason,
            )
    found = _read(backend, customer["id"], staff="RM0001")
    assert found["needs"] == []  # both staff settings say absent; the derived one is replaced
    assert [
        (h["setBy"], h["need"], h["present"], h["reason"], h["setAt"]) for h in found["needHistory"]
    ] == [
        (staff, need, present, reason, (start + timedelta(minutes=i)).isoformat())
        for i, (staff, need, present, reason) in reversed(list(enumerate(settings)))
    ]
    _set(
        backend,
        "RM0001",
        customerId=customer["id"],
        need="SETTLEMENT",
        present=True,
        reason="pays suppliers monthly",
    )
    (shown,) = _read(backend, customer["id"])["needs"]
    assert (shown["need"], shown["source"], shown["derived"], shown["setBy"]) == (
        "SETTLEMENT",
        "STAFF",
        False,
        "RM0001",
    )


def test_SEG_2_a_derived_need_says_so(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    _payments(backend, customer["id"], range(1), wealth=True)
    found = _read(backend, customer["id"])
    assert found["needs"] == [
        {
            "need": "INVESTMENT",
            "source": "DERIVED",
            "derived": True,
            "reason": None,
            "setBy": None,
            "setAt": None,
        }
    ]
    assert found["needHistory"] == []


def test_SEG_2_a_need_set_before_any_input_is_shown(backend: Backend) -> None:
    """A new customer is classified at registration with no inputs (LOW, no derived need);
    what staff set about its needs shows."""
    customer = create_customer(backend, staff="RM0001")
    _set(
        backend,
        "RM0001",
        customerId=customer["id"],
        need="FINANCING",
        present=True,
        reason="first visit: wants a loan",
    )
    found = _read(backend, customer["id"])
    assert found["tier"] == "LOW"
    assert [(n["need"], n["source"]) for n in found["needs"]] == [("FINANCING", "STAFF")]
    assert len(found["needHistory"]) == 1


def test_SEG_2_need_history_follows_the_needs_field_of_the_policy(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    _set(
        backend,
        "RM0001",
        customerId=customer["id"],
        need="FINANCING",
        present=True,
        reason="private matter",
    )
    body = backend.post(
        "query($id: ID!) { customer(id: $id) { segment { needs { need } "
        "needHistory { reason } } } }",
        {"id": customer["id"]},
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    assert body["data"]["customer"]["segment"] == {"needs": None, "needHistory": None}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FIELD_FORBIDDEN"}


CLEAR_NEED = """
mutation($input: ClearCustomerNeedInput!) {
  clearCustomerNeed(input: $input) { errors { field code message } }
}
"""
CLEARED = """
query($id: ID!) { customer(id: $id) { segment {
  needs { need source } needHistory { need present cleared reason setBy }
} } }
"""


def _clear(backend: Backend, staff: str, **values: Any) -> list[dict[str, Any]]:
    payload = backend.gql(CLEAR_NEED, {"input": values}, staff=staff)["clearCustomerNeed"]
    return payload["errors"]  # type: ignore[no-any-return]


def test_SEG_2_staff_clear_their_setting_and_the_derived_need_counts_again(
    backend: Backend,
) -> None:
    customer = create_customer(backend, staff="RM0001")
    _payments(backend, customer["id"], range(1), wealth=True)  # INVESTMENT derived
    _set(
        backend,
        "RM0001",
        customerId=customer["id"],
        need="INVESTMENT",
        present=False,
        reason="closed every wealth product",
    )
    read = lambda: backend.gql(CLEARED, {"id": customer["id"]})["customer"]["segment"]  # noqa: E731
    assert read()["needs"] == []
    # Refused, naming the field, and nothing written: no reason; a need staff never set.
    blank = _clear(backend, "RM0001", customerId=customer["id"], need="INVESTMENT", reason=" ")
    assert [(e["field"], e["code"]) for e in blank] == [(["reason"], "REQUIRED")]
    unset = _clear(backend, "RM0001", customerId=customer["id"], need="FINANCING", reason="x")
    assert [(e["field"], e["code"]) for e in unset] == [(["need"], "NOT_SET_BY_STAFF")]
    assert len(read()["needHistory"]) == 1
    assert (
        _clear(backend, "SUP0001", customerId=customer["id"], need="INVESTMENT", reason="reopened")
        == []
    )
    found = read()
    assert found["needs"] == [{"need": "INVESTMENT", "source": "DERIVED"}]
    assert [(h["need"], h["present"], h["cleared"], h["setBy"]) for h in found["needHistory"]] == [
        ("INVESTMENT", False, True, "SUP0001"),
        ("INVESTMENT", False, False, "RM0001"),
    ]
    # Cleared already: a second clearing is refused the same way.
    again = _clear(backend, "RM0001", customerId=customer["id"], need="INVESTMENT", reason="y")
    assert [(e["field"], e["code"]) for e in again] == [(["need"], "NOT_SET_BY_STAFF")]
