"""Attacks on KPI suppression (KPI-1, KPI-2, CMP-5): small cells of aggregate-only callers are
withheld by the KPI minimum everywhere the figures are published."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import insert, select

from core import clock
from store.staff import Branch, Role, Staff
from tests.complaint_steps import submit
from tests.conftest import Backend, create_customer
from tests.test_kpis import (
    BEIJING,
    KPIS,
    _at,
    _kpis,
    _me,
    _move,
    _staff_branch,
    _survey,
    _team,
    _two_teams,
    _values,
)
from tests.test_spot_checks import at, new_branch
from tests.test_spot_checks_evaluations import RATINGS, _ratings, rated_contact
from tests.test_spot_checks_evaluations import record as record_evaluation


@dataclass
class Small:
    """A fresh branch (2014): team A = RM1 with 12 customers registered on 15 January, team B =
    RM2 with 3 registered on 10 April; c[0] complains on 3 May, c[1] on 4 May (nothing else)."""

    branch: str
    rm1: str  # global Staff ID
    team_a: str
    team_b: str
    customers: list[str]


@pytest.fixture(scope="module")
def small(backend: Backend) -> Iterator[Small]:
    me1, me2, branch, team_a, team_b = _two_teams(backend, 2014, "B")
    with _at(2014, 1, 15, 10):
        c = [
            create_customer(backend, relationshipManager=me1["id"], branch=branch)["id"]
            for _ in range(12)
        ]
    with _at(2014, 4, 10, 10):
        c += [
            create_customer(backend, relationshipManager=me2["id"], branch=branch)["id"]
            for _ in range(3)
        ]
    with _at(2014, 5, 3, 10):
        submit(backend, {"id": c[0]}, staff="HO0001")
    with _at(2014, 5, 4, 10):
        submit(backend, {"id": c[1]}, staff="HO0001")
    yield Small(branch, me1["id"], team_a, team_b, c)


def _new(backend: Backend, label: str, scope: dict[str, Any]) -> dict[str, Any]:
    found = _kpis(backend, {"label": label}, scope, staff="MKT0001", indicators=["NEW_CUSTOMERS"])
    return _values(found["scope"])["NEW_CUSTOMERS"]


STATISTICS = """query($where: ComplaintWhere) { complaintStatistics(by: CATEGORY, where: $where) {
    key count decided decidedOnTime averageSatisfaction } }"""


def _window(first: int, last: int) -> dict[str, str]:
    """1 … ``last`` May 2014 (Beijing), to the last instant stored (microseconds)."""
    return {
        "gte": datetime(2014, 5, first, tzinfo=BEIJING).isoformat(),
        "lte": datetime(2014, 5, last, 23, 59, 59, 999999, tzinfo=BEIJING).isoformat(),
    }


def _forbidden(body: dict[str, Any]) -> None:
    """Refused to an aggregate-only caller, who reads these figures through `kpis`."""
    assert body["data"] is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN" and "`kpis`" in error["message"], error


def test_KPI_1_CMP_5_an_analyst_gets_complaint_figures_through_kpis_only(
    backend: Backend, small: Small
) -> None:
    """May 2014, the branch: 2 complaints of 2 customers (3 and 4 May). `kpis` withholds the
    branch's COMPLAINT_COUNT from a marketing analyst (under 10 customers); complaintStatistics
    — narrowed to the branch and the month, or to 3 May alone (c0's complaint) — is refused to
    them: its own small-cell rules beside `kpis`' would give back what `kpis` withholds."""
    scope = {"level": "BRANCH", "id": small.branch}
    kpis = _kpis(
        backend, {"label": "2014-05"}, scope, staff="MKT0001", indicators=["COMPLAINT_COUNT"]
    )
    assert _values(kpis["scope"])["COMPLAINT_COUNT"]["suppressed"] is True
    for first, last in ((1, 31), (3, 3)):
        where = {"acceptedAt": _window(first, last), "branch": {"eq": small.branch}}
        _forbidden(backend.post(STATISTICS, {"where": where}, staff="MKT0001").json())
    # Head office, who sees the complaints, gets them.
    where = {"acceptedAt": _window(1, 31), "branch": {"eq": small.branch}}
    found = backend.gql(STATISTICS, {"where": where})["complaintStatistics"]
    assert sum(row["count"] for row in found) == 2, found


def test_KPI_2_an_analyst_gets_no_named_staff_member_s_rating_from_six_customers(
    backend: Backend,
) -> None:
    """November 2026: six customers rate RM1 (26 / 6). Marketing analysts read no scorecards
    because they name staff (appraisal data), and `kpis` withholds cells of fewer than 10
    customers from them; staffRatings is refused to them by staff and by branch alike (they
    read STAFF_RATING through `kpis`)."""
    branch = new_branch(backend)
    occasions = [rated_contact(backend, branch, "RM1") for _ in range(6)]
    with clock.travel_to(at("2026-11-20T10:00:00+08:00"), all_threads=True):
        for (customer, contact), score in zip(occasions, [5, 5, 4, 4, 3, 5], strict=True):
            assert record_evaluation(backend, customer, contact, rating=score)["errors"] == []
    for by in ("STAFF", "BRANCH"):
        variables = {"start": "2026-11-01", "end": "2026-11-30", "by": by}
        refused = backend.post(
            RATINGS, {**variables, "branch": branch["branch_id"]}, staff="MKT0001"
        ).json()
        _forbidden(refused)
    # Head office (customer rows) still gets RM1's own average.
    mine = _ratings(backend, "2026-11-01", "2026-11-30", "STAFF", branch["branch_id"])
    assert [(c["staff"]["employeeNo"], c["numerator"], c["denominator"]) for c in mine["cells"]]


@dataclass
class Surveyed:
    branch: str
    scores: list[int]  # the answer of the customer surveyed on 1, 2, … March 2013


@pytest.fixture(scope="module")
def surveyed(backend: Backend) -> Iterator[Surveyed]:
    """A fresh branch whose 11 customers each answer one survey in March 2013, one a day from
    1 March (10:00 Beijing), satisfaction 1 … 5 in turn, the 11th customer 1."""
    _, sup, rm1, _ = _staff_branch(backend)
    me = _me(backend, rm1)
    branch = me["branch"]["id"]
    scores = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 1]
    with _at(2013, 2, 20, 10):
        customers = [
            create_customer(backend, relationshipManager=me["id"], branch=branch)["id"]
            for _ in scores
        ]
    for day, (customer, score) in enumerate(zip(customers, scores, strict=True), 1):
        with _at(2013, 3, day, 10):
            # The supervisor types in the answers: the manager's own would not count (KPI-2).
            _survey(backend, rm1, customer, score, score >= 3, recorder=sup)
    yield Surveyed(branch, scores)


SURVEY_RESULTS = """query($start: Date!, $end: Date!, $branch: ID) {
  surveyResults(start: $start, end: $end, branch: $branch) {
    minimumCount satisfaction { numerator denominator } } }"""


def test_KPI_1_survey_results_suppress_below_the_kpi_minimum_like_kpis(
    backend: Backend, surveyed: Surveyed
) -> None:
    """1 … 7 March 2013: 7 customers answered — under the KPI minimum of 10. `kpis` refuses a
    marketing analyst that window (no whole month, quarter or year) and surveyResults refuses
    them altogether (they read SATISFACTION_SCORE through `kpis`). The whole of March (11
    customers): the analyst's `kpis` and head office's surveyResults agree."""
    period = {"from": "2013-03-01", "to": "2013-03-07"}
    scope = {"level": "BRANCH", "id": surveyed.branch}
    variables = {"period": period, "scope": scope, "indicators": ["SATISFACTION_SCORE"]}
    body = backend.post(KPIS, {**variables, "drill": False}, staff="MKT0001").json()
    assert body["data"] is None, body
    fields = [(f["field"], f["code"]) for f in body["errors"][0]["extensions"]["fields"]]
    assert fields == [(["period", "from"], "CALENDAR_PERIOD_REQUIRED")]
    variables = {"start": "2013-03-01", "end": "2013-03-31", "branch": surveyed.branch}
    _forbidden(backend.post(SURVEY_RESULTS, variables, staff="MKT0001").json())
    month = _values(
        _kpis(
            backend,
            {"label": "2013-03"},
            scope,
            staff="MKT0001",
            indicators=["SATISFACTION_SCORE"],
        )["scope"]
    )["SATISFACTION_SCORE"]
    found = backend.gql(SURVEY_RESULTS, variables)["surveyResults"]
    assert (month["numerator"], month["denominator"]) == ("31", "11"), month
    assert (found["satisfaction"]["numerator"], found["satisfaction"]["denominator"]) == (31, 11)


def test_KPI_1_a_complaint_rate_of_three_customers_is_not_shown_because_none_complained(
    backend: Backend, small: Small
) -> None:
    """Q3 2014, the branch drilled down: team B has 3 customers. Its COMPLAINT_RATE counts
    suppression by complainants (0: "a cell of no customer stays shown") and so shows a
    marketing analyst 0 complaints over a denominator of 3 customers — a fact about each of
    those three customers, and the team's size. A cell whose figure describes fewer than 10
    customers is withheld."""
    scope = {"level": "BRANCH", "id": small.branch}
    found = _kpis(
        backend,
        {"label": "2014-Q3"},
        scope,
        staff="MKT0001",
        drill=True,
        indicators=["COMPLAINT_RATE"],
    )
    team_b = next(_values(u) for u in found["children"] if u["id"] == small.team_b)
    rate = team_b["COMPLAINT_RATE"]
    assert rate["suppressed"] is True, (rate["numerator"], rate["denominator"])


# Suppression along every line: a cell withheld from an analyst stays withheld whichever way
# it is asked (through a staff member of a withheld team, a year minus its shown quarters or
# months, two date ranges a day apart).

NEW = ["NEW_CUSTOMERS"]


def _figures(backend: Backend, label: str, scope: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The analyst's NEW_CUSTOMERS figures of ``label``'s series, by period label."""
    found = _kpis(backend, {"label": label}, scope, staff="MKT0001", indicators=NEW)
    value = _values(found["scope"])["NEW_CUSTOMERS"]
    return {f["label"]: f for f in value["series"]}


def _withheld(figures: dict[str, dict[str, Any]], labels: list[str]) -> list[str]:
    return [label for label in labels if figures[label]["suppressed"]]


def test_KPI_1_a_team_withheld_in_its_branch_stays_withheld_through_its_staff(
    backend: Backend, small: Small
) -> None:
    """2014: team A (RM1, 12 new customers) and team B (RM2, 3). Team B is under the minimum,
    so team A is withheld with it (the branch's 15 minus A would give B), asked through the
    branch or directly. Asking for RM1 — the only member of team A — would give team A back
    (12): a marketing analyst gets no figures by member of staff, neither a staff scope nor a
    team drilled down to its staff (FORBIDDEN, naming the argument)."""
    branch = {"level": "BRANCH", "id": small.branch}
    drilled = _kpis(backend, {"label": "2014"}, branch, staff="MKT0001", drill=True, indicators=NEW)
    assert _values(drilled["scope"])["NEW_CUSTOMERS"]["value"] == "15"
    teams = {u["id"]: _values(u)["NEW_CUSTOMERS"] for u in drilled["children"]}
    assert teams[small.team_a]["suppressed"] and teams[small.team_b]["suppressed"], teams
    team = {"level": "TEAM", "id": small.team_a}
    direct = _kpis(backend, {"label": "2014"}, team, staff="MKT0001", indicators=NEW)
    assert _values(direct["scope"])["NEW_CUSTOMERS"]["suppressed"] is True
    staff = {"level": "STAFF", "id": small.rm1}
    for scope, drill, argument in ((staff, False, "scope.level"), (team, True, "drillDown")):
        variables = {"period": {"label": "2014"}, "scope": scope, "indicators": NEW}
        body = backend.post(KPIS, {**variables, "drill": drill}, staff="MKT0001").json()
        assert body["data"] is None, body
        error = body["errors"][0]
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert error["message"].startswith(f"{argument}:"), error
    # Head office, who sees the customers, gets every figure.
    mine = _kpis(backend, {"label": "2014"}, staff, indicators=NEW)
    assert _values(mine["scope"])["NEW_CUSTOMERS"]["value"] == "12"


def test_KPI_1_a_withheld_quarter_or_month_is_not_its_year_minus_the_shown_ones(
    backend: Backend, small: Small
) -> None:
    """The branch in 2014: 12 new customers in January (Q1), 3 in April (Q2), 15 in the year.
    Q2 and April are under the minimum. The year is shown, so Q1 and January must be withheld
    with them — else 15 − 12 gives the 3 back — and a month is withheld alike asked alone or
    within the series of December."""
    branch = {"level": "BRANCH", "id": small.branch}
    year = _kpis(backend, {"label": "2014"}, branch, staff="MKT0001", indicators=NEW)
    assert _values(year["scope"])["NEW_CUSTOMERS"]["value"] == "15"
    quarters = _figures(backend, "2014-Q4", branch)
    labels = [f"2014-Q{q}" for q in range(1, 5)]
    assert quarters["2014-Q2"]["suppressed"] is True
    assert _withheld(quarters, labels) == ["2014-Q1", "2014-Q2"], quarters
    months = _figures(backend, "2014-12", branch)
    month_labels = [f"2014-{m:02d}" for m in range(1, 13)]
    assert _withheld(months, month_labels) == ["2014-01", "2014-04"], months
    for label in month_labels:
        alone = _kpis(backend, {"label": label}, branch, staff="MKT0001", indicators=NEW)
        current = _values(alone["scope"])["NEW_CUSTOMERS"]
        assert current["suppressed"] is months[label]["suppressed"], (label, current)
    # Every line of the calendar: never exactly one cell of it withheld.
    cells = {**quarters, **months, "2014": _values(year["scope"])["NEW_CUSTOMERS"]}
    quarter_lines = [[labels[q], *month_labels[q * 3 : q * 3 + 3]] for q in range(4)]
    for members in [["2014", *labels], ["2014", *month_labels], *quarter_lines]:
        assert len(_withheld(cells, members)) != 1, members


def test_KPI_1_analysts_ask_for_calendar_periods_not_ranges(backend: Backend, small: Small) -> None:
    """1 … 14 and 1 … 15 January 2014 would differ by the customers of 15 January alone: a
    marketing analyst's range is refused naming the field; head office keeps ranges."""
    branch = {"level": "BRANCH", "id": small.branch}
    for last in ("2014-01-14", "2014-01-15"):
        period = {"from": "2014-01-01", "to": last}
        variables = {"period": period, "scope": branch, "indicators": NEW}
        body = backend.post(_KPIS_QUERY, variables, staff="MKT0001").json()
        assert body["data"] is None
        extensions = body["errors"][0]["extensions"]
        assert extensions["code"] == "BAD_USER_INPUT"
        assert [(f["field"], f["code"]) for f in extensions["fields"]] == [
            (["period", "from"], "CALENDAR_PERIOD_REQUIRED")
        ]
    period = {"from": "2014-01-01", "to": "2014-01-15"}
    mine = _kpis(backend, period, branch, indicators=NEW)
    assert _values(mine["scope"])["NEW_CUSTOMERS"]["value"] == "12"


_KPIS_QUERY = """
query($period: KpiPeriodInput!, $scope: KpiScopeInput, $indicators: [String!]) {
  kpis(period: $period, scope: $scope, indicators: $indicators) { label }
}
"""


def _three_managers(
    backend: Backend,
) -> tuple[str, dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A fresh branch's supervisor (employee number) and three managers (`me`)."""
    code, sup, rm1, rm2 = _staff_branch(backend)
    with backend.engine.begin() as connection:
        branch_pk = connection.execute(select(Branch.id).where(Branch.code == code)).scalar_one()
        connection.execute(
            insert(Staff).values(
                employee_no=f"{code}RM3",
                name="员工RM3",
                branch_id=branch_pk,
                roles=[Role.RELATIONSHIP_MANAGER.value],
                active=True,
                created_at=clock.now(),
            )
        )
    return sup, _me(backend, rm1), _me(backend, rm2), _me(backend, f"{code}RM3")


def test_KPI_1_indicators_showing_the_same_complaints_withhold_the_same_cells(
    backend: Backend,
) -> None:
    """June 2011, a fresh branch: team A (RM1) 12 customers who all complain, team B (RM2) 10
    customers of whom 2 complain, and RM3 in no team with 3 customers and no complaint. The
    branch's 14 complaints are shown. COMPLAINT_COUNT withholds B (2) and, beside it, A;
    COMPLAINT_RATE withholds B and the no-team cell (a rate over 3 customers) and would show
    A's 12 complaints — with COUNT's 0 for the no-team cell, 14 − 12 − 0 gives B's 2 back. Both
    indicators show the complaints, so each withholds what either does, asked alone or
    together."""
    sup, me1, me2, me3 = _three_managers(backend)
    branch = me1["branch"]["id"]
    with _at(2011, 1, 5, 9):
        team_a = _team(backend, sup, branch, "A")
        team_b = _team(backend, sup, branch, "B")
        assert _move(backend, sup, me1["id"], team_a)["errors"] == []
        assert _move(backend, sup, me2["id"], team_b)["errors"] == []
    with _at(2011, 2, 10, 10):
        made = {
            who: [
                create_customer(backend, relationshipManager=me["id"], branch=branch)["id"]
                for _ in range(n)
            ]
            for who, me, n in (("A", me1, 12), ("B", me2, 10), ("none", me3, 3))
        }
    for day, customer in enumerate(made["A"] + made["B"][:2], 1):
        with _at(2011, 6, day, 10):
            submit(backend, {"id": customer}, staff="HO0001")
    scope = {"level": "BRANCH", "id": branch}
    period = {"label": "2011-06"}
    full = _kpis(backend, period, scope, drill=True, indicators=["COMPLAINT_RATE"])
    exact = {u["id"]: _values(u)["COMPLAINT_RATE"]["numerator"] for u in full["children"]}
    assert exact == {team_a: "12", team_b: "2", None: "0"}, exact
    asked = {
        "alone": [["COMPLAINT_COUNT"], ["COMPLAINT_RATE"]],
        "together": [["COMPLAINT_COUNT", "COMPLAINT_RATE"]],
    }
    for how, questions in asked.items():
        shown: dict[str, dict[Any, Any]] = {}
        for indicators in questions:
            found = _kpis(
                backend, period, scope, staff="MKT0001", drill=True, indicators=indicators
            )
            total = _values(found["scope"])[indicators[0]]
            assert total["numerator"] == "14", total
            for code_ in indicators:
                shown[code_] = {u["id"]: _values(u)[code_]["numerator"] for u in found["children"]}
        for code_, cells in shown.items():
            assert cells[team_a] is None and cells[team_b] is None, (how, code_, cells)


def test_KPI_1_an_analyst_s_team_cells_do_not_depend_on_the_period_asked(backend: Backend) -> None:
    """2011, a fresh branch: team A = RM1 (3 customers) and RM3 (10), team B = RM2 (10), all
    registered in July. RM1 moves to team B on 15 August. Were teams taken at the end of the
    period asked, July's teams would be A 13 / B 10 asked for July and A 10 / B 13 asked for
    September (its series holds July) — their difference RM1's 3 customers, under the minimum. An analyst's
    teams are the teams now: July is the same cell whichever period is asked."""
    sup, me1, me2, me3 = _three_managers(backend)
    branch = me1["branch"]["id"]
    with _at(2011, 7, 1, 9):
        team_a = _team(backend, sup, branch, "A")
        team_b = _team(backend, sup, branch, "B")
        for me, team in ((me1, team_a), (me3, team_a), (me2, team_b)):
            assert _move(backend, sup, me["id"], team)["errors"] == []
    with _at(2011, 7, 10, 10):
        for me, n in ((me1, 3), (me2, 10), (me3, 10)):
            for _ in range(n):
                create_customer(backend, relationshipManager=me["id"], branch=branch)
    with _at(2011, 8, 15, 10):
        assert _move(backend, sup, me1["id"], team_b)["errors"] == []
    scope = {"level": "BRANCH", "id": branch}

    def july(label: str, staff: str) -> dict[Any, Any]:
        found = _kpis(backend, {"label": label}, scope, staff=staff, drill=True, indicators=NEW)
        return {
            u["id"]: next(
                f["value"] for f in _values(u)["NEW_CUSTOMERS"]["series"] if f["label"] == "2011-07"
            )
            for u in found["children"]
        }

    # Head office compares like for like: the teams at the end of the period asked.
    assert july("2011-07", "HO0001") == {team_a: "13", team_b: "10"}
    assert july("2011-09", "HO0001") == {team_a: "10", team_b: "13"}
    # An analyst's row holds every team of the branch and "no team", whatever has customers.
    now = {team_a: "10", team_b: "13", None: "0"}
    assert july("2011-07", "MKT0001") == july("2011-09", "MKT0001") == now
