"""Risk grades over HTTP (SEG-3), on SQLite and PostgreSQL.

The risk model is data: the tests read the model in force through the API and hold the service's
grades to ``resolvers.segments.risk_model`` (the model in Python) at every band and threshold
boundary, one step below and at it. Tests that change the model put the reviewed file's model
back as a new version when they end.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from itertools import count
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import clock
from resolvers.segments import risk_model
from tests.conftest import POLICY_RULE, SOURCE, Backend, create_customer
from tests.test_segments import IMPORT, SNAPSHOT, _classify, _record_aum

RISK_SEGMENT = """
query($id: ID!) { customer(id: $id) { segment {
  riskGrade riskSignals { name value threshold grade } riskRuleSet { version }
} segmentHistory { fromRiskGrade toRiskGrade reason run riskRuleSetVersion derivedNeeds } } }
"""
ASSESS = """
mutation($input: RecordRiskAssessmentInput!) {
  recordRiskAssessment(input: $input) { errors { field code } }
}
"""
RISK_RULES = """
{ riskRuleSet { version unscoredGrade reviewPeriodDays bands { grade fromScore belowScore }
  signals { signal mediumAt highAt windowDays } } }
"""
CHANGE_RISK = """
mutation($input: ChangeRiskRuleSetInput!) {
  changeRiskRuleSet(input: $input) { ruleSet { version } errors { field code message } }
}
"""
_refs = count(1)


def _assess(backend: Backend, customer_id: str, score: int | None, staff: str = "HO0001") -> None:
    payload = backend.gql(
        ASSESS,
        {
            "input": {
                "customerId": customer_id,
                "riskTolerance": "C3_BALANCED",
                "creditStatus": "NORMAL",
                "creditScore": score,
                "source": SOURCE,
            }
        },
        staff=staff,
    )["recordRiskAssessment"]
    assert payload["errors"] == []


def _import(
    backend: Backend,
    customer_id: str,
    accounts: list[dict[str, Any]],
    transactions: list[dict[str, Any]] | None = None,
    staff: str = "HO0001",
) -> None:
    payload = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer_id,
                "accounts": accounts,
                "transactions": transactions or [],
                "source": SOURCE,
            }
        },
        staff=staff,
    )["importTransactions"]
    assert payload["errors"] == [], payload


def _account(kind: str, **extra: Any) -> dict[str, Any]:
    opened = (clock.today() - timedelta(days=400)).isoformat()
    return {"accountNo": f"R{next(_refs):09d}", "kind": kind, "openedOn": opened, **extra}


def _risk(backend: Backend, customer_id: str, staff: str = "HO0001") -> dict[str, Any]:
    return backend.gql(RISK_SEGMENT, {"id": customer_id}, staff=staff)["customer"]


def _rules(backend: Backend) -> risk_model.RiskRuleSet:
    found = backend.gql(RISK_RULES)["riskRuleSet"]
    return risk_model.check_risk_rule_set(
        {
            "bands": [
                {"grade": b["grade"], "from_score": b["fromScore"], "below_score": b["belowScore"]}
                for b in found["bands"]
            ],
            "signals": [
                {
                    "signal": s["signal"],
                    "medium_at": s["mediumAt"],
                    "high_at": s["highAt"],
                    "window_days": s["windowDays"],
                }
                for s in found["signals"]
            ],
            "unscored_grade": found["unscoredGrade"],
            "review_period_days": found["reviewPeriodDays"],
        },
        found["version"],
    )


def file_risk_model() -> dict[str, Any]:
    """The reviewed file's risk model as a ``changeRiskRuleSet`` input (without version)."""
    raw = tomllib.loads(risk_model.RISK_MODEL_FILE.read_text(encoding="utf-8"))
    return {
        "bands": [
            {"grade": b["grade"], "fromScore": b["from_score"], "belowScore": b.get("below_score")}
            for b in raw["bands"]
        ],
        "signals": [
            {
                "signal": s["signal"],
                "mediumAt": s.get("medium_at"),
                "highAt": s.get("high_at"),
                "windowDays": s.get("window_days"),
            }
            for s in raw["signals"]
        ],
        "unscoredGrade": raw["unscored_grade"],
        "reviewPeriodDays": raw["review_period_days"],
        "summary": "back to the reviewed file",
    }


def change_risk(backend: Backend, staff: str = "HO0001", **changes: Any) -> dict[str, Any]:
    version = backend.gql(RISK_RULES, staff=staff)["riskRuleSet"]["version"]
    values = {**file_risk_model(), "expectedVersion": version, **changes}
    return backend.post(CHANGE_RISK, {"input": values}, staff=staff).json()  # type: ignore[no-any-return]


@pytest.fixture
def restore_risk_model(backend: Backend) -> Iterator[None]:
    yield
    body = change_risk(backend)
    assert body["data"]["changeRiskRuleSet"]["errors"] == []


def _values(score: int | None, **signals: Any) -> risk_model.RiskValues:
    return risk_model.RiskValues(
        score,
        signals.get("days_past_due", 0),
        Decimal(signals.get("outflow", "0")),
        signals.get("aum_drop", 0),
        signals.get("market_risk"),
    )


# -- the credit-score bands at their boundaries -------------------------------------------------

# Default bands (risk_model.toml): HIGH [0, 600), MEDIUM [600, 700), LOW [700, …); no score: MEDIUM.
SCORE_BOUNDARIES: list[tuple[int | None, str]] = [
    (0, "HIGH"),
    (599, "HIGH"),
    (600, "MEDIUM"),
    (699, "MEDIUM"),
    (700, "LOW"),
    (1000, "LOW"),
    (None, "MEDIUM"),
]


@settings(
    max_examples=len(SCORE_BOUNDARIES) * 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=st.sampled_from(SCORE_BOUNDARIES))
def test_SEG_3_grades_at_every_credit_score_band_boundary(
    backend: Backend, case: tuple[int | None, str]
) -> None:
    score, expected = case
    customer = create_customer(backend)
    if score is not None:
        _assess(backend, customer["id"], score)  # classifies in the same unit of work
    else:
        _record_aum(backend, customer["id"], "1000")
    segment = _risk(backend, customer["id"])["segment"]
    rules = _rules(backend)
    grade, causes = risk_model.grade(rules, _values(score))
    assert segment["riskGrade"] == grade.value == expected
    assert segment["riskRuleSet"]["version"] == rules.version
    shown = [(s["name"], s["value"], s["threshold"], s["grade"]) for s in segment["riskSignals"]]
    assert shown == [
        (
            c.signal.value,
            None if c.value is None else str(c.value),
            None if c.threshold is None else str(c.threshold),
            c.grade.value,
        )
        for c in causes
    ]
    if expected == "LOW":
        assert shown == []  # a LOW band causes nothing
    else:
        assert shown[0][0] == "CREDIT_SCORE" and shown[0][3] == expected


# -- the early-warning signals at their thresholds ----------------------------------------------

# (signal, value one step below / at the threshold, grade) of the default model; the customer's
# credit score is 750 (LOW band), so the signal alone decides.
SIGNAL_BOUNDARIES: list[tuple[str, str, str]] = [
    ("DAYS_PAST_DUE", "29", "LOW"),
    ("DAYS_PAST_DUE", "30", "MEDIUM"),
    ("DAYS_PAST_DUE", "89", "MEDIUM"),
    ("DAYS_PAST_DUE", "90", "HIGH"),
    ("MARKET_RISK", "3", "LOW"),
    ("MARKET_RISK", "4", "MEDIUM"),
    ("MARKET_RISK", "5", "HIGH"),
    ("LARGE_OUTFLOW", "499999.99", "LOW"),
    ("LARGE_OUTFLOW", "500000.00", "MEDIUM"),
    ("LARGE_OUTFLOW", "1999999.99", "MEDIUM"),
    ("LARGE_OUTFLOW", "2000000.00", "HIGH"),
    ("AUM_DROP", "29.99", "LOW"),
    ("AUM_DROP", "30.00", "MEDIUM"),
    ("AUM_DROP", "49.99", "MEDIUM"),
    ("AUM_DROP", "50.00", "HIGH"),
]


def _raise_signal(backend: Backend, customer_id: str, signal: str, value: str) -> dict[str, Any]:
    """Record the data that makes ``signal`` read ``value``; the values the model reads."""
    if signal == "DAYS_PAST_DUE":
        _import(backend, customer_id, [_account("LOAN", balance="1000", daysPastDue=int(value))])
        return {"days_past_due": int(value)}
    if signal == "MARKET_RISK":
        account = _account("WEALTH_MANAGEMENT", balance="1000", productRiskLevel=int(value))
        _import(backend, customer_id, [account])
        return {"market_risk": int(value)}
    if signal == "LARGE_OUTFLOW":
        account = _account("DEMAND_DEPOSIT")
        moment = clock.now() - timedelta(days=29)  # inside the 30-day window
        _import(
            backend,
            customer_id,
            [account],
            [
                {
                    "accountNo": account["accountNo"],
                    "externalRef": "out",
                    "occurredAt": moment.isoformat(),
                    "amount": value,
                    "type": "TRANSFER_OUT",
                    "channel": "ONLINE_BANKING",
                }
            ],
        )
        return {"outflow": value}
    # AUM_DROP: from 1,000,000.00 (89 days ago: inside the 90-day window) to 1,000,000 × (1 −
    # drop) yesterday.
    _snapshot(backend, customer_id, "1000000.00", days_ago=89)
    latest = Decimal("1000000.00") * (1 - Decimal(value) / 100)
    _snapshot(backend, customer_id, str(latest), days_ago=1)
    return {"aum_drop": int(Decimal(value) * 100)}


def _snapshot(backend: Backend, customer_id: str, aum: str, days_ago: int) -> None:
    payload = backend.gql(
        SNAPSHOT,
        {
            "input": {
                "customerId": customer_id,
                "asOf": (clock.today() - timedelta(days=days_ago)).isoformat(),
                "annualIncome": "1",
                "totalAssets": aum,
                "totalLiabilities": "0",
                "assetsUnderManagement": aum,
                "source": SOURCE,
            }
        },
    )["recordFinancialSnapshot"]
    assert payload["errors"] == []


@settings(
    max_examples=len(SIGNAL_BOUNDARIES) * 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=st.sampled_from(SIGNAL_BOUNDARIES))
def test_SEG_3_each_early_warning_signal_raises_the_grade_from_its_threshold_on(
    backend: Backend, case: tuple[str, str, str]
) -> None:
    signal, value, expected = case
    customer = create_customer(backend)
    _assess(backend, customer["id"], 750)
    values = _raise_signal(backend, customer["id"], signal, value)
    segment = _risk(backend, customer["id"])["segment"]
    grade, causes = risk_model.grade(_rules(backend), _values(750, **values))
    assert segment["riskGrade"] == grade.value == expected, (signal, value)
    causes_shown = {s["name"]: s for s in segment["riskSignals"]}
    if expected == "LOW":
        assert causes_shown == {}
    else:
        cause = causes_shown[signal]
        assert Decimal(cause["value"]) == Decimal(value) and cause["grade"] == expected
        assert [c.signal.value for c in causes] == [signal]


def test_SEG_3_closed_and_empty_holdings_raise_nothing(backend: Backend) -> None:
    """Days past due of a deposit account, and a risky product with no balance, are no signal."""
    customer = create_customer(backend)
    _assess(backend, customer["id"], 750)
    _import(
        backend,
        customer["id"],
        [
            _account("DEMAND_DEPOSIT", balance="10", daysPastDue=120),
            _account("WEALTH_MANAGEMENT", balance="0", productRiskLevel=5),
        ],
    )
    assert _risk(backend, customer["id"])["segment"]["riskGrade"] == "LOW"


def test_SEG_3_the_grade_s_history_keeps_every_change_with_its_run_and_model(
    backend: Backend,
) -> None:
    customer = create_customer(backend)
    _assess(backend, customer["id"], 750)
    _assess(backend, customer["id"], 550)
    _import(backend, customer["id"], [_account("LOAN", balance="5000", daysPastDue=0)])
    found = _risk(backend, customer["id"])
    assert found["segment"]["riskGrade"] == "HIGH"
    history = [
        (h["fromRiskGrade"], h["toRiskGrade"], h["reason"], h["derivedNeeds"])
        for h in found["segmentHistory"]
    ]
    # Newest first: registered unscored (MEDIUM), 750 → LOW, 550 → HIGH; the loan import
    # changed no grade, but the needs it derives (FINANCING, SEG-2) are a change too.
    assert history == [
        ("HIGH", "HIGH", "INPUTS_CHANGED", ["FINANCING"]),
        ("LOW", "HIGH", "INPUTS_CHANGED", []),
        ("MEDIUM", "LOW", "INPUTS_CHANGED", []),
        (None, "MEDIUM", "FIRST_CLASSIFICATION", []),
    ]
    version = _rules(backend).version
    assert all(h["run"] and h["riskRuleSetVersion"] == version for h in found["segmentHistory"])
    # A bank-wide run that changes nothing adds nothing.
    _classify(backend)
    assert len(_risk(backend, customer["id"])["segmentHistory"]) == 4


def test_SEG_3_the_risk_grade_follows_the_segment_risk_field_group(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    _assess(backend, customer["id"], 500, staff="RM0001")
    for staff, purpose in (
        ("RM0001", "CUSTOMER_SERVICE"),
        ("SUP0001", "CUSTOMER_SERVICE"),
        ("RISK0001", "RISK_CONTROL"),
    ):
        body = backend.post(RISK_SEGMENT, {"id": customer["id"]}, staff=staff, purpose=purpose)
        assert body.json()["data"]["customer"]["segment"]["riskGrade"] == "HIGH", staff
    audited = backend.post(
        RISK_SEGMENT, {"id": customer["id"]}, staff="AUD0001", purpose="AUDIT"
    ).json()
    segment = audited["data"]["customer"]["segment"]
    assert (segment["riskGrade"], segment["riskSignals"]) == (None, None)
    assert {e["extensions"]["code"] for e in audited["errors"]} == {"FIELD_FORBIDDEN"}
    marketing = backend.post(RISK_SEGMENT, {"id": customer["id"]}, staff="MKT0001").json()
    assert marketing["data"]["customer"] is None  # no customer rows at all


# -- the risk model as data ---------------------------------------------------------------------


def test_SEG_3_owners_change_the_risk_model_and_runs_apply_the_new_version(
    backend: Backend, restore_risk_model: None
) -> None:
    customer = create_customer(backend)
    _assess(backend, customer["id"], 650)
    assert _risk(backend, customer["id"])["segment"]["riskGrade"] == "MEDIUM"
    for staff in ("RM0001", "SUP0001", "MKT0001"):
        refused = change_risk(backend, staff=staff)
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff
    bands = [
        {"grade": "HIGH", "fromScore": 0, "belowScore": 660},
        {"grade": "MEDIUM", "fromScore": 660, "belowScore": 700},
        {"grade": "LOW", "fromScore": 700, "belowScore": None},
    ]
    body = change_risk(backend, staff="RISK0001", bands=bands, summary="stricter bands")
    version = body["data"]["changeRiskRuleSet"]["ruleSet"]["version"]
    assert body["data"]["changeRiskRuleSet"]["errors"] == []
    stale = backend.post(
        CHANGE_RISK, {"input": {**file_risk_model(), "expectedVersion": version - 1}}
    ).json()
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    # Segments keep the version that computed them until a run applies the new one.
    assert _risk(backend, customer["id"])["segment"]["riskRuleSet"]["version"] == version - 1
    _classify(backend)
    found = _risk(backend, customer["id"])
    assert found["segment"]["riskGrade"] == "HIGH"
    assert found["segment"]["riskRuleSet"]["version"] == version
    latest = found["segmentHistory"][0]
    assert (latest["fromRiskGrade"], latest["toRiskGrade"], latest["riskRuleSetVersion"]) == (
        "MEDIUM",
        "HIGH",
        version,
    )


def _band_change(index: int, field: str, value: int | None) -> list[dict[str, Any]]:
    bands = file_risk_model()["bands"]
    bands[index][field] = value
    return bands


# (bands or signals change, expected (code, field)): at each band boundary one step off, and the
# other refusals the owners can make.
BAD_MODELS: list[tuple[str, dict[str, Any], tuple[str, list[str]]]] = [
    (
        "overlap",
        {"bands": _band_change(1, "fromScore", 599)},
        ("OVERLAPPING", ["bands", "1", "fromScore"]),
    ),
    ("gap", {"bands": _band_change(1, "fromScore", 601)}, ("GAP", ["bands", "1", "fromScore"])),
    ("low gap", {"bands": _band_change(0, "fromScore", 1)}, ("GAP", ["bands", "0", "fromScore"])),
    (
        "bounded top",
        {"bands": _band_change(2, "belowScore", 1001)},
        ("GAP", ["bands", "2", "belowScore"]),
    ),
]


@settings(
    max_examples=len(BAD_MODELS) * 2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(case=st.sampled_from(BAD_MODELS))
def test_SEG_3_bands_with_gaps_or_overlaps_are_refused_naming_the_field(
    backend: Backend, case: tuple[str, dict[str, Any], tuple[str, list[str]]]
) -> None:
    _, change, expected = case
    before = backend.gql(RISK_RULES)["riskRuleSet"]
    payload = change_risk(backend, **change)["data"]["changeRiskRuleSet"]
    assert payload["ruleSet"] is None
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [expected]
    assert backend.gql(RISK_RULES)["riskRuleSet"] == before  # nothing written


def test_SEG_3_unknown_signals_bad_windows_and_thresholds_are_typed_errors(
    backend: Backend,
) -> None:
    before = backend.gql(RISK_RULES)["riskRuleSet"]
    signals = file_risk_model()["signals"]
    signals[0] = {"signal": "CREDIT_SCORE", "mediumAt": "1", "highAt": "2", "windowDays": None}
    signals[1] = {**signals[1], "windowDays": -1}
    signals[2] = {**signals[2], "mediumAt": "60", "highAt": "50"}
    signals[3] = {**signals[3], "windowDays": 30}
    payload = change_risk(backend, signals=signals, reviewPeriodDays=0)["data"]["changeRiskRuleSet"]
    codes = {(e["code"], tuple(e["field"])) for e in payload["errors"]}
    assert codes == {
        ("UNKNOWN_SIGNAL", ("signals", "0", "signal")),
        ("INVALID_WINDOW", ("signals", "1", "windowDays")),
        ("THRESHOLD_ORDER", ("signals", "2", "mediumAt")),
        ("INVALID_WINDOW", ("signals", "3", "windowDays")),
        ("MISSING_SIGNAL", ("signals",)),
        ("INVALID_WINDOW", ("reviewPeriodDays",)),
    }
    assert all("-1" not in e["message"] for e in payload["errors"])  # values never repeated
    assert backend.gql(RISK_RULES)["riskRuleSet"] == before


RISK_DISTRIBUTION = """
query($byBranch: Boolean!) { segments(byBranch: $byBranch, dimension: RISK_GRADE) {
  dimension minimumCount
  cells { tier riskGrade branch { code } suppressed customers assetsUnderManagement } } }
"""


def _by_grade(backend: Backend, staff: str) -> dict[str | None, dict[str, Any]]:
    found = backend.gql(RISK_DISTRIBUTION, {"byBranch": False}, staff=staff)["segments"]
    assert found["dimension"] == "RISK_GRADE"
    assert all(c["tier"] is None for c in found["cells"])
    return {c["riskGrade"]: c for c in found["cells"]}


def test_SEG_3_the_distribution_counts_customers_and_aum_by_risk_grade(backend: Backend) -> None:
    _classify(backend)
    before = _by_grade(backend, "MKT0001")
    assert before == _by_grade(backend, "HO0001")  # marketing counts the bank, as head office
    minimum = backend.gql(RISK_DISTRIBUTION, {"byBranch": False})["segments"]["minimumCount"]
    for cell in before.values():
        if cell["suppressed"]:
            assert cell["customers"] is None and cell["assetsUnderManagement"] is None
        else:
            assert cell["customers"] >= minimum
    assert not before["HIGH"]["suppressed"]  # the demo bank has many HIGH-risk customers
    customer = create_customer(backend)
    _snapshot(backend, customer["id"], "1234.56", days_ago=1)
    _assess(backend, customer["id"], 100)  # one more HIGH-risk customer, AUM 1,234.56
    after = _by_grade(backend, "MKT0001")["HIGH"]
    assert after["customers"] == before["HIGH"]["customers"] + 1
    assert Decimal(after["assetsUnderManagement"]) == Decimal(
        before["HIGH"]["assetsUnderManagement"]
    ) + Decimal("1234.56")
    by_branch = backend.gql(RISK_DISTRIBUTION, {"byBranch": True}, staff="MKT0001")["segments"]
    assert all(c["branch"] for c in by_branch["cells"])
    for grade in {c["riskGrade"] for c in by_branch["cells"]}:
        row = [c for c in by_branch["cells"] if c["riskGrade"] == grade]
        assert len(row) == 1 or sum(c["suppressed"] for c in row) != 1, grade
    refused = backend.post(RISK_DISTRIBUTION, {"byBranch": False}, staff="RM0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RISK_FILTER = """
query($grade: RiskGrade!) {
  customers(first: 100, where: {segment: {riskGrade: {eq: $grade}}}) { edges { node { id } } }
}
"""


def test_SEG_6_the_customers_list_filters_by_risk_grade_within_its_field_group(
    backend: Backend,
) -> None:
    high, low = create_customer(backend), create_customer(backend)
    _assess(backend, high["id"], 500)
    _assess(backend, low["id"], 800)

    def found(grade: str) -> set[str]:
        edges = backend.gql(RISK_FILTER, {"grade": grade})["customers"]["edges"]
        return {e["node"]["id"] for e in edges} & {high["id"], low["id"]}

    assert (found("HIGH"), found("LOW")) == ({high["id"]}, {low["id"]})
    refused = backend.post(RISK_FILTER, {"grade": "HIGH"}, staff="AUD0001", purpose="AUDIT").json()
    assert refused["data"] is None or refused["data"]["customers"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert "riskGrade" in refused["errors"][0]["message"]


@contextmanager
def _without_policy_rule(backend: Backend, rule: dict[str, str]) -> Iterator[None]:
    """The live policy without ``rule`` (removed by a security admin) for the block, then back."""
    removed = backend.gql(POLICY_RULE % "removePolicyRule", {"input": rule}, staff="SEC0001")
    assert removed["removePolicyRule"]["errors"] == []
    try:
        yield
    finally:
        added = backend.gql(POLICY_RULE % "addPolicyRule", {"input": rule}, staff="SEC0001")
        assert added["addPolicyRule"]["errors"] == []


SEGMENT_AND_RISK = """
query($id: ID!) { customer(id: $id) {
  segment { tier score riskGrade riskSignals { name } }
  segmentHistory { toTier toRiskGrade }
} }
"""
TIER_FILTER = """
{ customers(first: 1, where: {segment: {tier: {eq: LOW}}}) { totalCount } }
"""


def test_SEG_3_segment_and_segment_risk_are_checked_separately(backend: Backend) -> None:
    """Supervisors without `segment_risk` (the rule taken out of the live policy through the
    policy API) keep `segment`: tier and score shown, the risk grade, its signals and its
    history withheld (FIELD_FORBIDDEN), and the risk-grade filter FORBIDDEN while the tier
    filter works."""
    customer = create_customer(backend, staff="RM0001")
    _assess(backend, customer["id"], 500, staff="RM0001")  # HIGH risk, LOW value
    rule = {
        "role": "BRANCH_SUPERVISOR",
        "object": "segment_risk",
        "action": "full",
        "effect": "allow",
    }
    with _without_policy_rule(backend, rule):
        body = backend.post(SEGMENT_AND_RISK, {"id": customer["id"]}, staff="SUP0001").json()
        found = body["data"]["customer"]
        segment = found["segment"]
        assert (segment["tier"], segment["score"]) == ("LOW", "0.00")
        assert (segment["riskGrade"], segment["riskSignals"]) == (None, None)
        assert {h["toTier"] for h in found["segmentHistory"]} == {"LOW"}
        assert {h["toRiskGrade"] for h in found["segmentHistory"]} == {None}
        withheld = {tuple(e["path"][-2:]) for e in body["errors"]}
        assert {e["extensions"]["code"] for e in body["errors"]} == {"FIELD_FORBIDDEN"}
        assert ("segment", "riskGrade") in withheld and ("segment", "tier") not in withheld
        tiers = backend.post(TIER_FILTER, staff="SUP0001").json()
        assert "errors" not in tiers and tiers["data"]["customers"]["totalCount"] >= 1
        refused = backend.post(RISK_FILTER, {"grade": "HIGH"}, staff="SUP0001").json()
        assert refused["data"] is None or refused["data"]["customers"] is None
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert "riskGrade" in refused["errors"][0]["message"]
    again = backend.post(SEGMENT_AND_RISK, {"id": customer["id"]}, staff="SUP0001").json()
    assert again["data"]["customer"]["segment"]["riskGrade"] == "HIGH"
