"""Access to personal data over the API (SHARE-1, PLAT-3): rows, fields, purpose."""

from __future__ import annotations

import logging
import re
from decimal import Decimal
from typing import Any

import pytest

from authz import masking
from authz.fields import PERSONAL_FIELDS, Effect
from authz.policy import CASBIN_LOGGERS, AccessPolicy
from tests.conftest import (
    POLICY_RULE,
    Backend,
    branch_id,
    create_customer,
    new_id_number,
    policy_rule,
)

CUSTOMER_FIELDS = list(PERSONAL_FIELDS["Customer"].values())
ONE = "query($id: ID!) { customer(id: $id) { id " + " ".join(CUSTOMER_FIELDS) + " } }"
PURPOSE = {
    "RELATIONSHIP_MANAGER": "RELATIONSHIP_MANAGEMENT",
    "BRANCH_SUPERVISOR": "CUSTOMER_SERVICE",
    "COMPLAINT_HANDLER": "COMPLAINT_HANDLING",
    "RISK_OFFICER": "RISK_CONTROL",
    "HEAD_OFFICE": "CUSTOMER_SERVICE",
    "AUDITOR": "AUDIT",
    "MARKETING_ANALYST": "CUSTOMER_SERVICE",
    "SECURITY_ADMIN": "CUSTOMER_SERVICE",
    "PROCESS_OWNER": "CUSTOMER_SERVICE",
}
STAFF = {
    "RELATIONSHIP_MANAGER": "RM0001",
    "BRANCH_SUPERVISOR": "SUP0001",
    "COMPLAINT_HANDLER": "CH0001",
    "RISK_OFFICER": "RISK0001",
    "HEAD_OFFICE": "HO0001",
    "AUDITOR": "AUD0001",
    "MARKETING_ANALYST": "MKT0001",
    "SECURITY_ADMIN": "SEC0001",
    "PROCESS_OWNER": "PO0001",
}
# Which rows each role sees of (RM0001's customer in BJ01, a customer of another branch).
VISIBLE = {
    "RELATIONSHIP_MANAGER": (True, False),
    "BRANCH_SUPERVISOR": (True, False),
    "COMPLAINT_HANDLER": (False, False),
    "RISK_OFFICER": (True, True),
    "HEAD_OFFICE": (True, True),
    "AUDITOR": (True, True),
    "MARKETING_ANALYST": (False, False),
    "SECURITY_ADMIN": (False, False),
    "PROCESS_OWNER": (False, False),
}


@pytest.fixture(scope="module")
def customers(backend: Backend) -> dict[str, dict[str, Any]]:
    """RM0001's own customer in BJ01 and a customer of the Shanghai branch."""
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    details = {
        "email": "own@example.com",
        "address": "北京市朝阳区建国路88号",
        "occupation": "教师",
        "employer": "北京某中学",
    }
    own = create_customer(
        backend,
        relationshipManager=manager,
        branch=branch_id(backend, "SUP0001"),
        phone="13811112222",
        **details,
    )
    other = create_customer(
        backend, branch=branch_id(backend, "SH01SUP01"), phone="13911112222", **details
    )
    for customer in (own, other):
        _add_information(backend, customer["id"])
    return {"own": own, "other": other}


def _add_survey(backend: Backend, customer_id: str, contact_id: str) -> None:
    """A satisfaction survey after the contact, answered with free text (REL-5)."""
    request = backend.gql(
        """mutation($input: RequestSurveyInput!) {
             requestSurvey(input: $input) { request { id } errors { code } } }""",
        {"input": {"customerId": customer_id, "occasion": "CONTACT", "occasionId": contact_id}},
    )["requestSurvey"]["request"]["id"]
    answers = [
        {"question": "satisfaction", "scale": 4},
        {"question": "recommend", "yesNo": True},
        {"question": "comment", "text": "希望增加周末营业时间"},
    ]
    response = backend.gql(
        """mutation($input: RecordSurveyResponseInput!) {
             recordSurveyResponse(input: $input) { errors { code } } }""",
        {"input": {"requestId": request, "answers": answers}},
    )["recordSurveyResponse"]
    assert response["errors"] == []


def _add_information(backend: Backend, customer_id: str) -> None:
    """A snapshot, an account with transactions, a risk assessment, a complaint, preferences,
    a contact."""
    source = {"kind": "BUSINESS_TRANSACTION", "detail": "test data"}
    contact = backend.gql(
        """mutation($input: LogContactInput!) {
             logContact(input: $input) { contact { id } errors { code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "channel": "VISIT",
                "purpose": "CONSULTATION",
                "contactedAt": "2026-11-02T10:00:00+08:00",
                "summary": "客户咨询存款利率",
                "outcome": "已解答",
                "nextStep": "月底回访",
            }
        },
    )["logContact"]
    assert contact["errors"] == []
    _add_survey(backend, customer_id, contact["contact"]["id"])
    backend.gql(
        """mutation($input: RecordFinancialSnapshotInput!) {
             recordFinancialSnapshot(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "asOf": "2026-10-31",
                "annualIncome": "360000",
                "totalAssets": "2500000",
                "totalLiabilities": "400000",
                "assetsUnderManagement": "750000",
                "source": source,
            }
        },
    )
    account = f"6225{customer_id[-10:]}"
    backend.gql(
        """mutation($input: ImportTransactionsInput!) {
             importTransactions(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "accounts": [
                    {
                        "accountNo": account,
                        "kind": "DEMAND_DEPOSIT",
                        "openedOn": "2020-01-01",
                        "balance": "88000",
                    }
                ],
                "transactions": [
                    {
                        "accountNo": account,
                        "externalRef": "A1",
                        "occurredAt": "2026-11-20T08:00:00Z",
                        "amount": "1500",
                        "type": "DEPOSIT",
                        "channel": "MOBILE_APP",
                    }
                ],
                "source": source,
            }
        },
    )
    backend.gql(
        """mutation($input: RecordRiskAssessmentInput!) {
             recordRiskAssessment(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "riskTolerance": "C3_BALANCED",
                "creditStatus": "NORMAL",
                "creditScore": 720,
                "questionnaireScore": 55,
                "source": source,
            }
        },
    )
    complaint = backend.gql(
        """mutation($input: SubmitComplaintInput!) {
             submitComplaint(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "channel": "HOTLINE",
                "category": "FEES_AND_CHARGES",
                "description": "账户管理费扣收未提前告知",
                "requestedRemedy": "退还管理费",
                "amountInDispute": "120.00",
                "idempotencyKey": f"access-{customer_id}",
            }
        },
    )
    assert complaint["submitComplaint"]["errors"] == []
    backend.gql(
        """mutation($input: RecordPreferencesInput!) {
             recordPreferences(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "products": ["基金"],
                "serviceChannels": ["手机银行"],
                "contactMethod": "WECHAT",
                "contactTime": "WEEKEND",
                "marketingOptIn": True,
                "source": source,
            }
        },
    )


def _read(backend: Backend, role: str, customer_id: str) -> dict[str, Any]:
    return backend.post(ONE, {"id": customer_id}, staff=STAFF[role], purpose=PURPOSE[role]).json()


EVERYTHING = """
query($id: ID!) {
  customer(id: $id) {
    id name gender birthDate age idNumber occupation employer phone email address
    latestFinancialSnapshot { annualIncome totalAssets totalLiabilities assetsUnderManagement netWorth }
    accounts { accountNo balance }
    transactionSummary(days: 3650) { inflow outflow }
    riskProfile { riskTolerance questionnaireScore creditScore creditStatus }
    preferences { products serviceChannels contactMethod contactTime marketingOptIn }
    segment { tier score privateBanking inputs { name value weight points } needs { need derived }
              riskGrade riskSignals { name value threshold grade } riskRuleSet { version } }
    contacts(first: 1) { edges { node { summary outcome nextStep } } }
  }
  surveyResponses(customerId: $id, first: 1) { edges { node { answers { text } } } }
  transactions(customerId: $id, first: 5) { edges { node { amount } } }
  complaints(first: 1, where: { customer: { eq: $id } }) {
    edges { node { description requestedRemedy amountInDispute } }
  }
}
"""
# Where each personal type sits in the answer of EVERYTHING.
PLACES = {
    "Customer": lambda d: d["customer"],
    "FinancialSnapshot": lambda d: d["customer"]["latestFinancialSnapshot"],
    "Account": lambda d: d["customer"]["accounts"][0],
    "TransactionSummary": lambda d: d["customer"]["transactionSummary"],
    "RiskAssessment": lambda d: d["customer"]["riskProfile"],
    "Preferences": lambda d: d["customer"]["preferences"],
    "CustomerSegment": lambda d: d["customer"]["segment"],
    "Contact": lambda d: d["customer"]["contacts"]["edges"][0]["node"],
    "SurveyAnswer": lambda d: d["surveyResponses"]["edges"][0]["node"]["answers"][-1],
    "Transaction": lambda d: d["transactions"]["edges"][0]["node"],
    "Complaint": lambda d: d["complaints"]["edges"][0]["node"],
}


@pytest.mark.parametrize("role", sorted(STAFF))
def test_every_role_sees_every_personal_field_as_the_policy_says(
    backend: Backend, customers: dict[str, dict[str, Any]], role: str
) -> None:
    """Role × every personal-data field of every type × (own customer, other branch's)."""
    policy = AccessPolicy()
    decisions = policy.decisions([role])
    for which, expected_visible in zip(("own", "other"), VISIBLE[role], strict=True):
        variables = {"id": customers[which]["id"]}
        full = backend.gql(EVERYTHING, variables, staff="HO0001")
        body = backend.post(EVERYTHING, variables, staff=STAFF[role], purpose=PURPOSE[role]).json()
        codes = {e["extensions"]["code"] for e in body.get("errors", [])}
        if not decisions.row_scopes:
            assert body["data"] is None and "FORBIDDEN" in codes
            continue
        if not expected_visible:
            assert body["data"] is None or body["data"]["customer"] is None
            assert "NOT_FOUND" in codes
            continue
        forbidden = {
            (e["extensions"]["type"], e["extensions"]["field"])
            for e in body.get("errors", [])
            if e["extensions"]["code"] == "FIELD_FORBIDDEN"
        }
        assert codes <= {"FIELD_FORBIDDEN"}, body["errors"]
        for type_name, fields in PERSONAL_FIELDS.items():
            seen, truth = PLACES[type_name](body["data"]), PLACES[type_name](full)
            for field in fields.values():
                effect = decisions.fields[type_name][field]
                where = (role, which, type_name, field)
                if effect is Effect.DENIED:
                    assert seen[field] is None and (type_name, field) in forbidden, where
                elif effect is Effect.MASKED:
                    value = truth[field]
                    if type_name in {"Customer", "Account"} and field != "balance":
                        assert seen[field] == masking.mask(f"{type_name}.{field}", value), where
                    else:
                        assert seen[field] == masking.amount(Decimal(value)), where
                else:
                    assert seen[field] == truth[field], where
                    assert (type_name, field) not in forbidden, where


def test_lists_apply_the_same_row_scope_as_lookups(
    backend: Backend, customers: dict[str, dict[str, Any]]
) -> None:
    page = backend.gql(
        "{ customers(first: 100) { totalCount edges { node { id relationshipManager { employeeNo } } } } }",
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )["customers"]
    managers = {e["node"]["relationshipManager"]["employeeNo"] for e in page["edges"]}
    assert managers == {"RM0001"}
    ids = {e["node"]["id"] for e in page["edges"]}
    assert customers["own"]["id"] in ids and customers["other"]["id"] not in ids
    branch = backend.gql(
        "{ customers(first: 100) { edges { node { branch { code } } } } }",
        staff="SUP0001",
        purpose="CUSTOMER_SERVICE",
    )["customers"]["edges"]
    assert {e["node"]["branch"]["code"] for e in branch} == {"BJ01"}


def test_masked_id_number_follows_the_masking_table(
    backend: Backend, customers: dict[str, dict[str, Any]]
) -> None:
    body = _read(backend, "RELATIONSHIP_MANAGER", customers["own"]["id"])
    number = customers["own"]["idNumber"]
    assert body["data"]["customer"]["idNumber"] == number[:3] + "*" * 11 + number[-4:]
    assert body["data"]["customer"]["phone"] == "13811112222"
    auditor = _read(backend, "AUDITOR", customers["own"]["id"])["data"]["customer"]
    assert auditor["phone"] == "138****2222"
    assert auditor["address"] == "北京市朝阳区****"
    assert auditor["email"] == "o***@example.com"
    assert re.fullmatch(r".\*+", auditor["name"])


def test_one_forbidden_error_per_field_path_not_per_row(backend: Backend) -> None:
    body = backend.post(
        "{ customers(first: 30) { edges { node { name preferences { products } } } } }",
        staff="RISK0001",
        purpose="RISK_CONTROL",
    ).json()
    errors = [e for e in body["errors"] if e["extensions"]["code"] == "FIELD_FORBIDDEN"]
    assert [e["path"] for e in errors] == [
        ["customers", "edges", "node", "preferences", "products"]
    ]
    nodes = [e["node"] for e in body["data"]["customers"]["edges"]]
    assert len(nodes) == 30
    assert all(n["preferences"] is None or n["preferences"]["products"] is None for n in nodes)
    assert all(n["name"] for n in nodes)


def test_without_an_allowed_purpose_full_fields_are_masked(
    backend: Backend, customers: dict[str, dict[str, Any]]
) -> None:
    for purpose in (None, "RISK_CONTROL"):
        body = backend.post(
            ONE, {"id": customers["own"]["id"]}, staff="RM0001", purpose=purpose
        ).json()
        node = body["data"]["customer"]
        assert node["phone"] == "138****2222"
        assert body["extensions"]["access"]["downgraded"] is True
    allowed = backend.post(
        ONE, {"id": customers["own"]["id"]}, staff="RM0001", purpose="relationship_management"
    ).json()
    assert allowed["data"]["customer"]["phone"] == "13811112222"
    assert "access" not in (allowed.get("extensions") or {})


def _access_extension(body: dict[str, Any]) -> Any:
    return (body.get("extensions") or {}).get("access")


def test_downgraded_is_reported_only_where_a_full_field_was_masked(
    backend: Backend, customers: dict[str, dict[str, Any]]
) -> None:
    """``extensions.access.downgraded`` used to come with every answer to a caller without an
    allowed purpose, even `me` or an admin mutation, which reveal no personal data."""
    for purpose in (None, "RISK_CONTROL"):
        me = backend.post("{ me { employeeNo name roles } }", staff="RM0001", purpose=purpose)
        assert me.json()["data"]["me"]["employeeNo"] == "RM0001"
        assert _access_extension(me.json()) is None
    # An admin mutation (a security admin declares no purpose).
    rule = {"role": "AUDITOR", "object": "purpose:RISK_CONTROL", "action": "declare"}
    for mutation in ("addPolicyRule", "removePolicyRule"):
        body = backend.post(
            POLICY_RULE % mutation,
            {"input": {**rule, "effect": "deny"}},
            staff="SEC0001",
            purpose=None,
        ).json()
        assert body["data"][mutation]["errors"] == [], body
        assert _access_extension(body) is None
    # A customer read selecting no personal field masks nothing either.
    plain = backend.post(
        "query($id: ID!) { customer(id: $id) { id version branch { code } } }",
        {"id": customers["own"]["id"]},
        staff="RM0001",
        purpose=None,
    ).json()
    assert plain["data"]["customer"]["branch"]["code"] == "BJ01"
    assert _access_extension(plain) is None
    # The same read with the phone (FULL for the manager's purpose) is downgraded: it says so.
    body = backend.post(
        "query($id: ID!) { customer(id: $id) { id phone } }",
        {"id": customers["own"]["id"]},
        staff="RM0001",
        purpose=None,
    ).json()
    assert body["data"]["customer"]["phone"] == "138****2222"
    access = _access_extension(body)
    assert access["downgraded"] is True
    assert "masked" in access["reason"]
    # The ID number, which the policy masks for a manager whatever the purpose, is not
    # downgraded: an answer with only it does not say so.
    masked = backend.post(
        "query($id: ID!) { customer(id: $id) { idNumber } }",
        {"id": customers["own"]["id"]},
        staff="RM0001",
        purpose=None,
    ).json()
    assert "*" in masked["data"]["customer"]["idNumber"]
    assert _access_extension(masked) is None


def test_filtering_or_ordering_on_a_field_not_readable_in_full_is_forbidden(
    backend: Backend, customers: dict[str, dict[str, Any]]
) -> None:
    number = customers["own"]["idNumber"]
    search = (
        "query($n: String!) { customers(where: {idNumber: {eq: $n}}) { edges { node { id } } } }"
    )
    refused = backend.post(search, {"n": number}, staff="RM0001", purpose="CUSTOMER_SERVICE")
    assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "idNumber" in refused.json()["errors"][0]["message"]
    found = backend.gql(search, {"n": number}, staff="SUP0001")["customers"]["edges"]
    assert [e["node"]["id"] for e in found] == [customers["own"]["id"]]
    ordered = backend.post(
        "{ customers(first: 5, orderBy: [{field: NAME}]) { edges { node { id } } } }",
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    assert ordered["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_changes_need_the_row_too(backend: Backend, customers: dict[str, dict[str, Any]]) -> None:
    body = backend.post(
        """mutation($id: ID!) { recordVerification(input: {customerId: $id,
             informationKind: BASIC, result: CONFIRMED}) { errors { code } } }""",
        {"id": customers["other"]["id"]},
        staff="RM0001",
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_a_manager_registers_their_own_customers(backend: Backend) -> None:
    created = create_customer(backend, staff="RM0001", idNumber=new_id_number())
    seen = backend.gql(
        "query($id: ID!) { customer(id: $id) { relationshipManager { employeeNo } } }",
        {"id": created["id"]},
        staff="RM0001",
    )
    assert seen["customer"]["relationshipManager"] == {"employeeNo": "RM0001"}


def test_marketing_analysts_see_aggregates_only(backend: Backend) -> None:
    body = backend.post("{ customers(first: 5) { totalCount } }", staff="MKT0001").json()
    assert body["data"] is None
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_history_values_are_protected_like_the_live_ones(backend: Backend) -> None:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    new_number = new_id_number()
    backend.gql(
        """mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { errors { code } } }""",
        {
            "input": {
                "id": customer["id"],
                "expectedVersion": 1,
                "changes": {"idNumber": new_number},
                "source": {"kind": "PROACTIVE_CONTACT", "detail": "ID card renewed"},
            }
        },
    )
    history = backend.gql(
        "query($id: ID!) { customerHistory(customerId: $id) { edges { node { field oldValue newValue } } } }",
        {"id": customer["id"]},
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )["customerHistory"]["edges"]
    change = next(e["node"] for e in history if e["node"]["field"] == "idNumber")
    assert change["newValue"] == new_number[:3] + "*" * 11 + new_number[-4:]
    assert change["oldValue"] == customer["idNumber"][:3] + "*" * 11 + customer["idNumber"][-4:]
    # Without an allowed purpose, history values the manager may see in full are downgraded
    # (the email) and the answer says so, though no Customer field is selected.
    body = backend.post(
        "query($id: ID!) { customerHistory(customerId: $id) { edges { node { field newValue } } } }",
        {"id": customer["id"]},
        staff="RM0001",
        purpose=None,
    ).json()
    assert body["data"]["customerHistory"]["edges"]
    assert _access_extension(body)["downgraded"] is True


EXPLAIN = """
query($type: String!, $field: String!, $staff: String, $customer: ID) {
  explainAccess(type: $type, field: $field, employeeNo: $staff, customerId: $customer) {
    staff { employeeNo } effect rule rowVisible rowReason
  }
}
"""


def test_explain_access_names_the_deciding_rule_PLAT_3(
    backend: Backend, customers: dict[str, dict[str, Any]]
) -> None:
    mine = backend.gql(EXPLAIN, {"type": "Customer", "field": "idNumber"}, staff="RM0001")[
        "explainAccess"
    ]
    assert mine["effect"] == "MASKED"
    assert "p, RELATIONSHIP_MANAGER, Customer.idNumber, masked, allow" in mine["rule"]
    asked = backend.gql(
        EXPLAIN,
        {
            "type": "Customer",
            "field": "phone",
            "staff": "RM0001",
            "customer": customers["other"]["id"],
        },
        staff="SEC0001",
    )["explainAccess"]
    assert asked["staff"] == {"employeeNo": "RM0001"}
    assert asked["effect"] == "DENIED" and asked["rowVisible"] is False
    assert "outside" in asked["rowReason"]
    refused = backend.post(
        EXPLAIN, {"type": "Customer", "field": "phone", "staff": "HO0001"}, staff="RM0001"
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_casbin_logs_nothing_above_debug_on_reload_or_refusal(
    backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    """pycasbin logged the whole policy at INFO on every reload and a WARNING per refused
    enforce; Kehu's own policy log lines (``kehu.policy``) stay."""
    # At `kehu serve`, uvicorn's logging dictConfig (disable_existing_loggers=False) enables
    # every existing logger again, whatever pycasbin's enable_log=False had disabled.
    for name in CASBIN_LOGGERS:
        logging.getLogger(name).disabled = False
    rule = {"role": "AUDITOR", "object": "purpose:RISK_CONTROL", "action": "declare"}
    # A new version (a reload); decisions of the new version are computed: most enforce calls
    # are refusals.
    with caplog.at_level(logging.DEBUG), policy_rule(backend, {**rule, "effect": "deny"}):
        backend.client.app.state.policy_watcher.check()  # type: ignore[attr-defined]
        refused = backend.post("{ customers { totalCount } }", staff="MKT0001")
        assert refused.json()["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        create = backend.post(
            'mutation { createCustomer(input: {name: "x"}) { customer { id } } }',
            staff="AUD0001",
            purpose="AUDIT",
        )
        assert create.json()["errors"]
    loud = [
        f"{r.name} {r.levelname} {r.getMessage()[:80]}"
        for r in caplog.records
        if r.name.startswith("casbin") and r.levelno > logging.DEBUG
    ]
    assert loud == []
    applied = [r.getMessage() for r in caplog.records if r.name == "kehu.policy"]
    assert any("access policy version" in m and "applied" in m for m in applied), applied


STAFF_FIELDS = """
query($customer: ID!, $complaint: ID!) {
  customer(id: $customer) { id name relationshipManager { employeeNo name } }
  customerHistory(customerId: $customer, first: 50) {
    edges { node { field changedBy { employeeNo name roles branch { code } } } }
  }
  complaint(id: $complaint) {
    id
    handler { employeeNo name }
    complainedStaff { employeeNo name }
    currentTasks { elementId assignee { employeeNo name } }
    timeline { kind actor }
  }
}
"""
VERIFIED_BY = """
query($id: ID!) { customer(id: $id) { id verifications { verifiedAt verifiedBy { name } } } }
"""


def _third_party_with_consent(backend: Backend, customer_id: str) -> dict[str, Any]:
    """A registered third party whose principal may read ``customer_id`` (identity, contact and
    complaints, for customer service)."""
    party = backend.gql(
        """mutation($input: RegisterThirdPartyInput!) {
             registerThirdParty(input: $input) { thirdParty { id principal } errors { code } } }""",
        {
            "input": {
                "name": "合作保险公司 staff-leak",
                "agreementReference": "保密协议 NDA-2026-010",
                "agreementSignedOn": "2026-01-01",
                "agreementExpiresOn": "2030-12-31",
            }
        },
        staff="SEC0001",
    )["registerThirdParty"]
    assert party["errors"] == []
    consent = backend.gql(
        """mutation($input: RecordConsentInput!) {
             recordConsent(input: $input) { consent { id } errors { field code } } }""",
        {
            "input": {
                "customerId": customer_id,
                "thirdParty": party["thirdParty"]["id"],
                "purpose": "CUSTOMER_SERVICE",
                "dataCategories": ["identity", "contact", "complaints"],
                "validUntil": "2030-06-30T00:00:00+08:00",
                "evidence": "signed consent form 2026-131, scanned",
                "processingMethods": ["STORAGE", "USE"],
                "recipientContact": {"name": "数据保护办公室", "email": "dpo@partner.example.com"},
            }
        },
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )["recordConsent"]
    assert consent["errors"] == []
    return dict(party["thirdParty"])


def test_a_third_party_sees_no_other_staff_member_through_nested_fields(
    backend: Backend,
) -> None:
    """Complaint.handler, Complaint.complainedStaff, Task.assignee, Customer.relationshipManager,
    CustomerChange.changedBy, Verification.verifiedBy (and the employee number of who took each
    step of a complaint's timeline) named the bank's staff to a third party;
    it sees only itself (nullable fields: null + FIELD_FORBIDDEN; verifiedBy, non-null: refused
    with FIELD_FORBIDDEN)."""
    from tests.complaint_steps import assign, submit

    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    backend.gql(
        """mutation($id: ID!) { recordVerification(input: {customerId: $id,
             informationKind: BASIC, result: CONFIRMED}) { errors { code } } }""",
        {"id": customer["id"]},
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )
    updated = backend.gql(
        """mutation($input: UpdateCustomerInput!) {
             updateCustomer(input: $input) { errors { code } } }""",
        {
            "input": {
                "id": customer["id"],
                "expectedVersion": 1,
                "changes": {"email": "moved@example.com"},
                "source": {"kind": "PROACTIVE_CONTACT", "detail": "new address"},
            }
        },
        staff="RM0001",
        purpose="RELATIONSHIP_MANAGEMENT",
    )
    assert updated["updateCustomer"]["errors"] == []
    complaint = submit(backend, customer)  # about BJ01RM02
    assign(backend, complaint)  # SH01CH01 handles it and holds its next task
    party = _third_party_with_consent(backend, customer["id"])
    variables = {"customer": customer["id"], "complaint": complaint["id"]}

    # The bank's staff see every one of them (so each field below has someone to withhold).
    seen = backend.gql(STAFF_FIELDS, variables, staff="HO0001")
    assert seen["customer"]["relationshipManager"]["employeeNo"] == "RM0001"
    changes = [e["node"] for e in seen["customerHistory"]["edges"]]
    assert changes and all(c["changedBy"] for c in changes)
    assert seen["complaint"]["handler"]["employeeNo"] == "SH01CH01"
    assert seen["complaint"]["complainedStaff"]["employeeNo"] == "BJ01RM02"
    assert any(step["actor"] for step in seen["complaint"]["timeline"])
    assigned = [t for t in seen["complaint"]["currentTasks"] if t["assignee"]]
    assert assigned, seen["complaint"]["currentTasks"]
    verified = backend.gql(VERIFIED_BY, {"id": customer["id"]}, staff="HO0001")["customer"]
    assert verified["verifications"][0]["verifiedBy"]["name"]

    body = backend.post(STAFF_FIELDS, variables, staff=party["principal"]).json()
    data = body["data"]
    assert data["customer"]["name"]  # consented: the customer is there, its manager is not
    assert data["customer"]["relationshipManager"] is None
    history = [e["node"] for e in data["customerHistory"]["edges"]]
    assert history and all(c["changedBy"] is None for c in history)
    assert data["complaint"]["id"] == complaint["id"]
    assert data["complaint"]["handler"] is None
    assert data["complaint"]["complainedStaff"] is None
    tasks = data["complaint"]["currentTasks"]
    assert tasks and all(t["assignee"] is None for t in tasks)
    # The timeline (consented: the complaints group) without who took each step.
    steps = data["complaint"]["timeline"]
    assert [s["kind"] for s in steps] == [s["kind"] for s in seen["complaint"]["timeline"]]
    assert all(step["actor"] is None for step in steps)
    forbidden = {
        (e["extensions"]["type"], e["extensions"]["field"], tuple(e["path"]))
        for e in body["errors"]
        if e["extensions"]["code"] == "FIELD_FORBIDDEN"
    }
    assert forbidden == {
        ("Customer", "relationshipManager", ("customer", "relationshipManager")),
        (
            "CustomerChange",
            "changedBy",
            ("customerHistory", "edges", "node", "changedBy"),
        ),
        ("Complaint", "handler", ("complaint", "handler")),
        ("Complaint", "complainedStaff", ("complaint", "complainedStaff")),
        ("Task", "assignee", ("complaint", "currentTasks", "assignee")),
        ("ComplaintEventNode", "actor", ("complaint", "timeline", "actor")),
    }
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FIELD_FORBIDDEN"}
    text = str(body)
    for employee_no in ("RM0001", "SH01CH01", "BJ01RM02", "HO0001"):
        assert employee_no not in text

    # Verification.verifiedBy is non-null: refused, so GraphQL nulls the customer; the rest of
    # a verification is still there without it.
    refused = backend.post(VERIFIED_BY, {"id": customer["id"]}, staff=party["principal"]).json()
    assert refused["data"]["customer"] is None
    [error] = refused["errors"]
    assert error["extensions"] == {
        "code": "FIELD_FORBIDDEN",
        "type": "Verification",
        "field": "verifiedBy",
    }
    assert error["path"] == ["customer", "verifications", 0, "verifiedBy"]
    assert "RM0001" not in str(refused)
    without = backend.post(
        "query($id: ID!) { customer(id: $id) { verifications { verifiedAt } } }",
        {"id": customer["id"]},
        staff=party["principal"],
    ).json()
    assert "errors" not in without
    assert without["data"]["customer"]["verifications"][0]["verifiedAt"]

    # Itself it still sees.
    me = backend.gql("{ me { employeeNo } }", staff=party["principal"])["me"]
    assert me["employeeNo"] == party["principal"]
