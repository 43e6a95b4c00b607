"""The other four kinds of information (INFO-2), re-verification (INFO-4), notifications (INFO-6)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import func, select

from core import clock
from core.ids import global_id
from store.customers import FinancialSnapshot, Transaction
from tests.conftest import SOURCE, Backend, branch_id, create_customer

SNAPSHOT = """
mutation($input: RecordFinancialSnapshotInput!) {
  recordFinancialSnapshot(input: $input) {
    financialSnapshot { asOf annualIncome totalAssets totalLiabilities assetsUnderManagement netWorth }
    customer { version latestFinancialSnapshot { asOf } financialSnapshots { asOf } }
    errors { field code message }
  }
}
"""


def _snapshot(customer_id: str, as_of: str, **amounts: str) -> dict[str, Any]:
    values = {
        "customerId": customer_id,
        "asOf": as_of,
        "annualIncome": "360000.00",
        "totalAssets": "1250000.50",
        "totalLiabilities": "300000",
        "assetsUnderManagement": "520000.10",
        "source": {"kind": "QUESTIONNAIRE", "detail": "annual financial questionnaire"},
    }
    values.update(amounts)
    return {"input": values}


def test_financial_snapshots_are_dated_exact_and_kept_INFO_2(backend: Backend) -> None:
    customer = create_customer(backend)
    first = backend.gql(SNAPSHOT, _snapshot(customer["id"], "2026-06-30"))[
        "recordFinancialSnapshot"
    ]
    assert first["errors"] == []
    assert first["financialSnapshot"] == {
        "asOf": "2026-06-30",
        "annualIncome": "360000.00",
        "totalAssets": "1250000.50",
        "totalLiabilities": "300000.00",
        "assetsUnderManagement": "520000.10",
        "netWorth": "950000.50",
    }
    second = backend.gql(
        SNAPSHOT, _snapshot(customer["id"], "2026-09-30", totalAssets="99999999999999.99")
    )["recordFinancialSnapshot"]
    assert second["customer"]["latestFinancialSnapshot"] == {"asOf": "2026-09-30"}
    assert [s["asOf"] for s in second["customer"]["financialSnapshots"]] == [
        "2026-09-30",
        "2026-06-30",
    ]
    assert second["financialSnapshot"]["totalAssets"] == "99999999999999.99"
    assert second["customer"]["version"] == 3


def test_bad_amounts_and_future_dates_are_refused_and_nothing_is_written_INFO_3(
    backend: Backend,
) -> None:
    customer = create_customer(backend)
    with backend.engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(FinancialSnapshot))
    future = (clock.today() + timedelta(days=2)).isoformat()
    payload = backend.gql(
        SNAPSHOT,
        _snapshot(customer["id"], future, annualIncome="-1", totalAssets="10.001"),
    )["recordFinancialSnapshot"]
    assert payload["financialSnapshot"] is None
    assert {(tuple(e["field"]), e["code"]) for e in payload["errors"]} == {
        (("annualIncome",), "NEGATIVE_AMOUNT"),
        (("totalAssets",), "INVALID_AMOUNT"),
        (("asOf",), "DATE_IN_FUTURE"),
    }
    with backend.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(FinancialSnapshot)) == before


def test_a_malformed_decimal_is_a_readable_error_not_internal(backend: Backend) -> None:
    customer = create_customer(backend)
    body = backend.post(
        SNAPSHOT, _snapshot(customer["id"], "2026-01-31", annualIncome="12,5")
    ).json()
    # A variable's value of the wrong type is the caller's input: named, never repeated.
    assert body["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    assert "annualIncome" in body["errors"][0]["message"]
    assert "12,5" not in str(body)


IMPORT = """
mutation($input: ImportTransactionsInput!) {
  importTransactions(input: $input) {
    imported skippedDuplicates accountsCreated
    customer { accounts { accountNo kind balance } transactionSummary(days: 30) { count inflow outflow } }
    errors { field code message }
  }
}
"""


def _transactions(account_no: str, refs: list[str], amount: str = "100.25") -> list[dict[str, Any]]:
    when = (clock.now() - timedelta(days=3)).isoformat()
    return [
        {
            "accountNo": account_no,
            "externalRef": ref,
            "occurredAt": when,
            "amount": amount,
            "type": "DEPOSIT" if i % 2 == 0 else "PAYMENT",
            "channel": "MOBILE_APP",
        }
        for i, ref in enumerate(refs)
    ]


def test_bulk_import_creates_accounts_and_skips_repeated_references_INFO_2(
    backend: Backend,
) -> None:
    customer = create_customer(backend)
    account_no = f"6217{customer['id'][-8:]}"
    source = {"kind": "BUSINESS_TRANSACTION", "detail": "core banking nightly extract"}
    first = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer["id"],
                "accounts": [
                    {
                        "accountNo": account_no,
                        "kind": "DEMAND_DEPOSIT",
                        "openedOn": "2020-03-01",
                        "balance": "5000",
                    }
                ],
                "transactions": _transactions(account_no, [f"T{i}" for i in range(300)]),
                "source": source,
            }
        },
    )["importTransactions"]
    assert first["errors"] == []
    assert (first["imported"], first["skippedDuplicates"], first["accountsCreated"]) == (300, 0, 1)
    assert first["customer"]["accounts"] == [
        {"accountNo": account_no, "kind": "DEMAND_DEPOSIT", "balance": "5000.00"}
    ]
    assert first["customer"]["transactionSummary"] == {
        "count": 300,
        "inflow": "15037.50",
        "outflow": "15037.50",
    }
    again = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer["id"],
                "transactions": _transactions(account_no, ["T0", "T1", "T300"]),
                "source": source,
            }
        },
    )["importTransactions"]
    assert (again["imported"], again["skippedDuplicates"]) == (1, 2)
    page = backend.gql(
        """query($id: ID!) { transactions(customerId: $id, first: 5, where: {type: {in: [DEPOSIT]}}) {
             totalCount edges { node { externalRef amount type } } } }""",
        {"id": customer["id"]},
    )["transactions"]
    assert page["totalCount"] == 151
    assert {e["node"]["type"] for e in page["edges"]} == {"DEPOSIT"}


def test_import_with_an_unknown_account_writes_nothing(backend: Backend) -> None:
    customer = create_customer(backend)
    with backend.engine.connect() as connection:
        before = connection.scalar(select(func.count()).select_from(Transaction))
    payload = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer["id"],
                "accounts": [{"accountNo": "NEW-1", "kind": "LOAN", "openedOn": "2024-01-01"}],
                "transactions": _transactions("NEW-1", ["A"])
                + _transactions("NOT-MINE", ["B"])
                + _transactions("NEW-1", ["C"], amount="0"),
                "source": SOURCE,
            }
        },
    )["importTransactions"]
    assert {(tuple(e["field"]), e["code"]) for e in payload["errors"]} == {
        (("transactions", "1", "accountNo"), "UNKNOWN_ACCOUNT"),
        (("transactions", "2", "amount"), "INVALID_AMOUNT"),
    }
    with backend.engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Transaction)) == before
    accounts = backend.gql(
        "query($id: ID!) { customer(id: $id) { accounts { accountNo } } }", {"id": customer["id"]}
    )
    assert accounts["customer"]["accounts"] == []


PREFERENCES = """
mutation($input: RecordPreferencesInput!) {
  recordPreferences(input: $input) {
    preferences { products serviceChannels contactMethod contactTime marketingOptIn }
    errors { field code message }
  }
}
"""


def test_preferences_record_and_partial_update_INFO_2(backend: Backend) -> None:
    customer = create_customer(backend)
    first = backend.gql(
        PREFERENCES,
        {
            "input": {
                "customerId": customer["id"],
                "products": ["基金", "大额存单", "基金"],
                "serviceChannels": ["手机银行"],
                "contactMethod": "WECHAT",
                "contactTime": "WEEKEND",
                "marketingOptIn": True,
                "source": {"kind": "QUESTIONNAIRE", "detail": "preference survey"},
            }
        },
    )["recordPreferences"]["preferences"]
    assert first == {
        "products": ["基金", "大额存单"][::-1] if False else sorted(["基金", "大额存单"]),
        "serviceChannels": ["手机银行"],
        "contactMethod": "WECHAT",
        "contactTime": "WEEKEND",
        "marketingOptIn": True,
    }
    opted_out = backend.gql(
        PREFERENCES,
        {"input": {"customerId": customer["id"], "marketingOptIn": False, "source": SOURCE}},
    )["recordPreferences"]["preferences"]
    assert opted_out["marketingOptIn"] is False
    assert opted_out["contactMethod"] == "WECHAT"  # untouched fields stay


def test_preferences_null_lists_clear_them_and_a_null_opt_in_is_refused_INFO_2(
    backend: Backend,
) -> None:
    """``products: null`` clears the list (it was stored as JSON null and every later read of
    the preferences answered INTERNAL); ``marketingOptIn: null`` is neither yes nor no: refused
    naming the field, nothing written."""
    customer = create_customer(backend)
    values = {"customerId": customer["id"], "products": ["基金"], "source": SOURCE}
    assert backend.gql(PREFERENCES, {"input": values})["recordPreferences"]["errors"] == []
    cleared = backend.gql(
        PREFERENCES,
        {"input": {**values, "products": None, "serviceChannels": None, "contactMethod": None}},
    )["recordPreferences"]
    assert cleared["errors"] == []
    assert cleared["preferences"]["products"] == []
    assert cleared["preferences"]["serviceChannels"] == []
    refused = backend.gql(
        PREFERENCES, {"input": {**values, "products": ["理财"], "marketingOptIn": None}}
    )["recordPreferences"]
    assert refused["preferences"] is None
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["marketingOptIn"], "REQUIRED")
    ]
    read = backend.gql(
        "query($id: ID!) { customer(id: $id) { preferences { products marketingOptIn } } }",
        {"id": customer["id"]},
    )
    assert read["customer"]["preferences"] == {"products": [], "marketingOptIn": False}


RISK = """
mutation($input: RecordRiskAssessmentInput!) {
  recordRiskAssessment(input: $input) {
    riskAssessment { riskTolerance creditScore creditStatus validUntil isValid }
    customer { riskProfile { riskTolerance } riskAssessments { riskTolerance } }
    errors { field code message }
  }
}
"""


def test_risk_assessment_is_valid_a_year_and_history_is_kept_INFO_2(backend: Backend) -> None:
    customer = create_customer(backend)
    assessed = (clock.now() - timedelta(days=400)).isoformat()
    old = backend.gql(
        RISK,
        {
            "input": {
                "customerId": customer["id"],
                "riskTolerance": "C2_CAUTIOUS",
                "creditStatus": "NORMAL",
                "creditScore": 700,
                "assessedAt": assessed,
                "source": {"kind": "QUESTIONNAIRE", "detail": "risk questionnaire"},
            }
        },
    )["recordRiskAssessment"]
    assert old["riskAssessment"]["isValid"] is False
    new = backend.gql(
        RISK,
        {
            "input": {
                "customerId": customer["id"],
                "riskTolerance": "C4_GROWTH",
                "creditStatus": "SPECIAL_MENTION",
                "creditScore": 620,
                "source": {"kind": "QUESTIONNAIRE", "detail": "risk questionnaire"},
            }
        },
    )["recordRiskAssessment"]
    assert new["riskAssessment"]["isValid"] is True
    assert new["riskAssessment"]["validUntil"] == (clock.today() + timedelta(days=365)).isoformat()
    assert new["customer"]["riskProfile"] == {"riskTolerance": "C4_GROWTH"}
    assert [r["riskTolerance"] for r in new["customer"]["riskAssessments"]] == [
        "C4_GROWTH",
        "C2_CAUTIOUS",
    ]
    bad = backend.gql(
        RISK,
        {
            "input": {
                "customerId": customer["id"],
                "riskTolerance": "C1_CONSERVATIVE",
                "creditStatus": "NORMAL",
                "creditScore": 5000,
                "source": SOURCE,
            }
        },
    )["recordRiskAssessment"]
    assert bad["errors"][0]["field"] == ["creditScore"]
    assert bad["errors"][0]["code"] == "OUT_OF_RANGE"


DUE = """
query($kind: InformationKind, $asOf: Date, $after: String) {
  customersDueForReverification(where: {informationKind: {eq: $kind}}, asOf: $asOf, first: 100, after: $after) {
    totalCount pageInfo { hasNextPage endCursor }
    edges { node { informationKind dueOn customer { id } } }
  }
}
"""

VERIFY = """
mutation($input: RecordVerificationInput!) {
  recordVerification(input: $input) {
    verification { informationKind result verifiedBy { employeeNo } }
    customer { verificationStatus { informationKind dueOn isDue lastVerifiedAt } }
    errors { field code message }
  }
}
"""


def _due_ids(backend: Backend, kind: str, as_of: date) -> set[str]:
    ids: set[str] = set()
    after = None
    while True:
        page = backend.gql(DUE, {"kind": kind, "asOf": as_of.isoformat(), "after": after})[
            "customersDueForReverification"
        ]
        ids |= {e["node"]["customer"]["id"] for e in page["edges"]}
        if not page["pageInfo"]["hasNextPage"]:
            return ids
        after = page["pageInfo"]["endCursor"]


def test_due_list_and_verification_move_the_next_due_date_INFO_4(backend: Backend) -> None:
    customer = create_customer(backend, branch=branch_id(backend, "SUP0001"))
    in_two_years = clock.today() + timedelta(days=730)
    assert customer["id"] in _due_ids(backend, "FINANCIAL", in_two_years)
    assert customer["id"] not in _due_ids(backend, "FINANCIAL", clock.today())
    verified = backend.gql(
        VERIFY,
        {
            "input": {
                "customerId": customer["id"],
                "informationKind": "FINANCIAL",
                "result": "CONFIRMED",
            }
        },
        staff="SUP0001",
    )["recordVerification"]
    assert verified["verification"]["verifiedBy"] == {"employeeNo": "SUP0001"}
    status = {s["informationKind"]: s for s in verified["customer"]["verificationStatus"]}
    assert status["FINANCIAL"]["dueOn"] == (clock.today() + timedelta(days=180)).isoformat()
    assert status["FINANCIAL"]["lastVerifiedAt"] is not None
    assert status["BASIC"]["lastVerifiedAt"] is None
    corrected = backend.gql(
        VERIFY,
        {
            "input": {
                "customerId": customer["id"],
                "informationKind": "BASIC",
                "result": "CORRECTED",
            }
        },
    )["recordVerification"]
    assert corrected["errors"][0] == {
        "field": ["note"],
        "code": "REQUIRED",
        "message": "say what was corrected",
    }


NOTIFICATIONS = """
query { notifications(first: 20, where: {read: {eq: false}}) {
  totalCount edges { node { id fields informationKind summary customer { id } } } } }
"""


def test_changes_notify_the_relationship_manager_and_watchers_not_the_actor_INFO_6(
    backend: Backend,
) -> None:
    manager_id = backend.gql("{ me { id } }", staff="BJ01RM01")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager_id, branch=branch_id(backend, "SUP0001")
    )
    watched = backend.gql(
        "mutation($input: WatchCustomerInput!) { watchCustomer(input: $input) { errors { code } } }",
        {"input": {"customerId": customer["id"], "reason": "large deposit follow-up"}},
        staff="RISK0001",
    )
    assert watched["watchCustomer"]["errors"] == []
    before = backend.gql(NOTIFICATIONS, staff="BJ01RM01")["notifications"]["totalCount"]
    backend.gql(SNAPSHOT, _snapshot(customer["id"], "2026-03-31"), staff="SUP0001")
    for staff in ("BJ01RM01", "RISK0001"):
        notes = backend.gql(NOTIFICATIONS, staff=staff)["notifications"]
        latest = notes["edges"][0]["node"]
        assert latest["customer"]["id"] == customer["id"]
        assert latest["informationKind"] == "FINANCIAL"
        assert "2026-03-31" not in latest["summary"]  # names of fields only, never values
    assert backend.gql(NOTIFICATIONS, staff="BJ01RM01")["notifications"]["totalCount"] == before + 1
    own = backend.gql(NOTIFICATIONS, staff="SUP0001")["notifications"]["edges"]
    assert all(e["node"]["customer"]["id"] != customer["id"] for e in own)
    ids = [
        e["node"]["id"]
        for e in backend.gql(NOTIFICATIONS, staff="RISK0001")["notifications"]["edges"]
    ]
    marked = backend.gql(
        "mutation($input: MarkNotificationsReadInput!) { markNotificationsRead(input: $input) { marked } }",
        {"input": {"ids": ids}},
        staff="RISK0001",
    )
    assert marked["markNotificationsRead"]["marked"] == len(ids)
    assert backend.gql(NOTIFICATIONS, staff="RISK0001")["notifications"]["totalCount"] == 0


def test_subscription_pushes_a_change_over_websocket_INFO_6(backend: Backend) -> None:
    manager_id = backend.gql("{ me { id } }", staff="BJ01RM02")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager_id, branch=branch_id(backend, "SUP0001")
    )
    with backend.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json(
            {
                "type": "connection_init",
                "payload": {
                    "Authorization": f"Bearer {backend.token('BJ01RM02')}",
                    "X-Purpose": "RELATIONSHIP_MANAGEMENT",
                },
            }
        )
        assert ws.receive_json()["type"] == "connection_ack"
        ws.send_json(
            {
                "id": "1",
                "type": "subscribe",
                "payload": {"query": "subscription { customerChanges { fields customer { id } } }"},
            }
        )
        backend.gql(SNAPSHOT, _snapshot(customer["id"], "2026-02-28"), staff="SUP0001")
        message = ws.receive_json()
        assert message["type"] == "next", message
        change = message["payload"]["data"]["customerChanges"]
        assert change == {"fields": ["financialSnapshot"], "customer": {"id": customer["id"]}}
        # A later change arrives too, read from a fresh snapshot of the database.
        backend.gql(
            PREFERENCES,
            {"input": {"customerId": customer["id"], "marketingOptIn": True, "source": SOURCE}},
            staff="SUP0001",
        )
        second = ws.receive_json()["payload"]["data"]["customerChanges"]
        assert second == {"fields": ["marketingOptIn"], "customer": {"id": customer["id"]}}
        ws.send_json({"id": "1", "type": "complete"})


def test_subscription_without_a_token_is_rejected(backend: Backend) -> None:
    with backend.client.websocket_connect("/graphql", subprotocols=["graphql-transport-ws"]) as ws:
        ws.send_json({"type": "connection_init", "payload": {}})
        message = ws.receive()
        assert message["type"] == "websocket.close"
        assert message["code"] == 4403


def _managed_customer(backend: Backend) -> dict[str, Any]:
    """A customer of branch BJ01 served by BJ01RM01."""
    manager_id = backend.gql("{ me { id } }", staff="BJ01RM01")["me"]["id"]
    return create_customer(
        backend, relationshipManager=manager_id, branch=branch_id(backend, "SUP0001")
    )


def test_node_returns_a_transaction_exactly_to_who_may_see_its_customer(backend: Backend) -> None:
    customer = _managed_customer(backend)
    account_no = f"6218{customer['id'][-8:]}"
    imported = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer["id"],
                "accounts": [
                    {"accountNo": account_no, "kind": "DEMAND_DEPOSIT", "openedOn": "2021-06-01"}
                ],
                "transactions": _transactions(account_no, ["NODE-1"]),
                "source": {"kind": "BUSINESS_TRANSACTION", "detail": "core banking extract"},
            }
        },
    )["importTransactions"]
    assert imported["errors"] == []
    [edge] = backend.gql(
        "query($id: ID!) { transactions(customerId: $id, first: 1) { edges { node { id } } } }",
        {"id": customer["id"]},
    )["transactions"]["edges"]
    transaction_id = edge["node"]["id"]
    query = "query($id: ID!) { node(id: $id) { __typename id ... on Transaction { externalRef } } }"
    for staff in ("BJ01RM01", "SUP0001", "HO0001"):  # the manager, the branch, head office
        node = backend.gql(query, {"id": transaction_id}, staff=staff)["node"]
        assert node == {"__typename": "Transaction", "id": transaction_id, "externalRef": "NODE-1"}
    # Another branch's manager, and a manager of the same branch who does not serve the customer.
    for staff in ("SH01RM01", "RM0001"):
        assert backend.gql(query, {"id": transaction_id}, staff=staff)["node"] is None
    missing = global_id("Transaction", 987654321)
    assert backend.gql(query, {"id": missing}, staff="HO0001")["node"] is None


def test_node_returns_a_notification_to_its_recipient_only(backend: Backend) -> None:
    customer = _managed_customer(backend)
    watched = backend.gql(
        "mutation($input: WatchCustomerInput!) { watchCustomer(input: $input) { errors { code } } }",
        {"input": {"customerId": customer["id"], "reason": "node lookup"}},
        staff="RISK0001",
    )
    assert watched["watchCustomer"]["errors"] == []
    backend.gql(SNAPSHOT, _snapshot(customer["id"], "2026-01-31"), staff="SUP0001")
    [notification_id] = [
        e["node"]["id"]
        for e in backend.gql(NOTIFICATIONS, staff="RISK0001")["notifications"]["edges"]
        if e["node"]["customer"]["id"] == customer["id"]
    ]
    query = """query($id: ID!) { node(id: $id) { __typename id
      ... on Notification { informationKind customer { id } } } }"""
    assert backend.gql(query, {"id": notification_id}, staff="RISK0001")["node"] == {
        "__typename": "Notification",
        "id": notification_id,
        "informationKind": "FINANCIAL",
        "customer": {"id": customer["id"]},
    }
    # BJ01RM01 was notified of the same change (a notification of their own); the supervisor
    # and head office see the customer: none of them sees the watcher's notification.
    for staff in ("BJ01RM01", "SUP0001", "HO0001"):
        assert backend.gql(query, {"id": notification_id}, staff=staff)["node"] is None


def test_notifications_and_the_due_list_filter_through_where(backend: Backend) -> None:
    """``where`` replaces the old ``unreadOnly`` and ``informationKind`` arguments: read and
    unread notifications split the whole list; the due list narrows by kinds and customer."""
    counts = {
        read: backend.gql(
            "query($read: Boolean!) { notifications(where: {read: {eq: $read}}) { totalCount } }",
            {"read": read},
            staff="RISK0001",
        )["notifications"]["totalCount"]
        for read in (True, False)
    }
    everything = backend.gql("{ notifications { totalCount } }", staff="RISK0001")
    assert counts[True] + counts[False] == everything["notifications"]["totalCount"]

    customer = create_customer(backend, branch=branch_id(backend, "SUP0001"))
    due = backend.gql(
        """query($id: ID!, $asOf: Date!) { customersDueForReverification(asOf: $asOf,
             where: {customer: {eq: $id}, informationKind: {in: [FINANCIAL, BASIC]}}) {
             edges { node { informationKind customer { id } } } } }""",
        {"id": customer["id"], "asOf": (clock.today() + timedelta(days=3650)).isoformat()},
    )["customersDueForReverification"]["edges"]
    assert {e["node"]["customer"]["id"] for e in due} == {customer["id"]}
    assert {e["node"]["informationKind"] for e in due} == {"FINANCIAL", "BASIC"}
