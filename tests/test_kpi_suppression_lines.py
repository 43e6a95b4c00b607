"""Suppression along every line (KPI-1): a cell withheld from a marketing analyst stays withheld
whichever way it is asked — through a staff member of a withheld team, through a year minus its
shown quarters or months, through two date ranges a day apart."""

from __future__ import annotations

from typing import Any

from tests.conftest import Backend
from tests.test_kpi_suppression_attack import Small, small  # noqa: F401  (the fixture)
from tests.test_kpis import _kpis, _values

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
    so team A is withheld with it (the branch's 15 minus A would give B). Asking for RM1 — the
    only member of team A — must not give team A back: RM1 is withheld too, whether asked
    directly or through team A's drill-down."""
    branch = {"level": "BRANCH", "id": small.branch}
    drilled = _kpis(
        backend, {"label": "2014"}, branch, staff="MKT0001", drill=True, indicators=NEW
    )
    assert _values(drilled["scope"])["NEW_CUSTOMERS"]["value"] == "15"
    teams = {u["id"]: _values(u)["NEW_CUSTOMERS"] for u in drilled["children"]}
    assert teams[small.team_a]["suppressed"] and teams[small.team_b]["suppressed"], teams
    staff = {"level": "STAFF", "id": small.rm1}
    direct = _kpis(backend, {"label": "2014"}, staff, staff="MKT0001", indicators=NEW)
    current = _values(direct["scope"])["NEW_CUSTOMERS"]
    assert current["suppressed"] is True and current["value"] is None, current
    team = {"level": "TEAM", "id": small.team_a}
    through = _kpis(backend, {"label": "2014"}, team, staff="MKT0001", drill=True, indicators=NEW)
    assert _values(through["scope"])["NEW_CUSTOMERS"]["suppressed"] is True
    members = [_values(u)["NEW_CUSTOMERS"] for u in through["children"]]
    assert [m["suppressed"] for m in members] == [True], members
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
