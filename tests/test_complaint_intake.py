"""Intake and visibility of complaints (CMP-1; 办法第九条、第十一条): one complaint per retried
submission and a refused key reused for another request; a handler sees the complaints they
handle, not every complaint of that customer."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import text

from core import clock
from tests.complaint_steps import SUBMIT, assign, bj_customer, submit
from tests.conftest import Backend, branch_id

LIST = "{ complaints(first: 100) { edges { node { id } } } }"
ONE = "query($id: ID!) { node(id: $id) { id } }"


def _count(backend: Backend) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(text("SELECT count(*) FROM complaints")) or 0)


def test_cmp1_a_key_reused_for_a_different_complaint_is_refused(backend: Backend) -> None:
    """The same idempotency key with a different request is refused like in every creating
    mutation (was: the first complaint answered silently, the second never registered)."""
    customer = bj_customer(backend)
    values: dict[str, Any] = {
        "customerId": customer["id"],
        "channel": "HOTLINE",
        "category": "FEES_AND_CHARGES",
        "description": "账户管理费扣收未提前告知",
        "amountInDispute": "120.00",
        "idempotencyKey": "reuse-key-1",
    }
    first = backend.gql(SUBMIT, {"input": values}, staff="RM0001")["submitComplaint"]
    assert first["created"] is True
    before = _count(backend)
    # A retry of the same request (as the first was cleaned: surrounding blanks) is a retry.
    again = backend.gql(
        SUBMIT,
        {"input": {**values, "description": "  账户管理费扣收未提前告知 "}},
        staff="RM0001",
    )["submitComplaint"]
    assert (again["created"], again["complaint"]["id"]) == (False, first["complaint"]["id"])
    for change in (
        {"description": "理财产品收益与宣传不符"},
        {"category": "SERVICE_ATTITUDE"},
        {"amountInDispute": "121.00"},
        {"complainedStaff": "BJ01RM02"},
        {"customerId": bj_customer(backend)["id"]},
    ):
        refused = backend.post(SUBMIT, {"input": {**values, **change}}, staff="RM0001").json()
        assert refused["data"] is None, change
        assert [e["extensions"]["code"] for e in refused["errors"]] == ["CONFLICT"], change
        assert "reuse-key-1" not in refused["errors"][0]["message"]
    assert _count(backend) == before


def test_cmp1_a_handler_sees_the_complaints_they_handle_not_the_customers_others(
    backend: Backend,
) -> None:
    """SH01CH01 handles one complaint of a BJ01 customer; the customer's other complaint (about
    someone else, not assigned to them) stays out of their sight: list, node and complaint()."""
    customer = bj_customer(backend)
    handled = submit(backend, customer)
    other = submit(backend, customer, complainedStaff="BJ01RM03")
    assign(backend, handled)
    listed = {e["node"]["id"] for e in backend.gql(LIST, staff="SH01CH01")["complaints"]["edges"]}
    assert handled["id"] in listed and other["id"] not in listed
    assert backend.gql(ONE, {"id": handled["id"]}, staff="SH01CH01")["node"] is not None
    assert backend.gql(ONE, {"id": other["id"]}, staff="SH01CH01")["node"] is None
    body = backend.post(
        "query($id: ID!) { complaint(id: $id) { id } }", {"id": other["id"]}, staff="SH01CH01"
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    # The branch still sees both (its customer), and the handler still sees the customer.
    branch = {e["node"]["id"] for e in backend.gql(LIST, staff="SUP0001")["complaints"]["edges"]}
    assert {handled["id"], other["id"]} <= branch
    seen = backend.gql(ONE, {"id": customer["id"]}, staff="SH01CH01")["node"]
    assert seen == {"id": customer["id"]}


GRANT = """mutation($input: CreateShareGrantInput!) {
  createShareGrant(input: $input) { shareGrant { id } errors { code } } }"""
REVOKE = "mutation($id: ID!) { revokeShareGrant(input: {id: $id}) { errors { code } } }"


def test_cmp1_intake_outside_the_callers_rows_is_refused_like_a_missing_customer(
    backend: Backend,
) -> None:
    """A Shanghai supervisor who sees a Beijing customer only through a share grant (contact
    details, for customer service) registers no complaint about them: the same answer as for a
    customer that does not exist, nothing written, no branch revealed (was: registered, and
    the answer named the customer's branch). The customer's own branch registers it."""
    customer = bj_customer(backend)
    grant = backend.gql(
        GRANT,
        {
            "input": {
                "receivingRole": "BRANCH_SUPERVISOR",
                "receivingBranch": branch_id(backend, "SH01SUP01"),
                "purpose": "CUSTOMER_SERVICE",
                "fieldGroups": ["contact", "complaints"],
                "customers": [customer["id"]],
                "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
                "reason": "跨行协同服务",
            }
        },
        staff="SUP0001",
    )["createShareGrant"]
    assert grant["errors"] == []
    query = SUBMIT.replace("decisionDueAt }", "decisionDueAt branch }")

    def intake(customer_id: str, key: str) -> dict[str, Any]:
        values = {
            "customerId": customer_id,
            "channel": "BRANCH_COUNTER",
            "category": "FEES_AND_CHARGES",
            "description": "异地柜台投诉：账户管理费",
            "idempotencyKey": key,
        }
        return dict(backend.post(query, {"input": values}, staff="SH01SUP01").json())

    try:
        seen = backend.gql(ONE, {"id": customer["id"]}, staff="SH01SUP01")["node"]
        assert seen == {"id": customer["id"]}  # the grant opens the customer for reading
        before = _count(backend)
        granted = intake(customer["id"], "counter-sh-1")
        missing = intake("Q3VzdG9tZXI6OTk5OTk5OQ==", "counter-sh-2")  # Customer:9999999
        assert granted == missing, (granted, missing)
        answer = granted["data"]["submitComplaint"]
        assert answer["complaint"] is None
        assert [(e["field"], e["code"]) for e in answer["errors"]] == [
            (["customerId"], "NOT_FOUND")
        ]
        assert _count(backend) == before
    finally:
        backend.gql(REVOKE, {"id": grant["shareGrant"]["id"]}, staff="SUP0001")
    # The customer's own branch registers it.
    assert submit(backend, customer, "SUP0001")["reference"]
