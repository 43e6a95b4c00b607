"""Existence leaks: a refusal never tells who banks here to someone who may not
see them.

A duplicate ID number names the existing customer only as a structured field, and only to a
caller who may see that customer; ``explainAccess`` answers a missing and an invisible customer
in exactly the same words.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from core.ids import global_id, parse_global_id
from tests.conftest import SOURCE, Backend, branch_id, create_customer, policy_rule

CREATE = """
mutation Create($input: CreateCustomerInput!) {
  createCustomer(input: $input) {
    customer { id }
    errors { field code message existingCustomerId }
  }
}
"""
UPDATE = """
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id }
    errors { field code message existingCustomerId }
  }
}
"""
NO_OWN_ROWS = {
    "role": "RELATIONSHIP_MANAGER",
    "object": "rows:own",
    "action": "read",
    "effect": "deny",
}


def _me(backend: Backend, staff: str) -> str:
    return str(backend.gql("{ me { id } }", staff=staff)["me"]["id"])


@pytest.fixture(scope="module")
def owned(backend: Backend) -> dict[str, Any]:
    """A customer of BJ01 whose relationship manager is BJ01RM03."""
    return create_customer(
        backend,
        relationshipManager=_me(backend, "BJ01RM03"),
        branch=branch_id(backend, "SUP0001"),
    )


def _duplicate(payload: dict[str, Any], existing: dict[str, Any]) -> dict[str, Any]:
    """The one DUPLICATE_ID_NUMBER error of a refused payload; its message names no customer."""
    assert payload["customer"] is None
    [error] = [e for e in payload["errors"] if e["code"] == "DUPLICATE_ID_NUMBER"]
    assert error["field"] == ["idNumber"]
    assert existing["id"] not in error["message"]
    # Neither a global ID nor a primary key: the message carries no digit at all.
    assert not any(character.isdigit() for character in error["message"]), error["message"]
    return error


def _register_again(backend: Backend, staff: str, existing: dict[str, Any]) -> dict[str, Any]:
    values = {"name": "再次登记", "idNumber": existing["idNumber"], "source": SOURCE}
    payload = backend.gql(CREATE, {"input": values}, staff=staff)["createCustomer"]
    return _duplicate(payload, existing)


def _assert_hidden(error: dict[str, Any]) -> None:
    assert error["existingCustomerId"] is None
    assert "supervisor" in error["message"]
    assert "exists" not in error["message"]


@pytest.mark.parametrize(
    ("staff", "visible"),
    [
        ("BJ01RM03", True),  # the customer's own relationship manager
        ("SUP0001", True),  # the supervisor of the customer's branch
        ("HO0001", True),  # head office sees the whole bank
        ("RM0001", False),  # a relationship manager of the same branch, not theirs
        ("SH01RM01", False),  # a relationship manager of another branch
        ("SH01SUP01", False),  # the supervisor of another branch
    ],
)
def test_duplicate_id_number_names_the_customer_only_to_who_may_see_them_INFO_5(
    backend: Backend, owned: dict[str, Any], staff: str, visible: bool
) -> None:
    error = _register_again(backend, staff, owned)
    if visible:
        assert error["existingCustomerId"] == owned["id"]
    else:
        _assert_hidden(error)


@pytest.fixture
def rows_withdrawn(backend: Backend) -> Iterator[None]:
    """Relationship managers without any row scope (the live policy denies ``rows:own``)."""
    with policy_rule(backend, NO_OWN_ROWS):
        yield


def test_a_role_without_rows_learns_only_that_registration_is_refused_INFO_5(
    backend: Backend, owned: dict[str, Any], rows_withdrawn: None
) -> None:
    # The customer's own manager, once the live policy gives the role no rows at all.
    _assert_hidden(_register_again(backend, "BJ01RM03", owned))


def test_changing_to_a_registered_id_number_hides_an_invisible_customer_INFO_5(
    backend: Backend, owned: dict[str, Any]
) -> None:
    manager = _me(backend, "BJ01RM03")
    mine = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    elsewhere = create_customer(
        backend,
        relationshipManager=_me(backend, "SH01RM01"),
        branch=branch_id(backend, "SH01SUP01"),
    )

    def change_to(target: dict[str, Any]) -> dict[str, Any]:
        change = {
            "id": mine["id"],
            "expectedVersion": 1,
            "changes": {"idNumber": target["idNumber"]},
            "source": SOURCE,
        }
        payload = backend.gql(UPDATE, {"input": change}, staff="BJ01RM03")["updateCustomer"]
        return _duplicate(payload, target)

    _assert_hidden(change_to(elsewhere))
    assert change_to(owned)["existingCustomerId"] == owned["id"]


EXPLAIN = """
query($type: String!, $field: String!, $staff: String, $customer: ID) {
  explainAccess(type: $type, field: $field, employeeNo: $staff, customerId: $customer) {
    staff { employeeNo } type field effect rule rowVisible rowReason
  }
}
"""


def _explain(backend: Backend, caller: str, subject: str | None, customer: str) -> Any:
    variables = {"type": "Customer", "field": "phone", "staff": subject, "customer": customer}
    response = backend.post(EXPLAIN, variables, staff=caller)
    assert response.status_code == 200
    return response.json()


@pytest.mark.parametrize(
    ("caller", "subject"),
    [("RM0001", None), ("SH01RM01", None), ("SEC0001", "RM0001"), ("AUD0001", "SH01RM01")],
)
def test_explain_access_answers_missing_and_invisible_customers_alike_INFO_5(
    backend: Backend, owned: dict[str, Any], caller: str, subject: str | None
) -> None:
    parsed = parse_global_id(owned["id"])
    assert parsed is not None
    invisible = _explain(backend, caller, subject, owned["id"])
    assert invisible["data"]["explainAccess"]["rowVisible"] is False
    assert invisible["data"]["explainAccess"]["effect"] == "DENIED"
    assert "errors" not in invisible
    missing = parsed[1] + 10**6
    others = (global_id("Customer", missing), str(missing), "9" * 30, "nonsense")
    for other in others:
        assert _explain(backend, caller, subject, other) == invisible, other
