"""The segment distribution by branch and over time (SEG-4, SEG-6) over HTTP, on SQLite and
PostgreSQL: month-end figures from the history at exact Beijing month boundaries, suppression of
small cells that subtraction cannot undo, and marketing analysts seeing distributions only.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from core import clock
from resolvers.segments.distribution import suppressed
from tests.conftest import Backend, create_customer
from tests.test_segment_risk import _assess
from tests.test_segments import DISTRIBUTION, OVERRIDE, SET_NEED, _payments, _record_aum

TREND = """
query($from: String!, $to: String!, $byBranch: Boolean!) {
  segmentsOverTime(fromMonth: $from, toMonth: $to, byBranch: $byBranch) {
    minimumCount
    months { month asOf cells { tier branch { code } suppressed customers assetsUnderManagement } }
  }
}
"""
BEIJING = clock.BUSINESS_TIME


def _lone_suppressions(cells: list[dict[str, Any]]) -> list[str]:
    """Rows (tiers) and columns (branches) with exactly one suppressed cell among several."""
    lines: dict[str, list[bool]] = defaultdict(list)
    for cell in cells:
        branch = (cell.get("branch") or {}).get("code")
        lines[f"tier {cell['tier']}"].append(cell["suppressed"])
        lines[f"branch {branch}"].append(cell["suppressed"])
    return [name for name, flags in lines.items() if len(flags) > 1 and sum(flags) == 1]


@settings(max_examples=200, deadline=None)
@given(
    table=st.dictionaries(
        st.tuples(st.sampled_from(["HIGH", "MEDIUM", "LOW", None]), st.integers(0, 6)),
        st.integers(1, 12),
        max_size=28,
    ),
    minimum=st.integers(1, 6),
)
def test_SEG_6_no_suppressed_cell_is_alone_in_its_row_or_column(
    table: dict[tuple[str | None, int], int], minimum: int
) -> None:
    """Property: every cell under the minimum is withheld, and no row or column of several
    cells has exactly one withheld (its total minus the shown cells would give it back)."""
    hidden = suppressed(table, minimum, row=lambda k: k[0], column=lambda k: k[1])
    assert {k for k, n in table.items() if n < minimum} <= hidden <= set(table)
    for axis in (0, 1):
        lines: dict[Any, list[tuple[str | None, int]]] = defaultdict(list)
        for key in table:
            lines[key[axis]].append(key)
        for keys in lines.values():
            assert len(keys) == 1 or sum(k in hidden for k in keys) != 1


def _at(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=BEIJING)  # type: ignore[misc]


def _trend(
    backend: Backend, start: str, end: str, by_branch: bool = False, staff: str = "HO0001"
) -> dict[str, Any]:
    found = backend.gql(TREND, {"from": start, "to": end, "byBranch": by_branch}, staff=staff)[
        "segmentsOverTime"
    ]
    return found  # type: ignore[no-any-return]


def _tiers(month: dict[str, Any]) -> dict[str | None, tuple[Any, Any]]:
    return {c["tier"]: (c["customers"], c["assetsUnderManagement"]) for c in month["cells"]}


def test_SEG_4_month_end_figures_come_from_the_history_at_exact_beijing_boundaries(
    backend: Backend,
) -> None:
    """Before any other test's customers (2010: the earliest year any test writes in; the
    bank-wide figures count everyone, so keep it the earliest). February 2010: six HIGH
    (600,000 each) and six MEDIUM (60,000) customers, the last made at 23:59:59 Beijing on the 28th. At exactly 00:00 Beijing on 1 March one HIGH falls to LOW
    (a March change); a MEDIUM one is overridden HIGH until exactly 00:00 on 1 April (still in
    force in March's figures). March: HIGH 6 (five at 600,000 and the overridden 60,000),
    MEDIUM 5, LOW 1 — LOW suppressed, and MEDIUM (the smallest other cell) with it."""
    high, medium = [], []
    with clock.travel_to(_at(2010, 2, 20, 10), all_threads=True):
        for _ in range(6):
            customer = create_customer(backend, staff="RM0001")
            _record_aum(backend, customer["id"], "600000", staff="RM0001")
            high.append(customer["id"])
        for _ in range(5):
            customer = create_customer(backend, staff="RM0001")
            _record_aum(backend, customer["id"], "60000", staff="RM0001")
            medium.append(customer["id"])
    with clock.travel_to(_at(2010, 2, 28, 23, 59, 59), all_threads=True):
        customer = create_customer(backend, staff="RM0001")
        _record_aum(backend, customer["id"], "60000", staff="RM0001")
        medium.append(customer["id"])
    with clock.travel_to(_at(2010, 3, 1), all_threads=True):
        _record_aum(backend, high[0], "1000", staff="RM0001")
    with clock.travel_to(_at(2010, 3, 10), all_threads=True):
        payload = backend.gql(
            OVERRIDE,
            {
                "input": {
                    "customerId": medium[0],
                    "tier": "HIGH",
                    "reason": "trust assets arriving",
                    "expiresAt": _at(2010, 4, 1).isoformat(),
                }
            },
            staff="SUP0001",
        )["overrideSegment"]
        assert payload["errors"] == []
    trend = _trend(backend, "2010-02", "2010-04")
    assert trend["minimumCount"] == 5
    february, march, april = trend["months"]
    assert [m["month"] for m in trend["months"]] == ["2010-02", "2010-03", "2010-04"]
    assert february["asOf"] == _at(2010, 3, 1).astimezone(clock.UTC).isoformat()
    tiers = _tiers(february)
    assert tiers["HIGH"] == (6, "3600000.00")
    assert tiers["MEDIUM"] == (6, "360000.00")
    assert "LOW" not in tiers
    tiers = _tiers(march)
    assert tiers["HIGH"] == (6, str(Decimal("3060000.00")))
    assert tiers["LOW"] == (None, None) and tiers["MEDIUM"] == (None, None)
    assert not _lone_suppressions(march["cells"])
    # April: the override expired at its first instant; M1 is MEDIUM again: MEDIUM 6, HIGH 5,
    # LOW 1 (suppressed, and HIGH, the smallest other, with it).
    tiers = _tiers(april)
    assert tiers["MEDIUM"] == (6, "360000.00")
    assert tiers["HIGH"] == tiers["LOW"] == (None, None)
    # The supervisor of BJ01 counts the customers they see: the same, all in BJ01.
    own = _trend(backend, "2010-02", "2010-02", staff="SUP0001")["months"][0]
    assert _tiers(own)["HIGH"] == (6, "3600000.00")
    by_branch = _trend(backend, "2010-02", "2010-03", by_branch=True)
    for month in by_branch["months"]:
        assert all(c["branch"] for c in month["cells"])
        assert not _lone_suppressions(month["cells"]), month["month"]
    bj01 = {
        c["tier"]: c["customers"]
        for c in by_branch["months"][0]["cells"]
        if c["branch"]["code"] == "BJ01"
    }
    assert bj01["HIGH"] == 6


def test_SEG_4_the_month_in_progress_is_as_of_now_and_bad_ranges_are_refused(
    backend: Backend,
) -> None:
    moment = clock.now().replace(microsecond=0)
    today = clock.business_date(moment)
    current = f"{today:%Y-%m}"
    following = f"{(today.replace(day=1) + timedelta(days=32)):%Y-%m}"
    with clock.travel_to(moment, all_threads=True):
        (month,) = _trend(backend, current, current)["months"]
        assert month["asOf"] == moment.isoformat()
        refused = [
            ((current, following), ("FUTURE", ["toMonth"])),
            (("2019-13", current), ("INVALID", ["fromMonth"])),
            ((current, "2019-01"), ("INVALID_RANGE", ["toMonth"])),
            (("2016-01", "2019-01"), ("INVALID_RANGE", ["toMonth"])),  # 37 months
        ]
        for (start, end), expected in refused:
            body = backend.post(TREND, {"from": start, "to": end, "byBranch": False}).json()
            (error,) = body["errors"]
            assert error["extensions"]["code"] == "BAD_USER_INPUT"
            assert [(f["code"], f["field"]) for f in error["extensions"]["fields"]] == [expected]
        assert len(_trend(backend, "2016-02", "2019-01")["months"]) == 36


def test_SEG_6_the_live_distribution_never_leaves_a_suppressed_cell_alone(
    backend: Backend,
) -> None:
    for by_branch in (False, True):
        cells = backend.gql(DISTRIBUTION, {"byBranch": by_branch}, staff="MKT0001")["segments"][
            "cells"
        ]
        assert not _lone_suppressions(cells), by_branch
        assert all(c["suppressed"] or (c["customers"] or 0) >= 5 for c in cells), (
            "a shown cell under the minimum"
        )


def test_SEG_6_marketing_sees_distributions_only_never_customer_rows(backend: Backend) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "600000")
    month = f"{clock.today():%Y-%m}"
    assert _trend(backend, month, month, staff="MKT0001")["months"][0]["cells"]
    assert backend.gql(DISTRIBUTION, {"byBranch": True}, staff="MKT0001")["segments"]["cells"]
    rows = [
        ("{ customers(first: 1) { totalCount } }", {}),
        ("query($id: ID!) { customer(id: $id) { segment { tier } } }", {"id": customer["id"]}),
        (
            "query($id: ID!) { customer(id: $id) { segmentHistory { toTier } } }",
            {"id": customer["id"]},
        ),
        ("query($id: ID!) { node(id: $id) { id } }", {"id": customer["id"]}),
    ]
    for query, variables in rows:
        body = backend.post(query, variables, staff="MKT0001").json()
        # Refused, or (node) answered as if the customer did not exist: no row either way.
        assert body.get("data") in (None, {"customers": None}, {"customer": None}, {"node": None})
        codes = {e["extensions"]["code"] for e in body.get("errors", [])}
        assert codes <= {"FORBIDDEN", "NOT_FOUND"} and (codes or "node(" in query), query
    # Relationship managers hold no distribution right, over time either.
    refused = backend.post(
        TREND, {"from": month, "to": month, "byBranch": False}, staff="RM0001"
    ).json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"


RISK_TREND = """
query($from: String!, $to: String!) {
  segmentsOverTime(fromMonth: $from, toMonth: $to, dimension: RISK_GRADE) {
    dimension months { month cells { tier riskGrade suppressed customers } }
  }
}
"""


def _by_grade(backend: Backend, start: str, end: str) -> list[dict[str | None, int | None]]:
    found = backend.gql(RISK_TREND, {"from": start, "to": end})["segmentsOverTime"]
    assert found["dimension"] == "RISK_GRADE"
    assert all(c["tier"] is None for m in found["months"] for c in m["cells"])
    return [{c["riskGrade"]: c["customers"] for c in m["cells"]} for m in found["months"]]


def test_SEG_4_the_distribution_over_time_by_risk_grade_follows_the_history_at_the_month_end(
    backend: Backend,
) -> None:
    """SEG-3 over time: twelve customers graded HIGH at 23:59:59 Beijing on the last day of last
    month count HIGH in last month's figures; six of them re-graded LOW at exactly 00:00 on the
    1st count LOW in this month's (a change at that instant belongs to the next month)."""
    today = clock.business_date(clock.now())
    start = datetime.combine(today.replace(day=1), datetime.min.time(), BEIJING)
    last, current = f"{start - timedelta(days=1):%Y-%m}", f"{start:%Y-%m}"
    before = _by_grade(backend, last, current)
    customers = []
    with clock.travel_to(start - timedelta(seconds=1), all_threads=True):
        for _ in range(12):
            customer = create_customer(backend)
            _assess(backend, customer["id"], 599)  # HIGH
            customers.append(customer["id"])
    with clock.travel_to(start, all_threads=True):
        for customer_id in customers[:6]:
            _assess(backend, customer_id, 750)  # LOW, from the first instant of this month
    after = _by_grade(backend, last, current)

    def added(month: int, grade: str) -> int:
        return (after[month].get(grade) or 0) - (before[month].get(grade) or 0)

    assert (added(0, "HIGH"), added(0, "LOW")) == (12, 0)
    assert (added(1, "HIGH"), added(1, "LOW")) == (6, 6)


# -- needs as a distribution dimension (SEG-2) -------------------------------------------------

NEED_DISTRIBUTION = """
query($byBranch: Boolean!) { segments(byBranch: $byBranch, dimension: NEED) {
  dimension cells { tier need riskGrade branch { code } suppressed customers
                    assetsUnderManagement } } }
"""
NEED_TREND = """
query($from: String!, $to: String!, $byBranch: Boolean!) {
  segmentsOverTime(fromMonth: $from, toMonth: $to, byBranch: $byBranch, dimension: NEED) {
    dimension months { month cells { tier need branch { code } suppressed customers } }
  }
}
"""
CLEAR_NEED = """
mutation($input: ClearCustomerNeedInput!) { clearCustomerNeed(input: $input) { errors { code } } }
"""


def _need(backend: Backend, customer_id: str, need: str, present: bool | None) -> None:
    """Staff set a need (``present``), or clear their setting (None)."""
    values: dict[str, Any] = {"customerId": customer_id, "need": need, "reason": "面谈确认"}
    if present is None:
        payload = backend.gql(CLEAR_NEED, {"input": values}, staff="RM0001")["clearCustomerNeed"]
    else:
        values["present"] = present
        payload = backend.gql(SET_NEED, {"input": values}, staff="RM0001")["setCustomerNeed"]
    assert payload["errors"] == [], payload


def _by_need(cells: list[dict[str, Any]]) -> dict[str, tuple[Any, Any]]:
    assert all(c["tier"] is None and c.get("riskGrade") is None for c in cells)
    return {c["need"]: (c["customers"], c.get("assetsUnderManagement")) for c in cells}


def _lone_need_suppressions(cells: list[dict[str, Any]]) -> list[str]:
    lines: dict[str, list[bool]] = defaultdict(list)
    for cell in cells:
        lines[f"need {cell['need']}"].append(cell["suppressed"])
        lines[f"branch {(cell.get('branch') or {}).get('code')}"].append(cell["suppressed"])
    return [name for name, flags in lines.items() if len(flags) > 1 and sum(flags) == 1]


def test_SEG_2_the_distribution_counts_a_customer_under_each_of_its_needs(
    backend: Backend,
) -> None:
    """Six customers with all three needs set by staff (every need cell then counts at least
    six: none is suppressed). Then one more with a derived INVESTMENT need (a wealth account),
    FINANCING set by staff and 600,000 of AUM counts under both; one of the six no longer has a
    SETTLEMENT need (staff say so); another's INVESTMENT setting is cleared and the derived
    value (none) counts: INVESTMENT +1 −1, FINANCING +1, SETTLEMENT −1."""

    def needs() -> dict[str, tuple[Any, Any]]:
        found = backend.gql(NEED_DISTRIBUTION, {"byBranch": False}, staff="MKT0001")["segments"]
        assert found["dimension"] == "NEED"
        return _by_need(found["cells"])

    six = [create_customer(backend, staff="RM0001")["id"] for _ in range(6)]
    for customer_id in six:
        for need in ("INVESTMENT", "FINANCING", "SETTLEMENT"):
            _need(backend, customer_id, need, True)
    before = needs()
    assert all(n is not None and n >= 6 for n, _ in before.values()), before
    added = create_customer(backend, staff="RM0001")["id"]
    _payments(backend, added, range(1), wealth=True)
    _need(backend, added, "FINANCING", True)
    _record_aum(backend, added, "600000")
    _need(backend, six[0], "SETTLEMENT", False)
    _need(backend, six[1], "INVESTMENT", None)
    after = needs()
    delta = {
        need: (after[need][0] - before[need][0], Decimal(after[need][1]) - Decimal(before[need][1]))
        for need in ("INVESTMENT", "FINANCING", "SETTLEMENT")
    }
    assert delta == {
        "INVESTMENT": (0, Decimal("600000.00")),
        "FINANCING": (1, Decimal("600000.00")),
        "SETTLEMENT": (-1, Decimal("0.00")),
    }
    by_branch = backend.gql(NEED_DISTRIBUTION, {"byBranch": True}, staff="MKT0001")["segments"]
    assert not _lone_need_suppressions(by_branch["cells"])
    assert all(c["suppressed"] or c["customers"] >= 5 for c in by_branch["cells"])


def test_SEG_2_needs_over_time_follow_the_settings_and_the_derived_history_at_month_ends(
    backend: Backend,
) -> None:
    """July 2012 (before any other customer): six customers with a wealth account (INVESTMENT
    derived, kept by their classification's history) and FINANCING set by staff count under
    both. At 23:59:59 Beijing on 31 July staff say one has no INVESTMENT need (July: 5); at
    exactly 00:00 on 1 August they clear that setting (August: 6 again, the derived need) and
    say another has no FINANCING need (August: 5). Six customers registered in August with 24
    payments (SETTLEMENT derived) count in August only."""
    july = []
    with clock.travel_to(_at(2012, 7, 10, 10), all_threads=True):
        for _ in range(6):
            customer_id = create_customer(backend, staff="RM0001")["id"]
            _payments(backend, customer_id, range(1), wealth=True)
            _need(backend, customer_id, "FINANCING", True)
            july.append(customer_id)
    with clock.travel_to(_at(2012, 7, 31, 23, 59, 59), all_threads=True):
        _need(backend, july[0], "INVESTMENT", False)
    with clock.travel_to(_at(2012, 8, 1), all_threads=True):
        _need(backend, july[0], "INVESTMENT", None)
        _need(backend, july[1], "FINANCING", False)
    with clock.travel_to(_at(2012, 8, 10, 10), all_threads=True):
        for _ in range(6):
            customer_id = create_customer(backend, staff="RM0001")["id"]
            _payments(backend, customer_id, range(24), wealth=False)
    found = backend.gql(NEED_TREND, {"from": "2012-06", "to": "2012-08", "byBranch": False})[
        "segmentsOverTime"
    ]
    assert found["dimension"] == "NEED"
    june, july_cells, august = (_by_need(m["cells"]) for m in found["months"])
    assert june == {}
    assert {k: n for k, (n, _) in july_cells.items()} == {"INVESTMENT": 5, "FINANCING": 6}
    assert {k: n for k, (n, _) in august.items()} == {
        "INVESTMENT": 6,
        "FINANCING": 5,
        "SETTLEMENT": 6,
    }
    by_branch = backend.gql(NEED_TREND, {"from": "2012-07", "to": "2012-08", "byBranch": True})
    for month in by_branch["segmentsOverTime"]["months"]:
        assert not _lone_need_suppressions(month["cells"]), month["month"]
