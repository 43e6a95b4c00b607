"""The assessment's KPIs (KPI-2 feeding KPI-1 and the scorecards) over HTTP on SQLite and
PostgreSQL: STAFF_RATING and SPOT_CHECK_PASS_RATE against values computed by hand on a small
fixed data set in 2015 (no other test writes there), attributed to the member of staff rated
or responsible → their team at the period's end → branch; empty periods (null with a reason),
the scope boundary between branches, period boundaries at 00:00 Beijing, suppression for
marketing analysts counting each customer once per unit, and a frozen staff scorecard that
moves with the member of staff's ratings.

The data set (Beijing times), branches A (supervisor SUP, managers RM1, RM2, RM3) and B
(supervisor SUP, manager RM4); teams A/T1 (RM1, SUP) and A/T2 (RM2, RM3) from 2015-03-01, RM2
moved to T1 on 2015-06-15; customers of A a1 … a3 (RM1), a4 (RM3), a5 (RM2); b1 of B (RM4); x
registered in B (RM4) and moved to A on 2015-05-20, y registered in A (RM3) and moved to B:

- ratings recorded 2015-05-12: RM1 ← a1 5, a2 4, a3 3; SUP ← a1 2; RM2 ← a5 4; RM3 ← y 5;
  RM4 ← x 1; on 2015-06-30 23:59:59 RM1 ← a2 5; on 2015-07-01 00:00:00 RM1 ← a1 1 (Q3).
- spot checks of contacts of 2015-04-20, every contact drawn, inspected by AUD0001: check 1
  (A) p1 RM1/a1 passed, p2 RM1/a2 one criterion failed, p3 RM3/a4 passed (2015-05-05), p4
  RM2/a5 passed at 2015-07-01 00:00:00; completed 2015-07-02. Check 2 (A, contact of
  2015-04-22 RM1/a3) failed 2015-05-06, never completed. Check 3 (B) q1 RM4/b1 passed
  2015-05-05, completed 2015-05-07.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from core import clock
from tests import scorecard_steps as steps
from tests.conftest import SOURCE, Backend, new_id_number
from tests.test_spot_checks import CRITERIA as CONTACT_CRITERIA
from tests.test_spot_checks import inspector_id, new_branch

BEIJING = clock.BUSINESS_TIME

KPIS = """
query($period: KpiPeriodInput!, $scope: KpiScopeInput, $indicators: [String!], $drill: Boolean!) {
  kpis(period: $period, scope: $scope, indicators: $indicators, drillDown: $drill) {
    minimumCount
    scope { label values { ...v } }
    children { id label values { ...v } }
  }
}
fragment v on KpiValue {
  indicator value numerator denominator suppressed nullReason
  current { customers } previous { value nullReason }
}
"""
# Operations asking for IDs only: no personal field is read, so no read-audit entry is queued
# for the audit writer to commit while the next change runs (SQLite: a change that has read
# fails when another writer commits before it writes).
CREATE = """
mutation($input: CreateCustomerInput!) { createCustomer(input: $input) {
  customer { id } errors { field code message } } }
"""
LOG = """
mutation($input: LogContactInput!) { logContact(input: $input) {
  contact { id } errors { field code message } } }
"""
DRAW = """
mutation($input: DrawSpotCheckInput!) { drawSpotCheck(input: $input) {
  spotCheck { id items { id subjectId } } errors { field code message } } }
"""
FINDINGS = """
mutation($input: RecordSpotCheckFindingsInput!) { recordSpotCheckFindings(input: $input) {
  item { id } errors { field code message } } }
"""
COMPLETE = """
mutation($input: CompleteSpotCheckInput!) { completeSpotCheck(input: $input) {
  spotCheck { id } errors { field code message } } }
"""
RECORD = """
mutation($input: RecordStaffEvaluationInput!) { recordStaffEvaluation(input: $input) {
  evaluation { staff { employeeNo } } errors { field code message } } }
"""
UPDATE = """
mutation($input: UpdateCustomerInput!) { updateCustomer(input: $input) { errors { code } } }
"""
VERSION = "query($id: ID!) { node(id: $id) { ... on Customer { version } } }"
CREATE_TEAM = """
mutation($input: CreateTeamInput!) { createTeam(input: $input) { team { id } errors { code } } }
"""
MOVE = """
mutation($input: MoveStaffToTeamInput!) { moveStaffToTeam(input: $input) { errors { code } } }
"""
WEIGHTS = """{ scorecardWeights { version levels { level indicators {
  indicator weight direction target floor } } } }"""
BOTH = ["STAFF_RATING", "SPOT_CHECK_PASS_RATE"]


def _at(moment: str) -> Any:
    """Travel to a Beijing wall-clock moment ("2015-05-12T12:00:00")."""
    return clock.travel_to(
        datetime.fromisoformat(moment).replace(tzinfo=BEIJING),
        all_threads=True,  # type: ignore[arg-type]
    )


@dataclass
class Org:
    """A branch made for the test: employee numbers and global IDs by suffix."""

    code: str
    branch: str  # global ID
    staff: dict[str, str]  # suffix → employee no
    ids: dict[str, str]  # suffix → global Staff ID

    def who(self, staff_id: str) -> str:
        """The suffix of a member of staff by global ID."""
        return next(suffix for suffix, found in self.ids.items() if found == staff_id)


def _branch(backend: Backend, managers: tuple[str, ...]) -> Org:
    """A branch of its own with a supervisor (SUP) and relationship managers."""
    found = new_branch(backend, managers=managers)
    suffixes = ("SUP", *managers)
    return Org(
        found["code"],
        found["branch_id"],
        {suffix: found[suffix] for suffix in suffixes},
        {suffix: found[f"{suffix}_id"] for suffix in suffixes},
    )


def _team(backend: Backend, org: Org, code: str, members: list[str]) -> str:
    made = backend.gql(
        CREATE_TEAM, {"input": {"branchId": org.branch, "code": code, "name": f"团队{code}"}}
    )["createTeam"]
    assert made["errors"] == []
    for suffix in members:
        _move(backend, org, suffix, made["team"]["id"])
    return str(made["team"]["id"])


def _move(backend: Backend, org: Org, suffix: str, team: str) -> None:
    moved = backend.gql(MOVE, {"input": {"staffId": org.ids[suffix], "teamId": team}})
    assert moved["moveStaffToTeam"]["errors"] == []


def _customer(backend: Backend, org: Org, manager: str) -> str:
    values = {
        "name": "评价测试客户",
        "idNumber": new_id_number(),
        "source": SOURCE,
        "branch": org.branch,
        "relationshipManager": org.ids[manager],
    }
    made = backend.gql(CREATE, {"input": values})["createCustomer"]
    assert made["errors"] == [], made["errors"]
    return str(made["customer"]["id"])


def _contact(backend: Backend, customer: str, staff: str, moment: str) -> str:
    with _at(moment):
        values = {
            "customerId": customer,
            "channel": "VISIT",
            "purpose": "CARE_AND_FEEDBACK",
            "contactedAt": clock.now().isoformat(),
            "summary": "客户咨询理财到期安排",
        }
        made = backend.gql(LOG, {"input": values}, staff=staff)["logContact"]
    assert made["errors"] == [], made["errors"]
    return str(made["contact"]["id"])


def _rate(backend: Backend, customer: str, contact: str, rating: int, moment: str) -> str:
    """The customer's rating of whoever made the contact, recorded by head office at
    ``moment``; the member of staff rated."""
    values = {
        "customerId": customer,
        "occasion": "CONTACT",
        "occasionId": contact,
        "channel": "PHONE",
        "rating": rating,
    }
    with _at(moment):
        done = backend.gql(RECORD, {"input": values})["recordStaffEvaluation"]
    assert done["errors"] == [], done["errors"]
    return str(done["evaluation"]["staff"]["employeeNo"])


def _relocate(backend: Backend, customer: str, org: Org, manager: str) -> None:
    version = backend.gql(VERSION, {"id": customer})["node"]["version"]
    given = {
        "id": customer,
        "expectedVersion": version,
        "changes": {"branch": org.branch, "relationshipManager": org.ids[manager]},
        "source": {"kind": "PROACTIVE_CONTACT", "detail": "moved branch"},
    }
    assert backend.gql(UPDATE, {"input": given})["updateCustomer"]["errors"] == []


def _inspect(backend: Backend, item: str, moment: str, failed: bool = False) -> None:
    findings: list[dict[str, Any]] = [{"criterion": c, "passed": True} for c in CONTACT_CRITERIA]
    if failed:
        findings[-1] = {
            "criterion": CONTACT_CRITERIA[-1],
            "passed": False,
            "severity": "LOW",
            "note": "未按约定回访",
        }
    with _at(moment):
        done = backend.gql(
            FINDINGS, {"input": {"itemId": item, "findings": findings}}, staff="AUD0001"
        )["recordSpotCheckFindings"]
    assert done["errors"] == [], done["errors"]


def _check(backend: Backend, org: Org, day: str, seed: int) -> list[dict[str, Any]]:
    """Every contact of the branch's customers on ``day`` drawn (rate 1); the items."""
    values = {
        "kind": "CONTACT",
        "inspectorIds": [inspector_id(backend)],
        "seed": seed,
        "rate": "1",
        "branchId": org.branch,
        "start": day,
        "end": day,
    }
    with _at(f"{day}T18:00:00"):
        made = backend.gql(DRAW, {"input": values})["drawSpotCheck"]
    assert made["errors"] == [], made["errors"]
    return [{**item, "check": made["spotCheck"]["id"]} for item in made["spotCheck"]["items"]]


def _complete(backend: Backend, check: str, moment: str) -> None:
    with _at(moment):
        done = backend.gql(COMPLETE, {"input": {"id": check}})["completeSpotCheck"]
    assert done["errors"] == [], done["errors"]


@dataclass
class World:
    a: Org
    b: Org
    t1: str
    t2: str


def build(backend: Backend) -> World:
    a = _branch(backend, ("RM1", "RM2", "RM3"))
    b = _branch(backend, ("RM4",))
    with _at("2015-03-01T09:00:00"):
        t1 = _team(backend, a, "T1", ["RM1", "SUP"])
        t2 = _team(backend, a, "T2", ["RM2", "RM3"])
    with _at("2015-03-02T09:00:00"):
        a1, a2, a3 = (_customer(backend, a, "RM1") for _ in range(3))
        a4, a5 = _customer(backend, a, "RM3"), _customer(backend, a, "RM2")
        b1, x = _customer(backend, b, "RM4"), _customer(backend, b, "RM4")
        y = _customer(backend, a, "RM3")
    # Spot checks of the contacts of 20 April (A: p1 … p4; B: q1) and 22 April (A: p5).
    p1 = _contact(backend, a1, a.staff["RM1"], "2015-04-20T10:00:00")
    p2 = _contact(backend, a2, a.staff["RM1"], "2015-04-20T11:00:00")
    p3 = _contact(backend, a4, a.staff["RM3"], "2015-04-20T12:00:00")
    p4 = _contact(backend, a5, a.staff["RM2"], "2015-04-20T13:00:00")
    _contact(backend, b1, b.staff["RM4"], "2015-04-20T10:00:00")
    _contact(backend, a3, a.staff["RM1"], "2015-04-22T10:00:00")
    first = {item["subjectId"]: item for item in _check(backend, a, "2015-04-20", 11)}
    assert set(first) == {p1, p2, p3, p4}
    (open_item,) = _check(backend, a, "2015-04-22", 12)
    (q1,) = _check(backend, b, "2015-04-20", 13)
    _inspect(backend, first[p1]["id"], "2015-05-05T10:00:00")
    _inspect(backend, first[p2]["id"], "2015-05-05T11:00:00", failed=True)
    _inspect(backend, first[p3]["id"], "2015-05-05T12:00:00")
    _inspect(backend, first[p4]["id"], "2015-07-01T00:00:00")  # Q3
    _inspect(backend, open_item["id"], "2015-05-06T10:00:00", failed=True)
    _inspect(backend, q1["id"], "2015-05-05T10:00:00")
    _complete(backend, first[p1]["check"], "2015-07-02T10:00:00")
    _complete(backend, q1["check"], "2015-05-07T10:00:00")
    # Ratings.
    may, june = "2015-05-12T09:00:00", "2015-06-30T09:00:00"
    rated = [  # customer, staff, contacted, rating, recorded
        (a1, a.staff["RM1"], may, 5, "2015-05-12T12:00:00"),
        (a2, a.staff["RM1"], may, 4, "2015-05-12T12:00:00"),
        (a3, a.staff["RM1"], may, 3, "2015-05-12T12:00:00"),
        (a1, a.staff["SUP"], may, 2, "2015-05-12T12:00:00"),
        (a5, a.staff["RM2"], may, 4, "2015-05-12T12:00:00"),
        (y, a.staff["RM3"], may, 5, "2015-05-12T12:00:00"),
        (x, b.staff["RM4"], may, 1, "2015-05-12T12:00:00"),
        (a2, a.staff["RM1"], june, 5, "2015-06-30T23:59:59"),
        (a1, a.staff["RM1"], june, 1, "2015-07-01T00:00:00"),
    ]
    for customer, staff, contacted, rating, recorded in rated:
        contact = _contact(backend, customer, staff, contacted)
        assert _rate(backend, customer, contact, rating, recorded) == staff
    # x becomes A's customer, y B's: ratings stay with the staff they rated.
    with _at("2015-05-20T09:00:00"):
        _relocate(backend, x, a, "RM1")
        _relocate(backend, y, b, "RM4")
    with _at("2015-06-15T09:00:00"):
        _move(backend, a, "RM2", t1)
    return World(a, b, t1, t2)


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[World]:
    yield build(backend)


def _kpis(
    backend: Backend,
    label: str,
    level: str,
    key: str,
    drill: bool = False,
    staff: str = "HO0001",
) -> dict[str, Any]:
    variables = {
        "period": {"label": label},
        "scope": {"level": level, "id": key},
        "indicators": BOTH,
        "drill": drill,
    }
    return dict(backend.gql(KPIS, variables, staff=staff)["kpis"])


def _figures(unit: dict[str, Any]) -> dict[str, tuple[Any, ...]]:
    """indicator → (value, numerator, denominator, customers, nullReason)."""
    return {
        v["indicator"]: (
            v["value"],
            v["numerator"],
            v["denominator"],
            v["current"]["customers"],
            v["nullReason"],
        )
        for v in unit["values"]
    }


def test_KPI_2_staff_rating_and_spot_check_pass_rate_match_the_hand_computed_values(
    backend: Backend, world: World
) -> None:
    a = _kpis(backend, "2015-Q2", "BRANCH", world.a.branch, drill=True)
    # Ratings of A's staff in Q2: RM1 5 + 4 + 3 + 5 (23:59:59 on 30 June), SUP 2, RM2 4, RM3 5
    # (from y, now B's customer) = 28 of 7; RM4's rating from x (now A's customer) is B's, and
    # RM1's 1 at 00:00 on 1 July is Q3's. Five customers rated: a1 (twice), a2, a3, a5, y.
    # Spot checks: p1 passed, p2 failed, p3 passed; p4 was inspected in Q3; check 2 is open.
    assert _figures(a["scope"]) == {
        "STAFF_RATING": ("4.00", "28", "7", 5, None),
        "SPOT_CHECK_PASS_RATE": ("0.6667", "2", "3", 3, None),
    }
    # Teams at the period's end: T1 = RM1, SUP and RM2 (moved in on 15 June, rated in May
    # while in T2); T2 = RM3. T1: 17 + 2 + 4 = 23 of 6 from a1, a2, a3, a5 (4 customers, not
    # the 5 its members' cells add up to); pass rate p1, p2 → 1 of 2.
    teams = {child["label"]: _figures(child) for child in a["children"]}
    assert teams == {
        "团队T1": {
            "STAFF_RATING": ("3.83", "23", "6", 4, None),
            "SPOT_CHECK_PASS_RATE": ("0.5000", "1", "2", 2, None),
        },
        "团队T2": {
            "STAFF_RATING": ("5.00", "5", "1", 1, None),
            "SPOT_CHECK_PASS_RATE": ("1.0000", "1", "1", 1, None),
        },
    }
    t1 = _kpis(backend, "2015-Q2", "TEAM", world.t1, drill=True)
    assert _figures(t1["scope"]) == teams["团队T1"]
    members = {world.a.who(c["id"]): _figures(c)["STAFF_RATING"] for c in t1["children"]}
    assert members == {
        "RM1": ("4.25", "17", "4", 3, None),
        "RM2": ("4.00", "4", "1", 1, None),
        "SUP": ("2.00", "2", "1", 1, None),
    }
    rm1 = _kpis(backend, "2015-Q2", "STAFF", world.a.ids["RM1"])
    assert _figures(rm1["scope"])["SPOT_CHECK_PASS_RATE"] == ("0.5000", "1", "2", 2, None)
    # Branch B: only RM4's rating and q1 — the rating from x, A's customer now, included.
    b = _kpis(backend, "2015-Q2", "BRANCH", world.b.branch)
    assert _figures(b["scope"]) == {
        "STAFF_RATING": ("1.00", "1", "1", 1, None),
        "SPOT_CHECK_PASS_RATE": ("1.0000", "1", "1", 1, None),
    }
    # Q3: RM1's rating at 00:00 on 1 July; p4 inspected then (RM2, in T1 by then).
    july = _kpis(backend, "2015-Q3", "BRANCH", world.a.branch, drill=True)
    assert _figures(july["scope"]) == {
        "STAFF_RATING": ("1.00", "1", "1", 1, None),
        "SPOT_CHECK_PASS_RATE": ("1.0000", "1", "1", 1, None),
    }
    assert {child["label"]: _figures(child)["STAFF_RATING"] for child in july["children"]} == {
        "团队T1": ("1.00", "1", "1", 1, None),
        "团队T2": (None, "0", "0", 0, "EMPTY_DENOMINATOR"),  # RM3: Q2 only
    }


def test_KPI_2_an_empty_period_has_no_value_and_says_why(backend: Backend, world: World) -> None:
    q1 = _kpis(backend, "2015-Q1", "BRANCH", world.a.branch)
    assert _figures(q1["scope"]) == {
        "STAFF_RATING": (None, "0", "0", 0, "EMPTY_DENOMINATOR"),
        "SPOT_CHECK_PASS_RATE": (None, "0", "0", 0, "EMPTY_DENOMINATOR"),
    }
    q2 = _kpis(backend, "2015-Q2", "STAFF", world.a.ids["RM3"])
    for value in q2["scope"]["values"]:
        assert value["previous"] == {"value": None, "nullReason": "EMPTY_DENOMINATOR"}
    # RM4 (in no team) a year before: nothing at all.
    assert _figures(_kpis(backend, "2014-Q2", "STAFF", world.b.ids["RM4"])["scope"]) == {
        "STAFF_RATING": (None, "0", "0", 0, "EMPTY_DENOMINATOR"),
        "SPOT_CHECK_PASS_RATE": (None, "0", "0", 0, "EMPTY_DENOMINATOR"),
    }


def test_KPI_2_a_supervisor_reads_their_staff_s_ratings_whoever_the_customer_is(
    backend: Backend, world: World
) -> None:
    """The caller's customer rows do not narrow a staff-attributed indicator: A's supervisor
    does not see y (B's customer now), yet RM3's rating from y is RM3's — the same figure head
    office and the scorecards get. Another branch's scope stays refused."""
    mine = _kpis(backend, "2015-Q2", "STAFF", world.a.ids["RM3"], staff=world.a.staff["SUP"])
    assert _figures(mine["scope"])["STAFF_RATING"] == ("5.00", "5", "1", 1, None)
    body = backend.post(
        KPIS,
        {
            "period": {"label": "2015-Q2"},
            "scope": {"level": "BRANCH", "id": world.b.branch},
            "indicators": BOTH,
            "drill": False,
        },
        staff=world.a.staff["SUP"],
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_KPI_2_marketing_gets_ratings_suppressed_by_the_customers_of_each_unit(
    backend: Backend,
) -> None:
    """Branch C, October 2015: six customers of RM5 each rate RM5 and the supervisor, both of
    team T. The team's cell describes 6 customers (under the minimum of 10) though its members'
    cells add up to 12: withheld from a marketing analyst; head office sees 48 of 12 = 4.00.
    December: ten customers rate RM5 — the team's cell counts 10 customers. A member of staff's
    rating is appraisal data: marketing analysts get no figure by member of staff at all."""
    c = _branch(backend, ("RM5",))
    with _at("2015-10-01T09:00:00"):
        team = _team(backend, c, "T", ["RM5", "SUP"])
        customers = [_customer(backend, c, "RM5") for _ in range(6)]
    for customer in customers:
        for staff in ("RM5", "SUP"):
            contact = _contact(backend, customer, c.staff[staff], "2015-10-08T09:00:00")
            _rate(backend, customer, contact, 4, "2015-10-09T09:00:00")
    full = _kpis(backend, "2015-10", "TEAM", team, drill=True)
    assert _figures(full["scope"])["STAFF_RATING"] == ("4.00", "48", "12", 6, None)
    assert [_figures(child)["STAFF_RATING"][3] for child in full["children"]] == [6, 6]
    analyst = _kpis(backend, "2015-10", "TEAM", team, staff="MKT0001")
    assert analyst["minimumCount"] == 10
    rating = next(v for v in analyst["scope"]["values"] if v["indicator"] == "STAFF_RATING")
    assert (rating["suppressed"], rating["value"], rating["nullReason"]) == (
        True,
        None,
        "SUPPRESSED",
    )
    branch = _kpis(backend, "2015-10", "BRANCH", c.branch, staff="MKT0001")
    assert _figures(branch["scope"])["STAFF_RATING"][4] == "SUPPRESSED"
    with _at("2015-12-01T09:00:00"):
        customers += [_customer(backend, c, "RM5") for _ in range(4)]
    for customer in customers:
        contact = _contact(backend, customer, c.staff["RM5"], "2015-12-08T09:00:00")
        _rate(backend, customer, contact, 5, "2015-12-09T09:00:00")
    december = _kpis(backend, "2015-12", "TEAM", team)
    assert _figures(december["scope"])["STAFF_RATING"] == ("5.00", "50", "10", 10, None)
    for scope, drill in (("STAFF", False), ("TEAM", True)):
        key = c.ids["RM5"] if scope == "STAFF" else team
        variables = {
            "period": {"label": "2015-12"},
            "scope": {"level": scope, "id": key},
            "indicators": BOTH,
            "drill": drill,
        }
        refused = backend.post(KPIS, variables, staff="MKT0001").json()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", refused
    head_office = _kpis(backend, "2015-12", "STAFF", c.ids["RM5"])
    assert _figures(head_office["scope"])["STAFF_RATING"] == ("5.00", "50", "10", 10, None)


# ---- scorecards -----------------------------------------------------------------------------


def _default_levels(backend: Backend) -> list[dict[str, Any]]:
    """The reviewed file's weights (version 1), as input for a version of the test's month."""
    versions = backend.gql(WEIGHTS)["scorecardWeights"]
    (first,) = [v for v in versions if v["version"] == 1]
    return [
        {"level": level["level"], "indicators": [dict(i) for i in level["indicators"]]}
        for level in first["levels"]
    ]


def _cards(backend: Backend, world: steps.World, org: Org) -> dict[str, dict[str, Any]]:
    """The staff scorecards of the newest version, by suffix."""
    found = steps.scorecards(backend, world, "STAFF")["scorecards"]
    return {org.who(card["subjectId"]): card for card in found}


def test_KPI_2_a_frozen_staff_scorecard_moves_with_the_customers_ratings(
    backend: Backend,
) -> None:
    """Branch D, November 2015, the default weights (weights.toml, copied to a version for that
    month): RMA and RMB of team T each have one customer, no complaint, no survey, no spot
    check — identical but for their ratings, RMA 5 and RMB 4. Lines with a value: COMPLAINT_RATE
    0.00 → 100 (0.15) and STAFF_RATING (0.15): RMA 5.00 → 100, score 100.00; RMB 4.00 → 100 ×
    (4 − 3) ÷ 1.5 = 66.67, score (15 + 10.0005) ÷ 0.30 = 83.34. RMA ranks first."""
    levels = _default_levels(backend)
    staff_level = next(level for level in levels if level["level"] == "STAFF")
    weights = {
        i["indicator"]: (i["weight"], i["target"], i["floor"]) for i in staff_level["indicators"]
    }
    assert weights["STAFF_RATING"] == ("0.15", "4.50", "3.00")
    assert weights["COMPLAINT_RATE"][0] == "0.15"
    assert weights["SPOT_CHECK_PASS_RATE"][0] == "0.15"
    team_level = next(level for level in levels if level["level"] == "TEAM")
    assert {"STAFF_RATING", "SPOT_CHECK_PASS_RATE"} <= {
        i["indicator"] for i in team_level["indicators"]
    }
    made = backend.gql(
        steps.SET_WEIGHTS,
        {
            "input": {
                "validFrom": "2015-11-01",
                "validTo": "2015-11-30",
                "summary": "the default weights, for November 2015",
                "levels": levels,
            }
        },
    )["setScorecardWeights"]
    assert made["errors"] == []
    d = _branch(backend, ("RMA", "RMB"))
    with _at("2015-11-02T09:00:00"):
        _team(backend, d, "T", ["RMA", "RMB"])
        customers = {rm: _customer(backend, d, rm) for rm in ("RMA", "RMB")}
    for rm, rating in (("RMA", 5), ("RMB", 4)):
        contact = _contact(backend, customers[rm], d.staff[rm], "2015-11-05T09:00:00")
        _rate(backend, customers[rm], contact, rating, "2015-11-06T09:00:00")
    world = steps.World("2015-11", d.code, d.branch, d.staff["SUP"], "", "", "", {}, {})
    assessed = steps.assess(backend, world)
    assert assessed["errors"] == []
    staff = _cards(backend, world, d)
    assert {k: (v["score"], v["rank"]) for k, v in staff.items()} == {
        "RMA": ("100.00", 1),
        "RMB": ("83.34", 2),
    }
    lines = {line["indicator"]: line for line in staff["RMB"]["lines"]}
    assert (lines["STAFF_RATING"]["value"], lines["STAFF_RATING"]["score"]) == ("4.00", "66.67")
    assert lines["SPOT_CHECK_PASS_RATE"]["nullReason"] == "EMPTY_DENOMINATOR"
    (team,) = steps.scorecards(backend, world, "TEAM")["scorecards"]
    team_rating = next(line for line in team["lines"] if line["indicator"] == "STAFF_RATING")
    assert (team_rating["value"], team_rating["numerator"], team_rating["denominator"]) == (
        "4.50",
        "9",
        "2",
    )
    # A rating of RMB recorded late in November: the live KPI moves, the frozen card does not;
    # assessing again (version 2) gives RMB 4.50 → 100: both 100.00, both first.
    contact = _contact(backend, customers["RMB"], d.staff["RMB"], "2015-11-20T09:00:00")
    _rate(backend, customers["RMB"], contact, 5, "2015-11-20T10:00:00")
    live = _kpis(backend, "2015-11", "STAFF", d.ids["RMB"])
    assert _figures(live["scope"])["STAFF_RATING"][:3] == ("4.50", "9", "2")
    assert _cards(backend, world, d)["RMB"]["score"] == "83.34"
    assert steps.assess(backend, world, reason="补录客户评价")["errors"] == []
    again = _cards(backend, world, d)
    assert {k: (v["score"], v["rank"]) for k, v in again.items()} == {
        "RMA": ("100.00", 1),
        "RMB": ("100.00", 1),
    }
