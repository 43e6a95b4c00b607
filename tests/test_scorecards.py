"""Scorecards (KPI-2) and incentives (KPI-3) through the API, on a small fixed world whose
scores are computed by hand (tests/scorecard_steps.py). Each test has a month of its own (the
weight versions of different tests must not overlap)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import text

from core import clock
from tests import scorecard_steps as steps
from tests.conftest import Backend

KPIS = """
query($period: KpiPeriodInput!, $scope: KpiScopeInput) {
  kpis(period: $period, scope: $scope, indicators: ["NEW_CUSTOMERS"]) {
    scope { values { indicator value } }
  }
}
"""


def _by_label(found: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {card["label"]: card for card in found["scorecards"]}


def test_scorecards_match_hand_computed_scores_KPI_2(backend: Backend) -> None:
    world = steps.world(backend, "2025-01")
    assessed = steps.assess(backend, world)
    assert assessed["errors"] == []
    # Branch, two teams, three managers; the supervisor has no customers: no scorecard.
    assert assessed["scorecardCount"] == 6
    assert assessed["version"]["version"] == 1
    staff = _by_label(steps.scorecards(backend, world, "STAFF"))
    assert {k: (v["score"], v["rank"], v["customers"]) for k, v in staff.items()} == {
        "员工RMA": ("85.00", 1, 3),
        "员工RMB": ("55.00", 2, 1),
        "员工RMC": ("50.00", 3, 2),
    }
    c = staff["员工RMC"]
    assert c["majorComplaints"] == 0
    # Rank 3 of top 3, exactly the minimum score 50, 2 customers, no major complaint: a star.
    assert [h["title"] for h in c["honours"]] == ["SERVICE_STAR"]
    assert [
        (line["indicator"], line["weight"], line["value"], line["numerator"], line["score"])
        for line in c["lines"]
    ] == [
        ("NEW_CUSTOMERS", "0.6", "2", "2", "50.00"),
        ("COMPLAINT_COUNT", "0.4", "1", "1", "50.00"),
    ]
    teams = _by_label(steps.scorecards(backend, world, "TEAM"))
    assert {k: (v["score"], v["rank"]) for k, v in teams.items()} == {
        "团队T1": ("70.00", 1),
        "团队T2": ("47.50", 2),
    }
    (branch,) = steps.scorecards(backend, world, "BRANCH")["scorecards"]
    assert (branch["score"], branch["customers"]) == ("50.00", 6)
    # No survey answers: no value, no score; the weighted indicator with a value carries it.
    assert branch["lines"][1] == {
        "indicator": "SATISFACTION_SCORE",
        "weight": "0.5",
        "value": None,
        "numerator": "0",
        "denominator": "0",
        "nullReason": "EMPTY_DENOMINATOR",
        "score": None,
    }


def _audited(backend: Backend) -> int:
    with backend.engine.connect() as connection:
        found = connection.scalar(
            text("SELECT COUNT(*) FROM audit_log WHERE operation = 'assessScorecards'")
        )
    return int(found or 0)


def _refusal(backend: Backend, query: str, variables: dict[str, Any], staff: str = "HO0001") -> Any:
    body = backend.post(query, variables, staff=staff).json()
    assert body.get("data") is None or not any(body["data"].values()), body
    return body["errors"][0]["extensions"]


def test_honours_by_rule_and_trainings_for_the_weakest_indicators_KPI_3(backend: Backend) -> None:
    world = steps.world(backend, "2025-02", major=True)
    assert steps.assess(backend, world)["errors"] == []
    staff = _by_label(steps.scorecards(backend, world, "STAFF"))
    # SERVICE_STAR: rank ≤ 3, score ≥ 50, ≥ 2 customers, no major complaint.
    assert [h["title"] for h in staff["员工RMA"]["honours"]] == ["SERVICE_STAR"]
    assert staff["员工RMA"]["honours"][0]["titleText"] == "客户服务明星"
    assert "客户数不少于 2" in staff["员工RMA"]["honours"][0]["rule"]
    assert staff["员工RMB"]["honours"] == []  # 1 customer
    assert staff["员工RMC"]["majorComplaints"] == 1
    assert staff["员工RMC"]["honours"] == []  # 50.00 is enough, but a major complaint
    teams = _by_label(steps.scorecards(backend, world, "TEAM"))
    # EXCELLENT_TEAM: rank 1 and score ≥ 70: T1 has exactly 70.00.
    assert [h["titleText"] for h in teams["团队T1"]["honours"]] == ["优秀客户管理团队"]
    assert teams["团队T2"]["honours"] == []
    # Trainings: indicators scoring below 60 (trainings.toml), weakest first.
    assert teams["团队T1"]["trainings"] == [
        {
            "indicator": "NEW_CUSTOMERS",
            "courseCode": "RM-101",
            "courseTitle": "新客户拓展",
            "score": "40.00",
        }
    ]
    assert [t["score"] for t in teams["团队T2"]["trainings"]] == ["20.00"]  # 75.00: not weak
    assert staff["员工RMB"]["trainings"] == []  # teams only


def test_a_frozen_scorecard_keeps_its_values_and_a_recomputation_is_a_new_version_KPI_2(
    backend: Backend,
) -> None:
    world = steps.world(backend, "2025-03")
    audited = _audited(backend)
    assert steps.assess(backend, world)["errors"] == []
    with clock.travel_to(world.in_period(20), all_threads=True):
        steps.add_customer(backend, world, world.b)  # a late correction of March's data
    kpis = backend.gql(
        KPIS,
        {
            "period": {"label": "2025-03"},
            "scope": {"level": "STAFF", "id": world.staff_ids[world.b]},
        },
    )["kpis"]
    assert kpis["scope"]["values"][0]["value"] == "2"  # the live indicator moved
    staff = _by_label(steps.scorecards(backend, world, "STAFF"))
    assert staff["员工RMB"]["score"] == "55.00"  # the frozen scorecard did not
    assert staff["员工RMB"]["lines"][0]["value"] == "1"
    again = steps.assess(backend, world, reason="补录三月新客户")
    assert again["errors"] == []
    assert again["version"]["version"] == 2
    assert again["version"]["reason"] == "补录三月新客户"
    newest = steps.scorecards(backend, world, "STAFF")
    assert [v["version"] for v in newest["versions"]] == [2, 1]
    assert _by_label(newest)["员工RMB"]["score"] == "70.00"  # 0.6 × 50 + 0.4 × 100
    # Now with 2 customers B is a Customer Service Star — in version 2, not in version 1.
    assert [h["title"] for h in _by_label(newest)["员工RMB"]["honours"]] == ["SERVICE_STAR"]
    old = _by_label(steps.scorecards(backend, world, "STAFF", version=1))
    assert old["员工RMB"]["score"] == "55.00"
    assert old["员工RMB"]["honours"] == []
    assert _audited(backend) == audited + 2  # both assessments, each one CHANGE entry


def test_a_bonus_pool_splits_by_score_to_the_fen_and_sums_exactly_KPI_3(backend: Backend) -> None:
    world = steps.world(backend, "2025-04")
    assert steps.assess(backend, world)["errors"] == []
    query = """query($pool: Decimal!, $branch: ID) {
      bonusAllocation(period: "2025-04", pool: $pool, branchId: $branch) {
        version pool total shares { label rank score amount } } }"""

    def split(pool: str) -> dict[str, Any]:
        found = backend.gql(query, {"pool": pool, "branch": world.branch_id})
        return dict(found["bonusAllocation"])

    thousand = split("1000.00")
    # 85 : 55 : 50 of 100000 fen = 44736.84, 28947.37, 26315.79: 2 fen left over go to the
    # largest remainders (A .84, C .79).
    assert [(s["label"], s["amount"]) for s in thousand["shares"]] == [
        ("员工RMA", "447.37"),
        ("员工RMB", "289.47"),
        ("员工RMC", "263.16"),
    ]
    assert thousand["total"] == "1000.00"
    one_fen = split("0.01")
    assert [s["amount"] for s in one_fen["shares"]] == ["0.01", "0.00", "0.00"]
    big = split("1000000.00")
    assert sum(Decimal(s["amount"]) for s in big["shares"]) == Decimal("1000000.00")
    refused = _refusal(backend, query, {"pool": "-0.01", "branch": world.branch_id})
    assert refused["fields"] == [
        {"field": ["pool"], "code": "NEGATIVE_AMOUNT", "message": "must not be negative"}
    ]
    too_fine = _refusal(backend, query, {"pool": "1.001", "branch": world.branch_id})
    assert too_fine["fields"][0]["code"] == "INVALID_AMOUNT"
    # Head office only.
    assert _refusal(backend, query, {"pool": "1.00"}, staff=world.supervisor)["code"] == (
        "FORBIDDEN"
    )


def test_periods_not_ended_or_in_the_future_are_refused_at_midnight_beijing_KPI_2(
    backend: Backend,
) -> None:
    branch = steps.world(backend, "2025-05").branch_id
    last_second = datetime(2025, 5, 31, 15, 59, 59, tzinfo=UTC)  # 23:59:59 Beijing
    with clock.travel_to(last_second, all_threads=True):
        payload = backend.gql(steps.ASSESS, {"input": {"period": "2025-05", "branchId": branch}})
        assert payload["assessScorecards"]["errors"] == [
            {"field": ["period"], "code": "PERIOD_NOT_ENDED", "message": "the period has not ended"}
        ]
        payload = backend.gql(steps.ASSESS, {"input": {"period": "2025-06", "branchId": branch}})
        assert [e["code"] for e in payload["assessScorecards"]["errors"]] == ["FUTURE_PERIOD"]
        assert payload["assessScorecards"]["errors"][0]["field"] == ["period", "label"]
    with clock.travel_to(last_second.replace(second=0, minute=0, hour=16), all_threads=True):
        payload = backend.gql(steps.ASSESS, {"input": {"period": "2025-05", "branchId": branch}})
        assert payload["assessScorecards"]["errors"] == []
        # The month after: no weight version covers it (the test weights are May's only).
    payload = backend.gql(steps.ASSESS, {"input": {"period": "2025-06", "branchId": branch}})
    assert [e["code"] for e in payload["assessScorecards"]["errors"]] == ["NO_WEIGHTS"]
    payload = backend.gql(steps.ASSESS, {"input": {"period": "2025", "branchId": branch}})
    assert [e["field"] for e in payload["assessScorecards"]["errors"]] == [["period"]]
    unknown = backend.gql(
        steps.ASSESS, {"input": {"period": "2025-05", "branchId": "QnJhbmNoOjk5OTk5OTk="}}
    )
    assert unknown["assessScorecards"]["errors"][0]["code"] == "UNKNOWN_SCOPE"
    with backend.engine.connect() as connection:
        runs = connection.scalar(
            text("SELECT COUNT(*) FROM scorecard_runs WHERE period = '2025-06'")
        )
    assert runs == 0  # nothing half-written


def test_weight_versions_refuse_bad_weights_unknown_indicators_and_overlaps_KPI_2(
    backend: Backend,
) -> None:
    versions = (
        "{ scorecardWeights { version validFrom validTo levels { level indicators { weight } } } }"
    )
    before = backend.gql(versions)["scorecardWeights"]
    seeded = before[0]
    assert (seeded["version"], seeded["validFrom"]) == (1, "2026-01-01")
    for level in seeded["levels"]:
        assert sum(Decimal(i["weight"]) for i in level["indicators"]) == 1
    levels = [dict(level) for level in steps.LEVELS]
    levels[2] = {
        "level": "STAFF",
        "indicators": [
            steps.weight("NEW_CUSTOMERS", "0.6", "HIGHER", "4", "0"),
            steps.weight("COMPLAINT_COUNT", "0.3999", "LOWER", "0", "2"),
        ],
    }
    not_one = steps.set_weights(backend, "2025-09", levels=levels)["errors"]
    assert not_one == [
        {
            "field": ["levels", "2", "indicators"],
            "code": "WEIGHTS_NOT_ONE",
            "message": "the weights must add up to 1",
        }
    ]
    levels[2] = {
        "level": "STAFF",
        "indicators": [
            steps.weight("NO_SUCH_KPI", "0.5", "HIGHER", "4", "0"),
            steps.weight("COMPLAINT_COUNT", "0.5", "LOWER", "2", "0"),
        ],
    }
    errors = steps.set_weights(backend, "2025-09", levels=levels)["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["levels", "2", "indicators", "0", "indicator"], "UNKNOWN_INDICATOR"),
        (["levels", "2", "indicators", "1", "target"], "INVALID"),  # LOWER: target < floor
    ]
    assert all("NO_SUCH_KPI" not in e["message"] for e in errors)
    assert steps.set_weights(backend, "2025-09")["errors"] == []
    overlapping = steps.set_weights(
        backend, "2025-09", validFrom="2025-08-15", validTo="2025-09-01"
    )["errors"]
    assert overlapping[0]["field"] == ["validFrom"]
    assert overlapping[0]["code"] == "OVERLAPPING_WEIGHT_VERSIONS"
    after = backend.gql(versions)["scorecardWeights"]
    assert len(after) == len(before) + 1  # only the good one
    # An open-ended version that began earlier ends the day before a later one begins.
    made = steps.set_weights(backend, "2025-09", validFrom="2031-01-01", validTo=None)
    assert made["errors"] == []
    assert backend.gql(versions)["scorecardWeights"][0]["validTo"] == "2030-12-31"
    later = steps.set_weights(backend, "2025-09", validFrom="2030-06-01", validTo="2030-06-30")
    assert later["errors"][0]["code"] == "OVERLAPPING_WEIGHT_VERSIONS"
    # A version for a while (the first quarter of 2032) interrupts the standing one, which
    # resumes on 1 April 2032 — not "no weights" from then on.
    standing = backend.gql(versions)["scorecardWeights"][-1]
    assert (standing["validFrom"], standing["validTo"]) == ("2031-01-01", None)
    campaign = steps.set_weights(backend, "2025-09", validFrom="2032-01-01", validTo="2032-03-31")
    assert campaign["errors"] == []
    *_, interrupted, quarter, resumed = backend.gql(versions)["scorecardWeights"]
    assert (interrupted["version"], interrupted["validTo"]) == (standing["version"], "2031-12-31")
    assert (quarter["validFrom"], quarter["validTo"]) == ("2032-01-01", "2032-03-31")
    assert resumed["version"] == quarter["version"] + 1
    assert (resumed["validFrom"], resumed["validTo"]) == ("2032-04-01", None)
    assert resumed["levels"] == standing["levels"]
    supervisor = backend.post(
        steps.SET_WEIGHTS,
        {"input": {"validFrom": "2040-01-01", "summary": "x", "levels": steps.LEVELS}},
        staff="SUP0001",
    ).json()
    assert supervisor["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_who_reads_which_scorecards_KPI_2(backend: Backend) -> None:
    world = steps.world(backend, "2025-07")
    refused = backend.post(
        steps.ASSESS,
        {"input": {"period": "2025-07", "branchId": world.branch_id}},
        staff=world.supervisor,
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert steps.assess(backend, world)["errors"] == []
    # The branch's supervisor reads its scorecards (and by default only theirs).
    assert len(steps.scorecards(backend, world, "STAFF", staff=world.supervisor)["scorecards"]) == 3
    # Another branch's supervisor may not; a marketing analyst has no scorecards at all.
    variables = {
        "period": "2025-07",
        "level": "STAFF",
        "scope": {"level": "BRANCH", "id": world.branch_id},
    }
    assert _refusal(backend, steps.SCORECARDS, variables, staff="SUP0001")["code"] == "FORBIDDEN"
    assert _refusal(backend, steps.SCORECARDS, variables, staff="MKT0001")["code"] == "FORBIDDEN"
    # A relationship manager reads their own scorecard only.
    own = backend.gql(steps.SCORECARDS, {"period": "2025-07", "level": "STAFF"}, staff=world.a)[
        "scorecards"
    ]
    assert [(c["label"], c["score"]) for c in own["scorecards"]] == [("员工RMA", "85.00")]
    other = {
        "period": "2025-07",
        "level": "STAFF",
        "scope": {"level": "STAFF", "id": world.staff_ids[world.b]},
    }
    assert _refusal(backend, steps.SCORECARDS, other, staff=world.a)["code"] == "FORBIDDEN"
    team = {
        "period": "2025-07",
        "level": "TEAM",
        "scope": {"level": "BRANCH", "id": world.branch_id},
    }
    assert _refusal(backend, steps.SCORECARDS, team, staff=world.a)["code"] == "FORBIDDEN"
    unknown = {
        "period": "2025-07",
        "level": "STAFF",
        "scope": {"level": "TEAM", "id": "VGVhbTo5OTk5OTk5"},
    }
    assert _refusal(backend, steps.SCORECARDS, unknown)["fields"][0]["code"] == "UNKNOWN_SCOPE"
