"""Customer segments over HTTP (SEG-1, SEG-4, SEG-6 basics), on SQLite and PostgreSQL.

The value model is data: the tests read the model in force through the API and hold the
service's answers to ``resolvers.segments.model`` (the model in Python), at the exact cut-off,
private-banking, lift and weight boundaries. Tests that change the model put the reviewed
file's model back as a new version when they end.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import clock
from kehu.worker import run_once
from resolvers.segments import model
from tests.conftest import SOURCE, Backend, create_customer

SEGMENT = """
query($id: ID!) { customer(id: $id) { segment {
  tier score privateBanking computedTier
  inputs { name value weight points }
  ruleSet { version } override { tier expiresAt } classifiedAt run
} segmentHistory { fromTier toTier reason run ruleSetVersion } } }
"""
SNAPSHOT = """
mutation($input: RecordFinancialSnapshotInput!) {
  recordFinancialSnapshot(input: $input) { financialSnapshot { asOf } errors { field code } }
}
"""
RULE_SET = """
{ valueRuleSet { version summary liftScore privateBankingAum
  factors { input weight fullScoreAt } cutOffs { tier fromAum belowAum } } }
"""
CHANGE = """
mutation($input: ChangeValueRuleSetInput!) {
  changeValueRuleSet(input: $input) { ruleSet { version } errors { field code message } }
}
"""
CLASSIFY = """
mutation($input: ClassifyCustomersInput) {
  classifyCustomers(input: $input) {
    run { id scope status progress { done total } ruleSetVersion customers changed }
    errors { field code }
  }
}
"""
RUN = """
query($id: ID!) { classificationRun(id: $id) {
  id scope status progress { done total } failure ruleSetVersion ruleSet { version }
  customers changed startedBy startedAt finishedAt } }
"""
OVERRIDE = """
mutation($input: OverrideSegmentInput!) {
  overrideSegment(input: $input) { segment { tier computedTier override { tier } }
                                   errors { field code message } }
}
"""
WITHDRAW = """
mutation($input: WithdrawSegmentOverrideInput!) {
  withdrawSegmentOverride(input: $input) { segment { tier override { tier } } errors { field code } }
}
"""
# Days back of each snapshot recorded: fewer every time, so a later snapshot of a customer is
# its newest (the value model reads the newest).
_snapshot_day = iter(range(9_999, 0, -1))


def _record_aum(backend: Backend, customer_id: str, aum: str, staff: str = "HO0001") -> None:
    day = clock.today() - timedelta(days=next(_snapshot_day))
    payload = backend.gql(
        SNAPSHOT,
        {
            "input": {
                "customerId": customer_id,
                "asOf": day.isoformat(),
                "annualIncome": "1",
                "totalAssets": aum,
                "totalLiabilities": "0",
                "assetsUnderManagement": aum,
                "source": SOURCE,
            }
        },
        staff=staff,
    )["recordFinancialSnapshot"]
    assert payload["errors"] == []


def _classify(backend: Backend, staff: str = "HO0001", branch: str | None = None) -> dict[str, Any]:
    """``classifyCustomers`` (answered at once, PENDING), then ``kehu worker --once``; the run
    as ``classificationRun`` reports it afterwards."""
    values = None if branch is None else {"branch": branch}
    started = backend.gql(CLASSIFY, {"input": values}, staff=staff)["classifyCustomers"]
    assert started["errors"] == [] and started["run"]["status"] == "PENDING", started
    assert run_once(backend.engine).classified == 1
    run = backend.gql(RUN, {"id": started["run"]["id"]}, staff=staff)["classificationRun"]
    assert run["status"] == "DONE", run
    return run  # type: ignore[no-any-return]


def _segment(backend: Backend, customer_id: str, staff: str = "HO0001") -> dict[str, Any]:
    return backend.gql(SEGMENT, {"id": customer_id}, staff=staff)["customer"]


def _rules(backend: Backend) -> model.RuleSet:
    found = backend.gql(RULE_SET)["valueRuleSet"]
    return model.check_rule_set(
        {
            "factors": [
                {"input": f["input"], "weight": f["weight"], "full_score_at": f["fullScoreAt"]}
                for f in found["factors"]
            ],
            "cut_offs": [
                {"tier": c["tier"], "from_aum": c["fromAum"], "below_aum": c["belowAum"]}
                for c in found["cutOffs"]
            ],
            "lift_score": found["liftScore"],
            "private_banking_aum": found["privateBankingAum"],
        },
        found["version"],
    )


def _file_model() -> dict[str, Any]:
    """The reviewed file's model as a ``changeValueRuleSet`` input (without version)."""
    raw = tomllib.loads(model.VALUE_MODEL_FILE.read_text(encoding="utf-8"))
    return {
        "factors": [
            {"input": f["input"], "weight": f["weight"], "fullScoreAt": f["full_score_at"]}
            for f in raw["factors"]
        ],
        "cutOffs": [
            {"tier": c["tier"], "fromAum": c["from_aum"], "belowAum": c.get("below_aum")}
            for c in raw["cut_offs"]
        ],
        "liftScore": raw["lift_score"],
        "privateBankingAum": raw["private_banking_aum"],
        "summary": "back to the reviewed file",
    }


def _change(backend: Backend, staff: str = "HO0001", **changes: Any) -> dict[str, Any]:
    version = backend.gql(RULE_SET, staff=staff)["valueRuleSet"]["version"]
    values = {**_file_model(), "expectedVersion": version, **changes}
    response = backend.post(CHANGE, {"input": values}, staff=staff)
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture
def restore_model(backend: Backend) -> Iterator[None]:
    yield
    body = _change(backend)
    assert body["data"]["changeValueRuleSet"]["errors"] == []


# -- SEG-1: the value model at its boundaries ----------------------------------------------------

# Exact boundaries of the default model (SPEC.md SEG-1): each cut-off, one fen below and at it.
AUM_BOUNDARIES = [
    "0.00",
    "49999.99",
    "50000.00",
    "499999.99",
    "500000.00",
    "5999999.99",
    "6000000.00",
]


def test_SEG_1_a_customer_s_segment_explains_itself(backend: Backend) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "520000")
    found = _segment(backend, customer["id"])
    segment = found["segment"]
    assert segment["tier"] == "HIGH" and segment["computedTier"] == "HIGH"
    assert segment["privateBanking"] is False
    rules = _rules(backend)
    assert segment["ruleSet"]["version"] == rules.version
    inputs = {i["name"]: i for i in segment["inputs"]}
    assert set(inputs) == {
        "AUM",
        "TRANSACTION_FREQUENCY",
        "DEPOSIT_BALANCE",
        "LOAN_AMOUNT",
        "FEE_INCOME",
    }
    assert inputs["AUM"]["value"] == "520000.00"
    assert sum(Decimal(i["weight"]) for i in inputs.values()) == 1
    expected, _, _ = model.classify(
        rules, model.Inputs(Decimal("520000"), 0, Decimal(0), Decimal(0), Decimal(0))
    )
    assert Decimal(segment["score"]) == Decimal(expected).scaleb(-2)
    # Registration classified the customer, the snapshot reclassified it in its own
    # transaction: one history entry each, newest first.
    assert [h["reason"] for h in found["segmentHistory"]] == [
        "INPUTS_CHANGED",
        "FIRST_CLASSIFICATION",
    ]


@settings(
    max_examples=len(AUM_BOUNDARIES) * 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(aum=st.sampled_from(AUM_BOUNDARIES))
def test_SEG_1_tiers_and_private_banking_at_every_cut_off(backend: Backend, aum: str) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], aum)
    segment = _segment(backend, customer["id"])["segment"]
    score, tier, private = model.classify(
        _rules(backend), model.Inputs(Decimal(aum), 0, Decimal(0), Decimal(0), Decimal(0))
    )
    assert (segment["tier"], segment["privateBanking"]) == (tier.value, private)
    assert Decimal(segment["score"]) == Decimal(score).scaleb(-2)
    # The defaults of SPEC.md, spelled out: HIGH ≥ 500,000, MEDIUM ≥ 50,000, PB ≥ 6,000,000.
    value = Decimal(aum)
    assert tier.value == ("HIGH" if value >= 500000 else "MEDIUM" if value >= 50000 else "LOW")
    assert private == (value >= 6000000)


def test_SEG_1_the_score_lifts_a_customer_one_tier_from_the_lift_score_on(
    backend: Backend, restore_model: None
) -> None:
    """AUM alone, full score at 100,000, lift at 50.00: 49,999.99 scores 49.99 (LOW stays LOW);
    50,000.00 scores exactly 50.00 and is MEDIUM by AUM, lifted to HIGH."""
    factors = [
        {"input": name, "weight": "1" if name == "AUM" else "0", "fullScoreAt": "100000"}
        for name in ("AUM", "TRANSACTION_FREQUENCY", "DEPOSIT_BALANCE", "LOAN_AMOUNT", "FEE_INCOME")
    ]
    body = _change(backend, factors=factors, liftScore="50", summary="lift test")
    assert body["data"]["changeValueRuleSet"]["errors"] == [], body
    expected = {"49999.99": ("LOW", "49.99"), "50000.00": ("HIGH", "50.00")}
    for aum, (tier, score) in expected.items():
        customer = create_customer(backend)
        _record_aum(backend, customer["id"], aum)
        segment = _segment(backend, customer["id"])["segment"]
        assert (segment["tier"], segment["score"]) == (tier, score), aum


IMPORT = """
mutation($input: ImportTransactionsInput!) {
  importTransactions(input: $input) { imported errors { field code } }
}
"""


def test_SEG_1_the_readme_s_example_a_busy_medium_customer_is_lifted_to_high(
    backend: Backend,
) -> None:
    """README: 300,000 AUM (MEDIUM), 400,000 deposits, 300 transactions a year, 1,000,000 of
    loans, 6,000 of fees: 12 + 15 + 16 + 15 + 10 = 68 points, at least the lift score of 60."""
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "300000")
    assert _segment(backend, customer["id"])["segment"]["tier"] == "MEDIUM"
    suffix = customer["id"][-6:]
    opened = (clock.today() - timedelta(days=400)).isoformat()
    accounts = [
        {
            "accountNo": f"D{suffix}",
            "kind": "DEMAND_DEPOSIT",
            "openedOn": opened,
            "balance": "400000",
        },
        {"accountNo": f"L{suffix}", "kind": "LOAN", "openedOn": opened, "balance": "1000000"},
    ]
    moment = clock.now() - timedelta(days=30)
    transactions = [
        {
            "accountNo": f"D{suffix}",
            "externalRef": f"t{i}",
            "occurredAt": moment.isoformat(),
            "amount": "20.00" if i < 300 else "1.00",
            "type": "FEE" if i < 300 else "PAYMENT",
            "channel": "MOBILE_APP",
        }
        for i in range(300)
    ]
    payload = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer["id"],
                "accounts": accounts,
                "transactions": transactions,
                "source": SOURCE,
            }
        },
    )["importTransactions"]
    assert payload["errors"] == [] and payload["imported"] == 300
    found = _segment(backend, customer["id"])
    segment = found["segment"]
    assert (segment["tier"], segment["score"]) == ("HIGH", "68.00")
    points = {i["name"]: i["points"] for i in segment["inputs"]}
    assert points == {
        "AUM": "30.00",
        "TRANSACTION_FREQUENCY": "100.00",
        "DEPOSIT_BALANCE": "80.00",
        "LOAN_AMOUNT": "100.00",
        "FEE_INCOME": "100.00",
    }
    latest = found["segmentHistory"][0]
    assert (latest["fromTier"], latest["toTier"], latest["reason"]) == (
        "MEDIUM",
        "HIGH",
        "INPUTS_CHANGED",
    )


# Weight boundaries: the weights must add up to exactly 1; each is 0 … 1 with 4 decimals.
WEIGHT_CASES = [
    ("0.0001", "WEIGHTS_DO_NOT_ADD_UP", ["factors"]),
    ("-0.0001", "WEIGHTS_DO_NOT_ADD_UP", ["factors"]),
    ("0.00001", "INVALID_WEIGHT", ["factors", "4", "weight"]),
]


@settings(
    max_examples=len(WEIGHT_CASES) * 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=st.sampled_from(WEIGHT_CASES))
def test_SEG_1_weights_that_do_not_add_up_to_exactly_one_are_refused(
    backend: Backend, case: tuple[str, str, list[str]]
) -> None:
    delta, code, field = case
    factors = _file_model()["factors"]
    factors[-1]["weight"] = str(Decimal(factors[-1]["weight"]) + Decimal(delta))
    before = backend.gql(RULE_SET)["valueRuleSet"]["version"]
    body = _change(backend, factors=factors)
    payload = body["data"]["changeValueRuleSet"]
    assert payload["ruleSet"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]
    assert backend.gql(RULE_SET)["valueRuleSet"]["version"] == before  # nothing written


def test_SEG_1_weights_of_exactly_zero_and_one_are_accepted(
    backend: Backend, restore_model: None
) -> None:
    factors = [
        {"input": name, "weight": "1.0000" if name == "AUM" else "0.0000", "fullScoreAt": "1"}
        for name in ("AUM", "TRANSACTION_FREQUENCY", "DEPOSIT_BALANCE", "LOAN_AMOUNT", "FEE_INCOME")
    ]
    body = _change(backend, factors=factors, summary="AUM only")
    assert body["data"]["changeValueRuleSet"]["errors"] == [], body


# Cut-off boundaries: the MEDIUM range starting one fen off the LOW range's end.
CUT_OFF_CASES = [
    ("49999.99", "OVERLAPPING", ["cutOffs", "1", "fromAum"]),
    ("50000.01", "GAP", ["cutOffs", "1", "fromAum"]),
]


@settings(
    max_examples=len(CUT_OFF_CASES) * 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=st.sampled_from(CUT_OFF_CASES))
def test_SEG_1_overlapping_or_gapped_cut_offs_are_refused_naming_the_field(
    backend: Backend, case: tuple[str, str, list[str]]
) -> None:
    start, code, field = case
    cut_offs = _file_model()["cutOffs"]
    cut_offs[1]["fromAum"] = start
    payload = _change(backend, cutOffs=cut_offs)["data"]["changeValueRuleSet"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [(code, field)]


def test_SEG_1_other_bad_models_are_typed_errors(backend: Backend) -> None:
    model_input = _file_model()
    cut_offs = [c for c in model_input["cutOffs"] if c["tier"] != "HIGH"]
    cut_offs[-1]["belowAum"] = None
    factors = [*model_input["factors"][:-1], model_input["factors"][0]]
    payload = _change(backend, cutOffs=cut_offs, factors=factors, liftScore="100.5")["data"][
        "changeValueRuleSet"
    ]
    codes = {(e["code"], tuple(e["field"])) for e in payload["errors"]}
    assert ("MISSING_TIER", ("cutOffs",)) in codes
    assert ("DUPLICATE_INPUT", ("factors", "4", "input")) in codes
    assert ("MISSING_INPUT", ("factors",)) in codes
    assert ("INVALID", ("liftScore",)) in codes
    unknown = backend.post(
        CHANGE,
        {
            "input": {
                **model_input,
                "expectedVersion": 1,
                "cutOffs": [{"tier": "PLATINUM", "fromAum": "0"}],
            }
        },
    )
    assert unknown.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


def test_SEG_1_only_model_owners_change_the_model_and_stale_edits_conflict(
    backend: Backend, restore_model: None
) -> None:
    refused = _change(backend, staff="RM0001")
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    mine = _change(backend, staff="MKT0001", summary="marketing tunes the model")
    version = mine["data"]["changeValueRuleSet"]["ruleSet"]["version"]
    stale = backend.post(
        CHANGE, {"input": {**_file_model(), "expectedVersion": version - 1}}
    ).json()
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    versions = backend.gql(
        "{ valueRuleSets(first: 2) { totalCount edges { node { version changedBy } } } }"
    )["valueRuleSets"]
    assert versions["edges"][0]["node"] == {"version": version, "changedBy": "MKT0001"}
    assert versions["totalCount"] == version
    entries = backend.gql(
        '{ auditLog(first: 5, where: {operation: {eq: "changeValueRuleSet"}}) '
        "{ edges { node { actor action } } } }",
        staff="AUD0001",
        purpose="AUDIT",
    )["auditLog"]["edges"]
    assert entries and entries[0]["node"] == {"actor": "MKT0001", "action": "CHANGE"}


# -- SEG-4: runs, history, overrides -----------------------------------------------------------


def test_SEG_4_runs_record_the_model_version_and_history_is_kept_across_versions(
    backend: Backend, restore_model: None
) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "60000")  # MEDIUM by the default cut-offs
    first = _classify(backend)
    assert first["scope"] == "BANK" and first["customers"] >= 1
    cut_offs = _file_model()["cutOffs"]
    cut_offs[0]["belowAum"] = cut_offs[1]["fromAum"] = "100000"  # MEDIUM now from 100,000
    body = _change(backend, cutOffs=cut_offs, summary="medium from 100,000")
    version = body["data"]["changeValueRuleSet"]["ruleSet"]["version"]
    second = _classify(backend)
    assert second["ruleSetVersion"] == version and second["changed"] >= 1
    found = _segment(backend, customer["id"])
    assert found["segment"]["tier"] == "LOW"
    assert found["segment"]["ruleSet"]["version"] == version
    latest = found["segmentHistory"][0]
    assert (latest["fromTier"], latest["toTier"], latest["reason"]) == (
        "MEDIUM",
        "LOW",
        "RECLASSIFIED",
    )
    assert latest["run"] == second["id"] and latest["ruleSetVersion"] == version
    assert found["segmentHistory"][-1]["reason"] == "FIRST_CLASSIFICATION"
    # A run that changes nothing adds no history.
    again = _classify(backend)
    assert len(_segment(backend, customer["id"])["segmentHistory"]) == len(found["segmentHistory"])
    assert again["customers"] == second["customers"]


def test_SEG_4_a_supervisor_classifies_their_branch_only(backend: Backend) -> None:
    run = _classify(backend, staff="SUP0001")
    assert run["scope"] == "BRANCH"
    other = backend.gql("{ me { branch { id } } }", staff="SH01SUP01")["me"]["branch"]["id"]
    refused = backend.post(CLASSIFY, {"input": {"branch": other}}, staff="SUP0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    for staff in ("RM0001", "MKT0001", "AUD0001"):
        body = backend.post(CLASSIFY, {"input": None}, staff=staff).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff


def _bj01_customer(backend: Backend) -> str:
    customer = create_customer(backend, staff="RM0001")
    _record_aum(backend, customer["id"], "1000", staff="RM0001")  # LOW
    return str(customer["id"])


def test_SEG_4_an_override_holds_until_it_expires_then_the_computed_segment_applies(
    backend: Backend,
) -> None:
    customer_id = _bj01_customer(backend)
    expires = clock.now() + timedelta(hours=1)
    payload = backend.gql(
        OVERRIDE,
        {
            "input": {
                "customerId": customer_id,
                "tier": "HIGH",
                "reason": "family office moving assets in",
                "expiresAt": expires.isoformat(),
            }
        },
        staff="SUP0001",
    )["overrideSegment"]
    assert payload["errors"] == []
    assert payload["segment"] == {
        "tier": "HIGH",
        "computedTier": "LOW",
        "override": {"tier": "HIGH"},
    }
    explained = backend.gql(
        "query($id: ID!) { customer(id: $id) { segment { override { reason createdBy } } } }",
        {"id": customer_id},
        staff="RM0001",
    )["customer"]["segment"]["override"]
    assert explained == {"reason": "family office moving assets in", "createdBy": "SUP0001"}
    high = backend.gql(
        "{ customers(first: 100, where: {segment: {tier: {eq: HIGH}}}) { edges { node { id } } } }",
        staff="RM0001",
    )["customers"]["edges"]
    assert customer_id in {e["node"]["id"] for e in high}
    history = _segment(backend, customer_id)["segmentHistory"]
    assert (history[0]["fromTier"], history[0]["toTier"], history[0]["reason"]) == (
        "LOW",
        "HIGH",
        "OVERRIDE",
    )
    with clock.travel_to(expires, all_threads=True):  # expired: no job ran, reads compare
        segment = _segment(backend, customer_id)["segment"]
        assert (segment["tier"], segment["override"]) == ("LOW", None)
        low = backend.gql(
            "{ customers(first: 100, where: {segment: {tier: {eq: HIGH}}}) "
            "{ edges { node { id } } } }",
            staff="RM0001",
        )["customers"]["edges"]
        assert customer_id not in {e["node"]["id"] for e in low}
    with clock.travel_to(expires - timedelta(seconds=1), all_threads=True):
        assert _segment(backend, customer_id)["segment"]["tier"] == "HIGH"


def test_SEG_4_an_override_can_be_withdrawn(backend: Backend) -> None:
    customer_id = _bj01_customer(backend)
    override = {
        "customerId": customer_id,
        "tier": "MEDIUM",
        "reason": "retention",
        "expiresAt": (clock.now() + timedelta(days=30)).isoformat(),
    }
    backend.gql(OVERRIDE, {"input": override}, staff="SUP0001")
    payload = backend.gql(WITHDRAW, {"input": {"customerId": customer_id}}, staff="SUP0001")[
        "withdrawSegmentOverride"
    ]
    assert payload["segment"] == {"tier": "LOW", "override": None}
    again = backend.gql(WITHDRAW, {"input": {"customerId": customer_id}}, staff="SUP0001")[
        "withdrawSegmentOverride"
    ]
    assert [(e["code"], e["field"]) for e in again["errors"]] == [("NO_OVERRIDE", ["customerId"])]
    assert _segment(backend, customer_id)["segmentHistory"][0]["reason"] == "OVERRIDE_WITHDRAWN"


def test_SEG_4_bad_overrides_are_typed_errors_and_write_nothing(backend: Backend) -> None:
    customer_id = _bj01_customer(backend)
    before = _segment(backend, customer_id)
    cases = [
        ({"reason": "  "}, ("REQUIRED", ["reason"])),
        ({"expiresAt": clock.now().isoformat()}, ("EXPIRED", ["expiresAt"])),
        (
            {"expiresAt": (clock.now() + timedelta(days=400)).isoformat()},
            ("TOO_LONG", ["expiresAt"]),
        ),
    ]
    for change, expected in cases:
        values = {
            "customerId": customer_id,
            "tier": "HIGH",
            "reason": "why",
            "expiresAt": (clock.now() + timedelta(days=1)).isoformat(),
            **change,
        }
        payload = backend.gql(OVERRIDE, {"input": values}, staff="SUP0001")["overrideSegment"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected]
    assert _segment(backend, customer_id) == before
    values = {
        "customerId": customer_id,
        "tier": "HIGH",
        "reason": "why",
        "expiresAt": (clock.now() + timedelta(days=1)).isoformat(),
    }
    # Relationship managers hold no override right; another branch's supervisor sees no row.
    rm = backend.post(OVERRIDE, {"input": values}, staff="RM0001").json()
    assert rm["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = backend.post(OVERRIDE, {"input": values}, staff="SH01SUP01").json()
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert _segment(backend, customer_id) == before


def test_SEG_4_a_snapshot_and_its_reclassification_are_one_unit_of_work(backend: Backend) -> None:
    """The snapshot's one CHANGE entry lists the segment rows its classification wrote: both
    commit together or not at all."""
    from tests.test_unit_of_work import _changes_after, _last_id

    customer = create_customer(backend)
    last = _last_id(backend)
    _record_aum(backend, customer["id"], "75000")
    (entry,) = _changes_after(backend, last)
    assert entry["operation"] == "recordFinancialSnapshot"
    tables = {row["table"] for row in entry["detail"]["rows"]}
    assert {"financial_snapshots", "segment_runs", "customer_segments", "segment_changes"} <= tables
    assert any("classification run" in n["summary"] for n in entry["detail"]["notes"])


def test_SEG_4_a_refused_snapshot_leaves_the_segment_as_it_was(backend: Backend) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "70000")
    before = _segment(backend, customer["id"])
    payload = backend.gql(
        SNAPSHOT,
        {
            "input": {
                "customerId": customer["id"],
                "asOf": clock.today().isoformat(),
                "annualIncome": "-1",
                "totalAssets": "9000000",
                "totalLiabilities": "0",
                "assetsUnderManagement": "9000000",
                "source": SOURCE,
            }
        },
    )["recordFinancialSnapshot"]
    assert payload["errors"]
    assert _segment(backend, customer["id"]) == before


# -- SEG-2: needs ------------------------------------------------------------------------------

NEEDS = """
query($id: ID!) { customer(id: $id) { segment { needs { need derived reason setBy } } } }
"""
SET_NEED = """
mutation($input: SetCustomerNeedInput!) {
  setCustomerNeed(input: $input) { segment { needs { need derived } } errors { field code } }
}
"""


def _needs(backend: Backend, customer_id: str, staff: str = "HO0001") -> dict[str, Any]:
    found = backend.gql(NEEDS, {"id": customer_id}, staff=staff)["customer"]["segment"]
    return {n["need"]: n for n in found["needs"]}


def _payments(backend: Backend, customer_id: str, refs: range, wealth: bool) -> None:
    suffix = customer_id[-6:]
    opened = (clock.today() - timedelta(days=400)).isoformat()
    accounts = [{"accountNo": f"P{suffix}", "kind": "DEMAND_DEPOSIT", "openedOn": opened}]
    if wealth:
        accounts.append(
            {"accountNo": f"W{suffix}", "kind": "WEALTH_MANAGEMENT", "openedOn": opened}
        )
    moment = (clock.now() - timedelta(days=10)).isoformat()
    transactions = [
        {
            "accountNo": f"P{suffix}",
            "externalRef": f"p{i}",
            "occurredAt": moment,
            "amount": "100.00",
            "type": "PAYMENT",
            "channel": "MOBILE_APP",
        }
        for i in refs
    ]
    payload = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer_id,
                "accounts": accounts,
                "transactions": transactions,
                "source": SOURCE,
            }
        },
        staff="RM0001",
    )["importTransactions"]
    assert payload["errors"] == []


def test_SEG_2_needs_are_derived_from_holdings_and_transactions(backend: Backend) -> None:
    """Settlement from 24 payments or transfers in 12 months: 23 is not a need, 24 is."""
    customer = create_customer(backend, staff="RM0001")
    _payments(backend, customer["id"], range(23), wealth=True)
    assert set(_needs(backend, customer["id"])) == {"INVESTMENT"}
    _payments(backend, customer["id"], range(23, 24), wealth=False)
    needs = _needs(backend, customer["id"])
    assert set(needs) == {"INVESTMENT", "SETTLEMENT"}
    assert all(n["derived"] and n["reason"] is None for n in needs.values())


def test_SEG_2_staff_set_needs_with_a_reason_and_it_is_kept(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    _payments(backend, customer["id"], range(1), wealth=True)  # INVESTMENT derived
    added = {
        "customerId": customer["id"],
        "need": "FINANCING",
        "present": True,
        "reason": "asked about a mortgage at the counter",
    }
    payload = backend.gql(SET_NEED, {"input": added}, staff="RM0001")["setCustomerNeed"]
    assert payload["errors"] == []
    removed = {**added, "need": "INVESTMENT", "present": False, "reason": "does not invest"}
    backend.gql(SET_NEED, {"input": removed}, staff="RM0001")
    needs = _needs(backend, customer["id"], staff="SUP0001")
    assert set(needs) == {"FINANCING"}
    assert needs["FINANCING"] == {
        "need": "FINANCING",
        "derived": False,
        "reason": "asked about a mortgage at the counter",
        "setBy": "RM0001",
    }
    refused = backend.gql(SET_NEED, {"input": {**added, "reason": " "}}, staff="RM0001")
    assert [(e["code"], e["field"]) for e in refused["setCustomerNeed"]["errors"]] == [
        ("REQUIRED", ["reason"])
    ]
    for staff, code in (("MKT0001", "FORBIDDEN"), ("SH01RM01", "NOT_FOUND")):
        body = backend.post(SET_NEED, {"input": added}, staff=staff).json()
        assert body["errors"][0]["extensions"]["code"] == code, staff
    assert set(_needs(backend, customer["id"])) == {"FINANCING"}


# -- SEG-6 basics: filters, ordering, distribution, access ------------------------------------


def test_SEG_6_customers_filter_by_tier_and_order_by_score(backend: Backend) -> None:
    _classify(backend)
    high = backend.gql(
        "{ customers(first: 100, where: {segment: {tier: {eq: HIGH}}}) "
        "{ totalCount edges { node { segment { tier } } } } }"
    )["customers"]
    assert high["totalCount"] >= 1
    assert {e["node"]["segment"]["tier"] for e in high["edges"]} == {"HIGH"}
    first = backend.gql(
        "{ customers(first: 10, orderBy: [{field: SCORE, direction: DESC}]) "
        "{ pageInfo { endCursor } edges { node { segment { score } } } } }"
    )["customers"]
    second = backend.gql(
        "query($after: String) { customers(first: 10, after: $after, "
        "orderBy: [{field: SCORE, direction: DESC}]) { edges { node { segment { score } } } } }",
        {"after": first["pageInfo"]["endCursor"]},
    )["customers"]
    scores = [
        Decimal(e["node"]["segment"]["score"]) if e["node"]["segment"] else Decimal(-1)
        for e in first["edges"] + second["edges"]
    ]
    assert scores == sorted(scores, reverse=True) and len(scores) == 20


def test_SEG_6_segment_fields_follow_the_segment_field_group(backend: Backend) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "80000")
    body = backend.post(
        "query($id: ID!) { customer(id: $id) { segment { tier score } } }",
        {"id": customer["id"]},
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    assert body["data"]["customer"]["segment"] == {"tier": None, "score": None}
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FIELD_FORBIDDEN"}
    refused = backend.post(
        "{ customers(first: 5, where: {segment: {tier: {eq: HIGH}}}) { totalCount } }",
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    ordered = backend.post(
        "{ customers(first: 5, orderBy: [{field: SCORE}]) { totalCount } }",
        staff="AUD0001",
        purpose="AUDIT",
    ).json()
    assert ordered["errors"][0]["extensions"]["code"] == "FORBIDDEN"


DISTRIBUTION = """
query($byBranch: Boolean!) { segments(byBranch: $byBranch) {
  minimumCount cells { tier branch { code } suppressed customers assetsUnderManagement } } }
"""


def test_SEG_6_marketing_sees_the_distribution_with_small_cells_suppressed(
    backend: Backend,
) -> None:
    _classify(backend)
    bank = backend.gql(DISTRIBUTION, {"byBranch": False}, staff="MKT0001")["segments"]
    minimum = bank["minimumCount"]
    for cell in bank["cells"]:
        if cell["suppressed"]:
            assert cell["customers"] is None and cell["assetsUnderManagement"] is None
        else:
            assert cell["customers"] >= minimum
    counted = sum(c["customers"] or 0 for c in bank["cells"] if c["tier"])
    assert counted >= minimum
    by_branch = backend.gql(DISTRIBUTION, {"byBranch": True}, staff="MKT0001")["segments"]
    assert all(c["branch"] for c in by_branch["cells"])
    assert any(c["suppressed"] for c in by_branch["cells"])  # 10 branches, few customers each
    # Never one suppressed branch alone in a tier: the bank's count minus the others would
    # reveal it (complementary suppression).
    for tier in {c["tier"] for c in by_branch["cells"]}:
        row = [c for c in by_branch["cells"] if c["tier"] == tier]
        assert len(row) == 1 or sum(c["suppressed"] for c in row) != 1, tier
    # The same counts as the rows head office sees (tier shown, AUM of the computed segment).
    high = backend.gql(
        "{ customers(first: 1, where: {segment: {tier: {eq: HIGH}}}) { totalCount } }"
    )["customers"]["totalCount"]
    cell = next(c for c in bank["cells"] if c["tier"] == "HIGH")
    assert cell["customers"] in (high, None)
    # Marketing sees no customer rows; a relationship manager holds no distribution right.
    rows = backend.post("{ customers(first: 1) { totalCount } }", staff="MKT0001").json()
    assert rows["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    rm = backend.post(DISTRIBUTION, {"byBranch": False}, staff="RM0001").json()
    assert rm["errors"][0]["extensions"]["code"] == "FORBIDDEN"
