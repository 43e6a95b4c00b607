"""KPIs (KPI-1) over HTTP on SQLite and PostgreSQL: every indicator against values computed by
hand on a small fixed data set of a branch made for the test, in 2012 (no other test writes
there), with the previous period, the same period last year, empty periods (null with a
reason), team history, drill-down, suppression including complementary suppression for
marketing analysts, and typed refusals.

The data set (Beijing times), branch KPI<n> with supervisor SUP, managers RM1 (team A) and RM2
(team A until 2012-07-15, then team B):

- 2012-01-15: c1 … c12 join (RM1). 2012-04-10: c13 … c15 join (RM2).
- c5: AUM 600,000 on 2012-02-10 (LOW → HIGH), 1,000 on 2012-06-01 (HIGH → LOW);
  c4: AUM 600,000 on 2012-05-20 (LOW → HIGH; HIGH now: contacted every ISO week).
- complaints: k1 of c1 accepted 2012-05-03, decided on time and closed 2012-05-05 (score 4);
  k2 of c2 accepted 2012-05-04, decided late 2012-05-30 (score 2, dissatisfied), review asked.
- contacts with surveys on 2012-05-10: c1 (5, would recommend), c2 (4, yes), c3 (3, no);
  c10 contacted 2012-03-10.
- transactions: c6 deposit 1,000 in, 250.50 out, a fee of 12.30 (all Q2), two purchases (Q2);
  c7 a loan of 50,000 and a repayment of 2,000 (Q2), one purchase (Q2); c8 deposit 500 (Q1),
  purchases in Q1 and Q2.
- accounts closed: c9's only one 2012-05-15; c10's two 2012-03-01 and 2012-04-20; c1's only
  one 2012-06-30; c11 one of two (still a customer); c12's only one 2012-07-01 (Q3).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert, select

from core import clock
from core.ids import global_id, parse_global_id
from resolvers.kpis.indicators import INDICATORS
from store.staff import Branch, Role, Staff
from tests.complaint_steps import DECISION, do, on_the_spot, submit
from tests.conftest import Backend, create_customer
from tests.test_contacts import _ok as log_contact
from tests.test_segments import _record_aum

BEIJING = clock.BUSINESS_TIME
_branches = itertools.count(1)

KPIS = """
query($period: KpiPeriodInput!, $scope: KpiScopeInput, $indicators: [String!], $drill: Boolean!) {
  kpis(period: $period, scope: $scope, indicators: $indicators, drillDown: $drill) {
    kind label start end minimumCount
    scope { level id label values { ...v } }
    children { level id label values { ...v } }
    definitions { code definition }
  }
}
fragment f on KpiFigure {
  label value numerator denominator customers suppressed nullReason breakdown { key customers }
}
fragment v on KpiValue {
  indicator value numerator denominator suppressed nullReason
  previous { ...f } lastYear { ...f } series { ...f }
  changeFromPrevious { absolute relative } changeFromLastYear { absolute relative }
}
"""
CREATE_TEAM = """
mutation($input: CreateTeamInput!) {
  createTeam(input: $input) { team { id code name members { employeeNo } } errors { field code } }
}
"""
MOVE = """
mutation($input: MoveStaffToTeamInput!) {
  moveStaffToTeam(input: $input) { staff { employeeNo } team { code } errors { field code } }
}
"""
IMPORT = """
mutation($input: ImportTransactionsInput!) {
  importTransactions(input: $input) { imported errors { field code message } }
}
"""
REQUEST = """
mutation($input: RequestSurveyInput!) { requestSurvey(input: $input) {
  request { id } errors { field code } } }
"""
RESPOND = """
mutation($input: RecordSurveyResponseInput!) { recordSurveyResponse(input: $input) {
  errors { field code } } }
"""
SOURCE = {"kind": "BUSINESS_TRANSACTION", "detail": "core banking import"}


def _at(*parts: int) -> Any:
    return clock.travel_to(datetime(*parts, tzinfo=BEIJING), all_threads=True)  # type: ignore[misc]


@dataclass
class World:
    branch: str  # global IDs
    supervisor: str  # employee numbers
    rm1: str
    rm2: str
    rm2_id: str
    team_a: str
    team_b: str
    customers: list[str]


def _staff_branch(backend: Backend) -> tuple[str, str, str, str]:
    """A branch of its own with a supervisor and two managers (employee numbers)."""
    n = next(_branches)
    code = f"KPI{n:02d}{backend.name[:2].upper()}"
    with backend.engine.begin() as connection:
        found = connection.execute(select(Branch.id).where(Branch.code == code)).scalar()
        if found is None:
            found = connection.execute(
                insert(Branch)
                .values(code=code, name=f"考核测试支行{n}", city="北京市")
                .returning(Branch.id)
            ).scalar_one()
            for suffix, role in (
                ("SUP", Role.BRANCH_SUPERVISOR),
                ("RM1", Role.RELATIONSHIP_MANAGER),
                ("RM2", Role.RELATIONSHIP_MANAGER),
            ):
                connection.execute(
                    insert(Staff).values(
                        employee_no=f"{code}{suffix}",
                        name=f"员工{suffix}",
                        branch_id=found,
                        roles=[role.value],
                        active=True,
                        created_at=clock.now(),
                    )
                )
    return code, f"{code}SUP", f"{code}RM1", f"{code}RM2"


def _me(backend: Backend, staff: str) -> dict[str, Any]:
    return dict(backend.gql("{ me { id branch { id } } }", staff=staff)["me"])


def _import(backend: Backend, customer: str, accounts: list[Any], transactions: list[Any]) -> None:
    given = {
        "customerId": customer,
        "accounts": accounts,
        "transactions": transactions,
        "source": SOURCE,
    }
    payload = backend.gql(IMPORT, {"input": given})["importTransactions"]
    assert payload["errors"] == [], payload["errors"]


def _account(no: str, kind: str, closed: str | None = None) -> dict[str, Any]:
    values = {"accountNo": no, "kind": kind, "openedOn": "2011-06-01"}
    if closed is not None:
        values["closedOn"] = closed
    return values


def _tx(no: str, ref: str, when: str, amount: str, kind: str) -> dict[str, Any]:
    moment = datetime.fromisoformat(when).replace(tzinfo=BEIJING)
    return {
        "accountNo": no,
        "externalRef": ref,
        "occurredAt": moment.isoformat(),
        "amount": amount,
        "type": kind,
        "channel": "BRANCH_COUNTER",
    }


def _survey(
    backend: Backend,
    staff: str,
    customer: str,
    score: int,
    recommend: bool,
    recorder: str | None = None,
) -> None:
    """``staff`` makes the contact and asks; ``recorder`` (default ``staff``) types in the
    answers — answers typed in by the customer's own manager do not count (KPI-2)."""
    contact = log_contact(backend, customer, staff=staff)["id"]
    asked = backend.gql(
        REQUEST,
        {"input": {"customerId": customer, "occasion": "CONTACT", "occasionId": contact}},
        staff=staff,
    )["requestSurvey"]
    assert asked["errors"] == []
    answers = [
        {"question": "satisfaction", "scale": score},
        {"question": "recommend", "yesNo": recommend},
    ]
    given = {"requestId": asked["request"]["id"], "answers": answers}
    assert (
        backend.gql(RESPOND, {"input": given}, staff=recorder or staff)["recordSurveyResponse"][
            "errors"
        ]
        == []
    )


def _team(backend: Backend, staff: str, branch: str, code: str) -> str:
    made = backend.gql(
        CREATE_TEAM,
        {"input": {"branchId": branch, "code": code, "name": f"团队{code}"}},
        staff=staff,
    )["createTeam"]
    assert made["errors"] == [], made["errors"]
    return str(made["team"]["id"])


def _move(backend: Backend, staff: str, who: str, team: str | None) -> dict[str, Any]:
    return dict(
        backend.gql(MOVE, {"input": {"staffId": who, "teamId": team}}, staff=staff)[
            "moveStaffToTeam"
        ]
    )


def _two_teams(
    backend: Backend, year: int, second: str
) -> tuple[dict[str, Any], dict[str, Any], str, str, str]:
    """A fresh branch whose RM1 is in team A and RM2 in team ``second`` from 2 January of
    ``year``: both managers (`me`), the branch ID and the two team IDs."""
    _, sup, rm1, rm2 = _staff_branch(backend)
    me1, me2 = _me(backend, rm1), _me(backend, rm2)
    branch = me1["branch"]["id"]
    with _at(year, 1, 2, 9):
        team_a = _team(backend, sup, branch, "A")
        team_b = _team(backend, sup, branch, second)
        assert _move(backend, sup, me1["id"], team_a)["errors"] == []
        assert _move(backend, sup, me2["id"], team_b)["errors"] == []
    return me1, me2, branch, team_a, team_b


def _tag(customer: str) -> str:
    parsed = parse_global_id(customer)
    assert parsed is not None
    return str(parsed[1])


def build(backend: Backend) -> World:
    _, sup, rm1, rm2 = _staff_branch(backend)
    me1, me2 = _me(backend, rm1), _me(backend, rm2)
    branch = me1["branch"]["id"]
    with _at(2012, 1, 2, 9):
        team_a = _team(backend, sup, branch, "A")
        team_b = _team(backend, sup, branch, "B")
        assert _move(backend, sup, me1["id"], team_a)["errors"] == []
        assert _move(backend, sup, me2["id"], team_a)["errors"] == []
    c: list[str] = [""]  # c[1] … c[15]
    with _at(2012, 1, 15, 10):
        for _ in range(12):
            c.append(create_customer(backend, relationshipManager=me1["id"], branch=branch)["id"])
    with _at(2012, 2, 10, 10):
        _record_aum(backend, c[5], "600000")
    with _at(2012, 3, 10, 10):
        log_contact(backend, c[10], staff=rm1)
    with _at(2012, 4, 10, 10):
        for _ in range(3):
            c.append(create_customer(backend, relationshipManager=me2["id"], branch=branch)["id"])
    with _at(2012, 5, 3, 10):
        k1 = submit(backend, {"id": c[1]}, staff="HO0001")
    with _at(2012, 5, 4, 10):
        k2 = submit(backend, {"id": c[2]}, staff="HO0001")
    with _at(2012, 5, 5, 10):
        for k in (k1, k2):
            do(backend, sup, k, "Task_AssignHandler", {"handler": "SH01CH01"})
            do(backend, "SH01CH01", k, "Task_Investigate", on_the_spot())
        do(backend, "SH01CH01", k1, "Task_DecisionNotice", DECISION)
        do(backend, rm1, k1, "Task_CallBack", {"satisfaction_score": 4, "satisfied": True})
        do(backend, rm1, k1, "Task_ReviewRequest", {"review_requested": False})
    with _at(2012, 5, 10, 10):
        for customer, score, yes in ((c[1], 5, True), (c[2], 4, True), (c[3], 3, False)):
            _survey(backend, rm1, customer, score, yes, recorder=sup)
    with _at(2012, 5, 20, 10):
        _record_aum(backend, c[4], "600000")
    with _at(2012, 5, 30, 10):
        do(backend, "SH01CH01", k2, "Task_DecisionNotice", DECISION)
        do(backend, rm1, k2, "Task_CallBack", {"satisfaction_score": 2, "satisfied": False})
        do(backend, rm1, k2, "Task_ReviewRequest", {"review_requested": True})
    with _at(2012, 6, 1, 10):
        _record_aum(backend, c[5], "1000")
    with _at(2012, 7, 15, 10):
        assert _move(backend, sup, me2["id"], team_b)["team"]["code"] == "B"
    tag = _tag(c[6])
    _import(
        backend,
        c[6],
        [_account(f"D6{tag}", "DEMAND_DEPOSIT"), _account(f"W6{tag}", "WEALTH_MANAGEMENT")],
        [
            _tx(f"D6{tag}", "a", "2012-04-02T10:00:00", "1000.00", "DEPOSIT"),
            _tx(f"D6{tag}", "b", "2012-05-02T10:00:00", "250.50", "WITHDRAWAL"),
            _tx(f"D6{tag}", "c", "2012-06-30T23:59:59", "12.30", "FEE"),
            _tx(f"W6{tag}", "d", "2012-04-03T10:00:00", "100.00", "PRODUCT_PURCHASE"),
            _tx(f"W6{tag}", "e", "2012-06-03T10:00:00", "100.00", "PRODUCT_PURCHASE"),
            # 00:00 Beijing on 1 July: the third quarter's.
            _tx(f"D6{tag}", "f", "2012-07-01T00:00:00", "7.00", "FEE"),
        ],
    )
    tag = _tag(c[7])
    _import(
        backend,
        c[7],
        [_account(f"L7{tag}", "LOAN"), _account(f"W7{tag}", "WEALTH_MANAGEMENT")],
        [
            _tx(f"L7{tag}", "a", "2012-04-05T10:00:00", "50000.00", "LOAN_DISBURSEMENT"),
            _tx(f"L7{tag}", "b", "2012-06-05T10:00:00", "2000.00", "LOAN_REPAYMENT"),
            _tx(f"W7{tag}", "c", "2012-05-05T10:00:00", "100.00", "PRODUCT_PURCHASE"),
        ],
    )
    tag = _tag(c[8])
    _import(
        backend,
        c[8],
        [_account(f"D8{tag}", "DEMAND_DEPOSIT"), _account(f"W8{tag}", "WEALTH_MANAGEMENT")],
        [
            _tx(f"D8{tag}", "a", "2012-03-31T23:59:59", "500.00", "DEPOSIT"),
            _tx(f"W8{tag}", "b", "2012-03-05T10:00:00", "100.00", "PRODUCT_PURCHASE"),
            _tx(f"W8{tag}", "c", "2012-05-05T10:00:00", "100.00", "PRODUCT_PURCHASE"),
        ],
    )
    for i, accounts in (
        (9, [("A", "2012-05-15")]),
        (10, [("A", "2012-03-01"), ("B", "2012-04-20")]),
        (1, [("A", "2012-06-30")]),
        (11, [("A", "2012-05-15"), ("B", None)]),
        (12, [("A", "2012-07-01")]),
    ):
        tag = _tag(c[i])
        _import(
            backend,
            c[i],
            [_account(f"{x}{i}{tag}", "DEMAND_DEPOSIT", closed) for x, closed in accounts],
            [],
        )
    return World(branch, sup, rm1, rm2, me2["id"], team_a, team_b, c)


@pytest.fixture(scope="module")
def world(backend: Backend) -> Iterator[World]:
    yield build(backend)


def _kpis(
    backend: Backend,
    period: dict[str, Any],
    scope: dict[str, Any] | None,
    staff: str = "HO0001",
    drill: bool = False,
    indicators: list[str] | None = None,
) -> dict[str, Any]:
    variables = {"period": period, "scope": scope, "indicators": indicators, "drill": drill}
    return dict(backend.gql(KPIS, variables, staff=staff)["kpis"])


def _values(unit: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["indicator"]: v for v in unit["values"]}


BRANCH_CADENCE = """
query($period: CadencePeriod!, $of: Date!, $branch: ID!) {
  contactCadence(period: $period, of: $of, by: BRANCH, where: {branch: {eq: $branch}}) {
    rows { due met rate } total { due met rate }
  }
}
"""


@pytest.mark.parametrize(
    ("label", "period", "of", "figures"),
    [
        # (the indicator's value (rounded), contactCadence's rate (rounded down), met, due)
        # c4 lifted to HIGH on Sunday 20 May, c5 back to LOW on 1 June (see the hand-computed
        # values): the weeks of Sundays 20 and 27 May for c4, 6 … 27 May for c5; no quarter
        # ends in May, nobody was MEDIUM.
        ("2012-05", "MONTH", "2012-05-15", ("0.0000", "0.0000", "0", "6")),
        ("2012-Q2", "QUARTER", "2012-05-15", ("0.1154", "0.1153", "3", "26")),
    ],
)
def test_KPI_1_REL_2_cadence_compliance_is_contact_cadence_for_tiers_changed_mid_period(
    backend: Backend,
    world: World,
    label: str,
    period: str,
    of: str,
    figures: tuple[str, str, str, str],
) -> None:
    """The indicator CADENCE_COMPLIANCE and contactCadence are one definition: with c4 and c5
    changing tier in the middle of the period, both judge each cadence period by the tier at
    its end and give the same due and met (the rate is rounded down in contactCadence)."""
    kpi = _values(
        _kpis(backend, {"label": label}, {"level": "BRANCH", "id": world.branch})["scope"]
    )
    value = kpi["CADENCE_COMPLIANCE"]
    variables = {"period": period, "of": of, "branch": world.branch}
    report = backend.gql(BRANCH_CADENCE, variables, staff="HO0001")["contactCadence"]
    assert len(report["rows"]) == 1
    cadence = report["total"]
    assert (str(cadence["met"]), str(cadence["due"])) == (value["numerator"], value["denominator"])
    got = (value["value"], str(cadence["rate"]), str(cadence["met"]), str(cadence["due"]))
    assert got == figures


def test_KPI_1_every_indicator_matches_the_hand_computed_values(
    backend: Backend, world: World
) -> None:
    found = _kpis(backend, {"label": "2012-Q2"}, {"level": "BRANCH", "id": world.branch})
    assert (found["kind"], found["start"], found["end"]) == ("QUARTER", "2012-04-01", "2012-06-30")
    assert found["minimumCount"] is None  # head office sees exact figures
    v = _values(found["scope"])
    expected = {
        # indicator: (value, numerator, denominator)
        "SATISFACTION_SCORE": ("4.00", "12", "3"),
        "COMPLAINT_RATE": ("133.33", "2", "15"),
        "REPEAT_PURCHASE_RATE": ("0.3333", "1", "3"),
        "REFERRAL_RATE": ("0.6667", "2", "3"),
        "NEW_CUSTOMERS": ("3", "3", None),
        "LOST_CUSTOMERS": ("3", "3", None),
        "DEPOSIT_GROWTH": ("737.20", "737.20", None),
        "LOAN_GROWTH": ("48000.00", "48000.00", None),
        "FEE_INCOME": ("12.30", "12.30", None),
        "TIER_UPGRADES": ("1", "1", None),
        "TIER_DOWNGRADES": ("1", "1", None),
        "COMPLAINT_COUNT": ("2", "2", None),
        "COMPLAINT_ON_TIME_RATE": ("0.5000", "1", "2"),
        "COMPLAINT_HANDLING_SATISFACTION": ("4.00", "4", "1"),
        "COMPLAINT_REVIEWS": ("1", "1", None),
        # Each period by the tier at its end. The 13 ISO weeks whose Sunday is in Q2 (1 April
        # 2012 is a Sunday): c4 HIGH from 20 May (its last 6, from the week of Sunday 20 May),
        # c5 HIGH until 1 June (its first 9, to the week of Sunday 27 May); the quarter, ended
        # LOW: c5 and the 10 others joined in January; c13 … c15 joined after 1 April: not
        # due. Met: c1 … c3 (their quarters). 6 + 9 + 11 = 26.
        "CADENCE_COMPLIANCE": ("0.1154", "3", "26"),
        # No staff of the branch was rated, no spot check completed: nothing to divide by
        # (hand-computed values of these two: tests/test_kpi_assessment.py).
        "STAFF_RATING": (None, "0", "0"),
        "SPOT_CHECK_PASS_RATE": (None, "0", "0"),
    }
    got = {code: (x["value"], x["numerator"], x["denominator"]) for code, x in v.items()}
    normal = {k: tuple(None if p is None else str(p) for p in t) for k, t in got.items()}
    assert _decimals(normal) == _decimals(expected)
    lost = v["LOST_CUSTOMERS"]
    reasons = {b["key"]: b["customers"] for b in lost["series"][-1]["breakdown"]}
    assert reasons == {"COMPLAINT": 1, "TIER_DOWN": 0, "NOT_CONTACTED": 1, "OTHER": 1}
    # The previous quarter and comparisons.
    assert v["NEW_CUSTOMERS"]["previous"]["value"] == "12"
    assert v["NEW_CUSTOMERS"]["changeFromPrevious"] == {"absolute": "-9", "relative": "-0.7500"}
    assert v["DEPOSIT_GROWTH"]["previous"]["value"] == "500.00"
    assert v["DEPOSIT_GROWTH"]["changeFromPrevious"] == {
        "absolute": "237.20",
        "relative": "0.4744",
    }
    assert v["LOAN_GROWTH"]["changeFromPrevious"] == {"absolute": "48000.00", "relative": None}
    assert v["REPEAT_PURCHASE_RATE"]["previous"]["value"] == "0.0000"
    assert v["TIER_UPGRADES"]["previous"]["value"] == "1"
    assert v["COMPLAINT_RATE"]["previous"]["value"] == "0.00"
    # Same quarter last year: before the branch had customers — nothing to divide by.
    assert v["COMPLAINT_RATE"]["lastYear"]["nullReason"] == "EMPTY_DENOMINATOR"
    assert v["COMPLAINT_RATE"]["lastYear"]["value"] is None
    assert v["COMPLAINT_RATE"]["changeFromLastYear"] == {"absolute": None, "relative": None}
    assert v["SATISFACTION_SCORE"]["previous"]["nullReason"] == "EMPTY_DENOMINATOR"
    # The series: five quarters, oldest first, the quarter last.
    series = v["NEW_CUSTOMERS"]["series"]
    assert [s["label"] for s in series] == [
        "2011-Q2",
        "2011-Q3",
        "2011-Q4",
        "2012-Q1",
        "2012-Q2",
    ]
    assert [s["value"] for s in series] == ["0", "0", "0", "12", "3"]
    assert lost["suppressed"] is False
    assert {d["code"] for d in found["definitions"]} == set(expected)


def _decimals(table: dict[str, Any]) -> dict[str, Any]:
    return {
        k: tuple(None if p is None else Decimal(p) for p in values) for k, values in table.items()
    }


def test_KPI_1_boundaries_month_of_a_fee_at_midnight_and_a_closing_on_the_next_day(
    backend: Backend, world: World
) -> None:
    """The fee at 00:00 Beijing on 1 July and c12's closing on 1 July belong to the third
    quarter; the fee at 23:59:59 on 30 June and c1's closing on 30 June to the second."""
    june = _values(
        _kpis(backend, {"label": "2012-06"}, {"level": "BRANCH", "id": world.branch})["scope"]
    )
    july = _values(
        _kpis(backend, {"label": "2012-07"}, {"level": "BRANCH", "id": world.branch})["scope"]
    )
    assert (june["FEE_INCOME"]["value"], july["FEE_INCOME"]["value"]) == ("12.30", "7.00")
    assert (june["LOST_CUSTOMERS"]["value"], july["LOST_CUSTOMERS"]["value"]) == ("1", "1")
    # A month's series: 13 months back to the same month last year.
    assert len(june["FEE_INCOME"]["series"]) == 13
    assert june["FEE_INCOME"]["lastYear"]["label"] == "2011-06"
    # A date range: 30 June alone; previous = 29 June, last year = 30 June 2011.
    day = _values(
        _kpis(
            backend,
            {"from": "2012-06-30", "to": "2012-06-30"},
            {"level": "BRANCH", "id": world.branch},
        )["scope"]
    )
    assert day["FEE_INCOME"]["value"] == "12.30" and day["LOST_CUSTOMERS"]["value"] == "1"
    assert day["FEE_INCOME"]["previous"]["label"] == "2012-06-29/2012-06-29"
    assert day["FEE_INCOME"]["lastYear"]["label"] == "2011-06-30/2011-06-30"


def test_KPI_1_an_empty_period_gives_nulls_with_a_reason_not_a_division_by_zero(
    backend: Backend, world: World
) -> None:
    v = _values(
        _kpis(backend, {"label": "2011-Q3"}, {"level": "BRANCH", "id": world.branch})["scope"]
    )
    for code in (
        "SATISFACTION_SCORE",
        "COMPLAINT_RATE",
        "REPEAT_PURCHASE_RATE",
        "REFERRAL_RATE",
        "COMPLAINT_ON_TIME_RATE",
        "COMPLAINT_HANDLING_SATISFACTION",
        "CADENCE_COMPLIANCE",
    ):
        assert (v[code]["value"], v[code]["nullReason"]) == (None, "EMPTY_DENOMINATOR"), code
        assert v[code]["denominator"] == "0", code
    for code in ("NEW_CUSTOMERS", "LOST_CUSTOMERS", "COMPLAINT_COUNT", "TIER_UPGRADES"):
        assert (v[code]["value"], v[code]["nullReason"]) == ("0", None), code
    assert v["FEE_INCOME"]["value"] == "0.00"


def test_KPI_1_drill_down_follows_the_teams_as_they_were_at_the_period_s_end(
    backend: Backend, world: World
) -> None:
    """RM2 moved from team A to team B on 2012-07-15: in Q2 their customers are team A's; in
    Q3 team B's, and team B's Q2 figure (its previous period) counts them too (like for like)."""
    q2 = _kpis(
        backend,
        {"label": "2012-Q2"},
        {"level": "BRANCH", "id": world.branch},
        drill=True,
        indicators=["NEW_CUSTOMERS"],
    )
    assert [(u["level"], u["id"]) for u in q2["children"]] == [("TEAM", world.team_a)]
    assert _values(q2["children"][0])["NEW_CUSTOMERS"]["value"] == "3"
    q3 = _kpis(
        backend,
        {"label": "2012-Q3"},
        {"level": "BRANCH", "id": world.branch},
        drill=True,
        indicators=["NEW_CUSTOMERS"],
    )
    teams = {u["id"]: _values(u)["NEW_CUSTOMERS"] for u in q3["children"]}
    assert set(teams) == {world.team_a, world.team_b}
    assert teams[world.team_b]["previous"]["value"] == "3"
    assert teams[world.team_a]["previous"]["value"] == "0"
    # Team → staff; a staff member's own scope.
    staff = _kpis(
        backend,
        {"label": "2012-Q2"},
        {"level": "TEAM", "id": world.team_a},
        drill=True,
        indicators=["NEW_CUSTOMERS"],
    )
    by_staff = {u["id"]: _values(u)["NEW_CUSTOMERS"]["value"] for u in staff["children"]}
    assert by_staff[world.rm2_id] == "3" and sorted(by_staff.values()) == ["0", "3"]
    own = _kpis(
        backend,
        {"label": "2012-Q2"},
        {"level": "STAFF", "id": world.rm2_id},
        indicators=["NEW_CUSTOMERS", "COMPLAINT_COUNT"],
    )
    assert {k: x["value"] for k, x in _values(own["scope"]).items()} == {
        "NEW_CUSTOMERS": "3",
        "COMPLAINT_COUNT": "0",
    }


def test_KPI_1_analysts_get_small_cells_suppressed_and_no_subtraction_gives_one_back(
    backend: Backend, world: World
) -> None:
    """Q3 2012, cadence: team A 12 customers due, team B 3 (under 10: suppressed), the branch
    15. Team A is withheld too — the branch's 15 minus A's 12 would give B back — and stays
    withheld when asked for by itself (its cell in the branch's row decides)."""
    scope = {"level": "BRANCH", "id": world.branch}
    found = _kpis(backend, {"label": "2012-Q3"}, scope, staff="MKT0001", drill=True)
    assert found["minimumCount"] == 10
    total = _values(found["scope"])["CADENCE_COMPLIANCE"]
    # c4 HIGH: 14 ISO weeks whose Sunday is in Q3 (1 July 2012 a Sunday); 14 LOW customers.
    assert (total["value"], total["numerator"], total["denominator"]) == ("0.0000", "0", "28")
    teams = {u["id"]: _values(u)["CADENCE_COMPLIANCE"] for u in found["children"]}
    assert teams[world.team_b]["suppressed"] and teams[world.team_b]["nullReason"] == "SUPPRESSED"
    assert teams[world.team_a]["suppressed"] and teams[world.team_a]["value"] is None
    alone = _kpis(
        backend,
        {"label": "2012-Q3"},
        {"level": "TEAM", "id": world.team_a},
        staff="MKT0001",
        indicators=["CADENCE_COMPLIANCE"],
    )
    assert _values(alone["scope"])["CADENCE_COMPLIANCE"]["suppressed"] is True
    # Head office sees the same cells in full.
    full = _kpis(backend, {"label": "2012-Q3"}, scope, drill=True)
    exact = {u["id"]: _values(u)["CADENCE_COMPLIANCE"]["denominator"] for u in full["children"]}
    assert exact == {world.team_a: "25", world.team_b: "3"}
    # Small counts: 3 new customers in Q2 are withheld in the series too; none in Q3 is shown.
    new = _values(found["scope"])["NEW_CUSTOMERS"]
    assert new["value"] == "0" and new["previous"]["suppressed"] is True
    assert new["changeFromPrevious"] == {"absolute": None, "relative": None}
    # Lost customers by reason: one each, all withheld.
    q2 = _values(_kpis(backend, {"label": "2012-Q2"}, scope, staff="MKT0001")["scope"])
    assert q2["LOST_CUSTOMERS"]["suppressed"] is True
    assert all(b["customers"] is None for b in q2["LOST_CUSTOMERS"]["series"][-1]["breakdown"])


def test_KPI_1_supervisors_see_their_branch_only(backend: Backend, world: World) -> None:
    mine = _kpis(
        backend,
        {"label": "2012-Q2"},
        {"level": "BRANCH", "id": world.branch},
        staff=world.supervisor,
        indicators=["NEW_CUSTOMERS"],
    )
    assert mine["minimumCount"] is None
    assert _values(mine["scope"])["NEW_CUSTOMERS"]["value"] == "3"
    for scope in (
        {"level": "BANK"},
        {"level": "BRANCH", "id": _me(backend, "SUP0001")["branch"]["id"]},
    ):
        body = backend.post(
            KPIS,
            {"period": {"label": "2012-Q2"}, "scope": scope, "indicators": None, "drill": False},
            staff=world.supervisor,
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    refused = backend.post(
        KPIS,
        {"period": {"label": "2012-Q2"}, "scope": None, "indicators": None, "drill": False},
        staff="RM0001",
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def _refusal(backend: Backend, variables: dict[str, Any]) -> tuple[str, list[Any]]:
    values = {"scope": None, "indicators": None, "drill": False, **variables}
    body = backend.post(KPIS, values).json()
    extensions = body["errors"][0]["extensions"]
    return extensions["code"], [(f["field"], f["code"]) for f in extensions.get("fields", [])]


def test_KPI_1_future_periods_unknown_scopes_and_indicators_are_typed_errors(
    backend: Backend,
) -> None:
    code, fields = _refusal(backend, {"period": {"label": "2027-Q1"}})
    assert (code, fields) == ("BAD_USER_INPUT", [(["period", "label"], "FUTURE_PERIOD")])
    # 00:00 Beijing on 1 January 2027 the first quarter has begun; a second earlier it had not.
    with _at(2026, 12, 31, 23, 59, 59):
        assert _refusal(backend, {"period": {"label": "2027-Q1"}})[1] == [
            (["period", "label"], "FUTURE_PERIOD")
        ]
    with _at(2027, 1, 1, 0, 0, 0):
        found = _kpis(backend, {"label": "2027-Q1"}, None, indicators=["NEW_CUSTOMERS"])
        assert found["label"] == "2027-Q1"
    tomorrow = (clock.today() + timedelta(days=1)).isoformat()
    assert _refusal(backend, {"period": {"from": "2026-01-01", "to": tomorrow}})[1] == [
        (["period", "to"], "FUTURE_PERIOD")
    ]
    assert _refusal(backend, {"period": {"label": "2026-13"}})[1] == [
        (["period", "label"], "INVALID")
    ]
    assert _refusal(backend, {"period": {"label": "2026-Q1", "from": "2026-01-01"}})[1] == [
        (["period"], "INVALID")
    ]
    assert _refusal(backend, {"period": {"from": "2025-01-01", "to": "2026-01-02"}})[1] == [
        (["period", "to"], "INVALID_RANGE")
    ]
    assert _refusal(
        backend, {"period": {"label": "2026-Q1"}, "indicators": ["NEW_CUSTOMERS", "HAPPINESS"]}
    )[1] == [(["indicators", "1"], "UNKNOWN_INDICATOR")]
    missing = {"level": "BRANCH", "id": global_id("Branch", 999999)}
    assert _refusal(backend, {"period": {"label": "2026-Q1"}, "scope": missing})[1] == [
        (["scope", "id"], "UNKNOWN_SCOPE")
    ]
    wrong = {"level": "TEAM", "id": global_id("Branch", 1)}
    assert _refusal(backend, {"period": {"label": "2026-Q1"}, "scope": wrong})[1] == [
        (["scope", "id"], "INVALID_ID")
    ]


def test_KPI_1_teams_are_created_and_staff_moved_by_their_branch_s_supervisor(
    backend: Backend,
) -> None:
    _, sup, rm1, _ = _staff_branch(backend)
    me = _me(backend, rm1)
    branch = me["branch"]["id"]
    team = _team(backend, sup, branch, "w-1")
    again = backend.gql(
        CREATE_TEAM, {"input": {"branchId": branch, "code": "W-1", "name": "重复"}}, staff=sup
    )["createTeam"]
    assert [(e["field"], e["code"]) for e in again["errors"]] == [(["code"], "DUPLICATE")]
    blank = backend.gql(
        CREATE_TEAM, {"input": {"branchId": branch, "code": "W2", "name": " \u200b "}}, staff=sup
    )["createTeam"]
    assert [(e["field"], e["code"]) for e in blank["errors"]] == [(["name"], "REQUIRED")]
    other = _me(backend, "SUP0001")["branch"]["id"]
    foreign = backend.gql(
        CREATE_TEAM, {"input": {"branchId": other, "code": "W3", "name": "别家"}}, staff=sup
    )["createTeam"]
    assert [(e["field"], e["code"]) for e in foreign["errors"]] == [(["branchId"], "NOT_FOUND")]
    moved = _move(backend, sup, me["id"], team)
    assert moved["errors"] == [] and moved["team"]["code"] == "W-1"
    assert _move(backend, sup, me["id"], team)["errors"] == [
        {"field": ["teamId"], "code": "ALREADY_IN_TEAM"}
    ]
    head_office_team = _team(backend, "HO0001", other, "W4")
    assert _move(backend, "HO0001", me["id"], head_office_team)["errors"] == [
        {"field": ["teamId"], "code": "OTHER_BRANCH"}
    ]
    rm0001 = _me(backend, "RM0001")["id"]
    assert _move(backend, sup, rm0001, team)["errors"] == [
        {"field": ["staffId"], "code": "NOT_FOUND"}
    ]
    left = _move(backend, sup, me["id"], None)
    assert left["errors"] == [] and left["team"] is None
    listed = backend.gql(
        "query($b: ID) { teams(branchId: $b) { code members { employeeNo } } }",
        {"b": branch},
        staff=sup,
    )["teams"]
    assert listed == [{"code": "W-1", "members": []}]
    # Only supervisors and head office organise.
    body = backend.post(
        CREATE_TEAM, {"input": {"branchId": branch, "code": "W5", "name": "x"}}, staff=rm1
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_KPI_1_every_indicator_has_a_definition_in_the_api(backend: Backend) -> None:
    found = backend.gql("{ kpiIndicators { code kind definition numerator denominator } }")[
        "kpiIndicators"
    ]
    assert len(found) == 18
    for indicator in found:
        assert "numerator" in indicator["definition"].lower() or indicator["kind"] in (
            "COUNT",
            "AMOUNT",
        )
        assert indicator["definition"].endswith("Periods are Beijing dates.")
    assert date(2012, 4, 1).weekday() == 6  # the cadence expectations above rely on it


def test_KPI_1_CMP_5_complaint_statistics_agree_with_the_indicators(
    backend: Backend, world: World
) -> None:
    """complaintStatistics over May 2012 (k1, k2: two customers, one category): head office
    sees the category with the indicators' on-time rule and call-back score; a marketing
    analyst reads complaints through `kpis` only (refused here)."""
    query = """query($where: ComplaintWhere) { complaintStatistics(by: CATEGORY, where: $where) {
        key count decided decidedOnTime averageSatisfaction } }"""
    where = {
        "acceptedAt": {
            "gte": datetime(2012, 5, 1, tzinfo=BEIJING).isoformat(),
            "lte": datetime(2012, 5, 31, 23, 59, 59, 999999, tzinfo=BEIJING).isoformat(),
        }
    }
    full = backend.gql(query, {"where": where})["complaintStatistics"]
    assert full == [
        {
            "key": "FEES_AND_CHARGES",
            "count": 2,
            "decided": 2,
            "decidedOnTime": 1,
            "averageSatisfaction": "3.00",
        }
    ]
    refused = backend.post(query, {"where": where}, staff="MKT0001").json()
    assert refused["data"] is None
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def test_KPI_1_the_readme_gives_every_indicator_s_definition() -> None:
    readme = " ".join((Path(__file__).resolve().parent.parent / "README.md").read_text().split())
    for indicator in INDICATORS:
        assert f"**`{indicator.code}`**" in readme, indicator.code
        assert " ".join(indicator.definition.split()) in readme, indicator.code
        if indicator.scope is not None:  # whom a staff-attributed indicator counts for
            assert " ".join(indicator.scope.split()) in readme, indicator.code


# --- cases of tests/test_unit_of_work.py (one audited change entry per mutation) ------------------


def case_create_team(backend: Backend) -> tuple[str, dict[str, Any]]:
    """A new team in a branch of its own, by its supervisor."""
    _, sup, _, _ = _staff_branch(backend)
    code = f"U{next(_branches)}"
    return sup, {"branchId": _me(backend, sup)["branch"]["id"], "code": code, "name": "审计团队"}


def case_move(backend: Backend) -> tuple[str, dict[str, Any]]:
    """A manager of a branch of its own moved into a team of that branch by its supervisor."""
    _, sup, rm1, _ = _staff_branch(backend)
    team = _team(backend, sup, _me(backend, sup)["branch"]["id"], f"M{next(_branches)}")
    return sup, {"staffId": _me(backend, rm1)["id"], "teamId": team}
