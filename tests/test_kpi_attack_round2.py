"""Attacks on KPI suppression, round 2 (KPI-1): a marketing analyst (MKT0001, aggregates only)
combines answers they may get — two questions weighing different units, two small withheld
cells of one line — to recover a cell describing fewer than 10 customers
(KEHU_KPI_MINIMUM_CELL). (The same round's attacks on the other aggregate endpoints are
closed by refusing them to such callers: tests/test_kpi_calendar_periods.py.)

Years: 2015 (tests/test_kpi_assessment.py writes it too, in branches of its own; the seeded
demo customers join from late 2016) and 2018 (transactions: nobody else's that year); the
first test also gives one fresh team customers in March 2016 (nobody reads 2016)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tests.conftest import Backend, create_customer
from tests.test_kpis import (
    _account,
    _at,
    _import,
    _kpis,
    _tag,
    _two_teams,
    _tx,
    _values,
)

ANALYST = "MKT0001"


def _customers(backend: Backend, branch: str, manager: str | None, n: int) -> list[str]:
    fields: dict[str, Any] = {"branch": branch}
    if manager is not None:
        fields["relationshipManager"] = manager
    return [create_customer(backend, **fields)["id"] for _ in range(n)]


# 4. The units suppression weighs depend on the question: a team with customers only in the
# next year is a sibling when the series reaches into that year, and not otherwise.


def _series(found: dict[str, Any]) -> dict[Any, dict[str, dict[str, Any]]]:
    """Each unit's NEW_CUSTOMERS figures of the answer (scope and children) by label."""
    units = [found["scope"], *found["children"]]
    return {u["id"]: {f["label"]: f for f in _values(u)["NEW_CUSTOMERS"]["series"]} for u in units}


def test_KPI_1_a_month_withheld_in_one_question_is_not_shown_in_another(
    backend: Backend,
) -> None:
    """A fresh branch: team A (RM1) gets 30 new customers in January 2015 and 3 in April
    (withheld); 10 customers without a manager join in February 2015 ("no team"); team W (RM2)
    gets its 15 only in March 2016. December 2015's answer (series back to December 2014) weighs
    team A and "no team": A's April is withheld, so A's January too, and in January's row of
    siblings "no team"'s January (0). January 2016's answer (series from January 2015) also
    weighs team W — no customer in 2015, yet a sibling — and withholds W's January instead, and
    shows "no team"'s January 2015: 0. With it the branch's January (30) is team A's, and A's
    year (33, shown) minus its January and its shown months is April's 3 customers."""
    me1, me2, branch, team_a, team_w = _two_teams(backend, 2015, "W")
    with _at(2015, 1, 15, 10):
        _customers(backend, branch, me1["id"], 30)
    with _at(2015, 2, 10, 10):
        _customers(backend, branch, None, 10)
    with _at(2015, 4, 10, 10):
        _customers(backend, branch, me1["id"], 3)
    with _at(2016, 3, 10, 10):
        _customers(backend, branch, me2["id"], 15)
    scope = {"level": "BRANCH", "id": branch}

    def ask(label: str) -> dict[str, Any]:
        return _kpis(
            backend, {"label": label}, scope, ANALYST, drill=True, indicators=["NEW_CUSTOMERS"]
        )

    year = ask("2015")
    years = {u["id"]: _values(u)["NEW_CUSTOMERS"] for u in [year["scope"], *year["children"]]}
    december = _series(ask("2015-12"))
    january = _series(ask("2016-01"))
    assert december[team_a]["2015-04"]["suppressed"] is True, december[team_a]["2015-04"]
    months = [f"2015-{m:02d}" for m in range(1, 13)]
    shown = lambda f: None if f["suppressed"] else int(f["value"])  # noqa: E731
    # Team W had nobody in 2015: the branch's year minus its children's shown years.
    others = [shown(years[k]) for k in years if k not in (branch, team_a, team_w)]
    team_w_year = (
        None
        if shown(years[branch]) is None or shown(years[team_a]) is None or None in others
        else shown(years[branch]) - shown(years[team_a]) - sum(others)  # type: ignore[operator]
    )
    january_of_others = [
        shown(january[k]["2015-01"]) for k in january if k not in (branch, team_a, team_w)
    ]
    rest = [shown(december[team_a][m]) for m in months if m not in ("2015-01", "2015-04")]
    parts = [
        shown(years[team_a]),
        shown(december[branch]["2015-01"]),
        team_w_year,
        *january_of_others,
        *rest,
    ]
    recovered = (
        None
        if None in parts
        else shown(years[team_a])  # type: ignore[operator]
        - (shown(december[branch]["2015-01"]) - team_w_year - sum(january_of_others))  # type: ignore[operator]
        - sum(rest)  # type: ignore[arg-type]
    )
    assert recovered != 3, (
        "team A's withheld April 2015 = its year − (the branch's January − the other units' "
        f"January, shown in January 2016's series) − its other months: {parts}"
    )


# 7. Two small cells of one line: each withheld, no complement is sought, and their sum — itself
# fewer than 10 customers — is the total minus the shown cells.


def test_KPI_1_two_small_withheld_cells_of_a_line_do_not_give_back_their_sum(
    backend: Backend,
) -> None:
    """A fresh branch, 2018 (nobody else has transactions that year): team A (RM1) has 5
    customers depositing 100.00 each in February and 3 in June; team B (RM2) 15 in July; 15
    customers without a manager deposit in July. Team A's 2018 DEPOSIT_GROWTH describes 8
    customers: withheld. The branch's February (5) and June (3) are both under the minimum,
    so its months line already holds two withheld cells and nothing else is withheld beside
    them: the branch's year (3,800.00) minus July (3,000.00) is February + June — team A's
    year (800.00), since B and "no team" show nothing those months."""
    me1, me2, branch, team_a, _ = _two_teams(backend, 2018, "B")
    plan = [(me1["id"], "2018-02", 5), (me1["id"], "2018-06", 3), (me2["id"], "2018-07", 15)]
    plan.append((None, "2018-07", 15))
    for manager, month, n in plan:
        with _at(2018, 1, 5, 10):
            people = _customers(backend, branch, manager, n)
        for customer in people:
            tag = _tag(customer)
            _import(
                backend,
                customer,
                [_account(f"R2S{tag}", "DEMAND_DEPOSIT")],
                [_tx(f"R2S{tag}", "a", f"{month}-10T10:00:00", "100.00", "DEPOSIT")],
            )
    scope = {"level": "BRANCH", "id": branch}
    deposits = ["DEPOSIT_GROWTH"]
    year = _kpis(backend, {"label": "2018"}, scope, ANALYST, drill=True, indicators=deposits)
    children = {u["id"]: _values(u)["DEPOSIT_GROWTH"] for u in year["children"]}
    assert children[team_a]["suppressed"] is True, children[team_a]
    branch_year = _values(year["scope"])["DEPOSIT_GROWTH"]["value"]
    found = _kpis(backend, {"label": "2018-12"}, scope, ANALYST, drill=True, indicators=deposits)
    series = {
        u["id"]: {f["label"]: f for f in _values(u)["DEPOSIT_GROWTH"]["series"]}
        for u in [found["scope"], *found["children"]]
    }
    months = [f"2018-{m:02d}" for m in range(1, 13)]

    def value(unit: Any, month: str) -> Decimal | None:
        figure = series[unit][month]
        return None if figure["suppressed"] else Decimal(figure["value"])

    withheld = [m for m in months if value(branch, m) is None]
    others = [k for k in series if k not in (branch, team_a)]
    parts = [value(k, m) for k in others for m in withheld]
    parts += [value(team_a, m) for m in months if m not in withheld]
    parts += [value(branch, m) for m in months if m not in withheld]
    recovered = (
        None
        if branch_year is None or None in parts
        else Decimal(branch_year)
        - sum(value(branch, m) for m in months if m not in withheld)  # type: ignore[misc]
        - sum(value(k, m) for k in others for m in withheld)  # type: ignore[misc]
        + sum(value(team_a, m) for m in months if m not in withheld)  # type: ignore[misc]
    )
    assert recovered != Decimal("800.00"), (
        f"team A's withheld 2018 = the branch's year ({branch_year}) − its shown months − "
        f"the other units' shown {withheld} + team A's shown months"
    )
