"""Sealed customer columns are decrypted only when served (REL-2 speed, INFO-7, SHARE-1/4).

Lists read a customer's ID number, phone, e-mail and address sealed and open a value only when
the answer selects its field and the policy reveals it. Counted by the cipher itself
(``FieldCipher.opened``, the real decryption path), on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from store import crypto
from tests.conftest import Backend, branch_id, create_customer, policy_rule

SEALED = ("customers.id_number", "customers.phone", "customers.email", "customers.address")
WORKLIST = """query($first: Int) { contactWorklist(first: $first) {
  edges { node { status dueBy customer { id %s } } } } }"""
CUSTOMERS = "query($n: Int) { customers(first: $n) { edges { node { id %s } } } }"
AUDIT = """query($customer: ID!) { auditLog(where: {customer: {eq: $customer}, action: {eq: READ}},
  first: 50) { edges { node { actor operation fields { field effect } } } } }"""


def _opened(backend: Backend, query: str, variables: dict[str, Any], **kwargs: Any) -> Any:
    """(answer data, how many values of each sealed customer column the request opened)."""
    before = Counter(crypto.cipher().opened)
    response = backend.post(query, variables, **kwargs).json()
    after = crypto.cipher().opened
    return response, {column: after[column] - before[column] for column in SEALED}


# A manager no other test gives customers to: their worklist is this file's customers (and
# at most the few seeded ones), well inside one page.
MANAGER = "CD01RM04"


def _manager_customers(backend: Backend, count: int) -> list[dict[str, Any]]:
    """Fresh customers of MANAGER with every sealed field set (due: never contacted)."""
    manager = backend.gql("{ me { id } }", staff=MANAGER)["me"]["id"]
    return [
        create_customer(
            backend,
            relationshipManager=manager,
            branch=branch_id(backend, MANAGER),
            phone=f"1390000{n:04d}",
            email=f"sealed{n}@example.cn",
            address="北京市东城区东华门街道1号",
        )
        for n in range(count)
    ]


def test_REL_2_the_worklist_decrypts_no_customer_column_it_does_not_serve(
    backend: Backend,
) -> None:
    """REL-2: a worklist page showing each customer's name opens no sealed column; one showing
    the (masked) ID number opens exactly one ID number per item and nothing else."""
    _manager_customers(backend, 3)
    plain, opened = _opened(
        backend, WORKLIST % "name", {"first": 100}, staff=MANAGER, purpose="RELATIONSHIP_MANAGEMENT"
    )
    items = plain["data"]["contactWorklist"]["edges"]
    assert len(items) >= 3
    assert opened == dict.fromkeys(SEALED, 0)
    masked, opened = _opened(
        backend,
        WORKLIST % "idNumber",
        {"first": 100},
        staff=MANAGER,
        purpose="RELATIONSHIP_MANAGEMENT",
    )
    items = masked["data"]["contactWorklist"]["edges"]
    assert all("*" in e["node"]["customer"]["idNumber"] for e in items)  # MASKED for a manager
    assert opened == {**dict.fromkeys(SEALED, 0), "customers.id_number": len(items)}


def test_INFO_7_a_customer_list_opens_only_the_selected_sealed_fields(backend: Backend) -> None:
    """INFO-7: ``customers`` opens one value per served, non-null selected sealed field."""
    _manager_customers(backend, 2)
    answer, opened = _opened(backend, CUSTOMERS % "name birthDate", {"n": 30})
    assert len(answer["data"]["customers"]["edges"]) == 30
    assert opened == dict.fromkeys(SEALED, 0)
    answer, opened = _opened(backend, CUSTOMERS % "email phone", {"n": 30})
    nodes = [e["node"] for e in answer["data"]["customers"]["edges"]]
    assert opened == {
        **dict.fromkeys(SEALED, 0),
        "customers.email": sum(n["email"] is not None for n in nodes),
        "customers.phone": sum(n["phone"] is not None for n in nodes),
    }
    assert opened["customers.phone"] > 0


def test_SHARE_1_a_withheld_sealed_field_is_reported_and_never_decrypted(
    backend: Backend,
) -> None:
    """SHARE-1: a phone the live policy denies is null with FIELD_FORBIDDEN, and not one phone
    is decrypted to be thrown away; the ID number beside it is still masked (opened)."""
    mine = _manager_customers(backend, 1)[0]
    query = """query($id: ID!) { customer(id: $id) { id phone idNumber } }"""
    rules = [
        {"role": "RELATIONSHIP_MANAGER", "object": "Customer.phone", "action": a, "effect": "deny"}
        for a in ("full", "masked")
    ]
    with policy_rule(backend, rules[0]), policy_rule(backend, rules[1]):
        backend.client.app.state.policy_watcher.check()  # type: ignore[attr-defined]
        answer, opened = _opened(backend, query, {"id": mine["id"]}, staff=MANAGER)
    assert answer["data"]["customer"]["phone"] is None
    assert "*" in answer["data"]["customer"]["idNumber"]
    codes = {(e["path"][-1], e["extensions"]["code"]) for e in answer["errors"]}
    assert codes == {("phone", "FIELD_FORBIDDEN")}
    assert opened == {**dict.fromkeys(SEALED, 0), "customers.id_number": 1}


def test_SHARE_4_a_worklist_read_is_audited_with_the_fields_it_served_only(
    backend: Backend,
) -> None:
    """SHARE-4: the READ entry of a worklist page showing names lists ``Customer.name`` and no
    sealed field (none was served, none was decrypted); a page serving no personal field of
    the customer writes no READ entry about them."""
    mine = _manager_customers(backend, 1)[0]
    first = {"first": 100}
    kwargs = {"staff": MANAGER, "purpose": "RELATIONSHIP_MANAGEMENT"}
    _, opened = _opened(backend, "query Ids" + WORKLIST[5:] % "", first, **kwargs)
    assert opened == dict.fromkeys(SEALED, 0)
    _, opened = _opened(backend, "query Names" + WORKLIST[5:] % "name", first, **kwargs)
    assert opened == dict.fromkeys(SEALED, 0)
    entries = backend.gql(AUDIT, {"customer": mine["id"]}, staff="AUD0001", purpose="AUDIT")
    reads = [e["node"] for e in entries["auditLog"]["edges"] if e["node"]["actor"] == MANAGER]
    assert [r["operation"] for r in reads] == ["Names"]
    assert {f["field"]: f["effect"] for f in reads[0]["fields"]} == {"Customer.name": "FULL"}


PREFERENCES = """mutation($input: RecordPreferencesInput!) {
  recordPreferences(input: $input) { errors { code } } }"""
SHOWN = """query Shown { contactWorklist(first: 100) {
  edges { node { tier preferredChannel preferredTime customer { id } } } } }"""


def test_REL_2_worklist_preferences_and_tier_follow_the_policy_decided_once_per_page(
    backend: Backend,
) -> None:
    """REL-2, SHARE-1, SHARE-4: with an allowed purpose a manager sees the tier and the
    preferences (audited as served); without one (FULL downgraded; preferences and segments
    have no masks) every item's are null with one FIELD_FORBIDDEN per path, and nothing is
    audited as read. (Guards the page-level decisions: the same answers as per-row ones.)"""
    mine = _manager_customers(backend, 2)
    values = {"contactMethod": "WECHAT", "contactTime": "WEEKEND", "marketingOptIn": False}
    source = {"kind": "PROACTIVE_CONTACT", "detail": "asked on the phone"}
    done = backend.gql(
        PREFERENCES, {"input": {"customerId": mine[0]["id"], **values, "source": source}}
    )
    assert done["recordPreferences"]["errors"] == []
    full = backend.post(SHOWN, staff=MANAGER, purpose="RELATIONSHIP_MANAGEMENT").json()
    assert "errors" not in full
    items = {
        e["node"]["customer"]["id"]: e["node"] for e in full["data"]["contactWorklist"]["edges"]
    }
    assert (items[mine[0]["id"]]["preferredChannel"], items[mine[0]["id"]]["preferredTime"]) == (
        "WECHAT",
        "WEEKEND",
    )
    assert (items[mine[1]["id"]]["preferredChannel"], items[mine[1]["id"]]["tier"]) == (None, "LOW")
    bare = backend.post(SHOWN, staff=MANAGER, purpose=None).json()
    nodes = [e["node"] for e in bare["data"]["contactWorklist"]["edges"]]
    assert {(n["tier"], n["preferredChannel"], n["preferredTime"]) for n in nodes} == {
        (None, None, None)
    }
    forbidden = sorted((tuple(e["path"]), e["extensions"]["code"]) for e in bare["errors"])
    assert forbidden == [
        (("contactWorklist", "edges", "node", field), "FIELD_FORBIDDEN")
        for field in ("preferredChannel", "preferredTime", "tier")
    ]
    entries = backend.gql(AUDIT, {"customer": mine[0]["id"]}, staff="AUD0001", purpose="AUDIT")
    reads = [e["node"] for e in entries["auditLog"]["edges"] if e["node"]["operation"] == "Shown"]
    assert [{f["field"]: f["effect"] for f in r["fields"]} for r in reads] == [
        {
            "ContactWorklistItem.preferredChannel": "FULL",
            "ContactWorklistItem.preferredTime": "FULL",
        }
    ]
