"""Aggregate-only callers ask for whole calendar periods (KPI-1): two free windows a day apart
could each pass suppression and differ by one customer, so a marketing analyst's
`surveyResults`, `staffRatings` and `complaintStatistics` windows must be exactly one Beijing
month, quarter or year — refused otherwise with CALENDAR_PERIOD_REQUIRED naming the field —
while head office keeps free windows. All data in 2017 (no other test writes that year)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.complaint_steps import submit
from tests.conftest import Backend
from tests.test_kpis import BEIJING, _at, _survey
from tests.test_spot_checks import customer_of, new_branch
from tests.test_spot_checks_evaluations import RATINGS, rated_contact
from tests.test_spot_checks_evaluations import record as record_evaluation

SCORES = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 4]  # of the customer of 1, 2, … 11 March 2017
MESSAGE = "roles that see aggregates only ask for a whole month, quarter or year"


@dataclass
class March:
    """A fresh branch where, on each of 1 … 11 March 2017 (10:00 Beijing), one new customer
    answers a survey (satisfaction ``SCORES[day - 1]``), another rates RM1 the same score, and a
    third complains — 11 of each in the month, one a day; on 1 … 7 April one customer a day
    answers a survey (satisfaction 4)."""

    branch: dict[str, str]


@pytest.fixture(scope="module")
def march(backend: Backend) -> Iterator[March]:
    branch = new_branch(backend)
    for day, score in enumerate(SCORES, 1):
        with _at(2017, 3, day, 10):
            surveyed = customer_of(backend, branch)
            # The supervisor types in the answers: the manager's own would not count (KPI-2).
            _survey(backend, branch["RM1"], surveyed, score, score >= 3, recorder=branch["SUP"])
            customer, contact = rated_contact(backend, branch, "RM1")
            assert record_evaluation(backend, customer, contact, rating=score)["errors"] == []
            submit(backend, {"id": customer_of(backend, branch)}, staff="HO0001")
    for day in range(1, 8):
        with _at(2017, 4, day, 10):
            surveyed = customer_of(backend, branch)
            _survey(backend, branch["RM1"], surveyed, 4, True, recorder=branch["SUP"])
    yield March(branch)


def _refusal(body: dict[str, Any]) -> list[tuple[list[str], str]]:
    """The field errors of a refused query (each message says what aggregate-only callers ask)."""
    assert body.get("data") is None, body
    fields = [f for e in body["errors"] for f in e["extensions"]["fields"]]
    assert all(f["message"].startswith(MESSAGE) for f in fields), fields
    return [(f["field"], f["code"]) for f in fields]


SURVEY_RESULTS = """query($start: Date!, $end: Date!, $branch: ID) {
  surveyResults(start: $start, end: $end, branch: $branch) {
    minimumCount satisfaction { numerator denominator } } }"""


def _survey_results(backend: Backend, march: March, start: str, end: str, staff: str) -> Any:
    variables = {"start": start, "end": end, "branch": march.branch["branch_id"]}
    return backend.post(SURVEY_RESULTS, variables, staff=staff).json()


def test_KPI_1_an_analyst_s_survey_results_are_whole_calendar_periods(
    backend: Backend, march: March
) -> None:
    """1–10 March: 10 customers, 1–11 March: 11 — both pass the KPI minimum of 10, and their
    difference would be the eleventh customer's score. A marketing analyst is refused both
    (naming `end`; a start that no month begins on names `start`) and gets March whole, and
    Q1; April (7 customers) is withheld from them under the KPI minimum but shown to head
    office, who still gets the free windows too."""
    for end in ("2017-03-10", "2017-03-11"):
        body = _survey_results(backend, march, "2017-03-01", end, "MKT0001")
        assert _refusal(body) == [(["end"], "CALENDAR_PERIOD_REQUIRED")]
    body = _survey_results(backend, march, "2017-03-02", "2017-03-31", "MKT0001")
    assert _refusal(body) == [(["start"], "CALENDAR_PERIOD_REQUIRED")]
    for start, end in (("2017-03-01", "2017-03-31"), ("2017-01-01", "2017-03-31")):
        whole = _survey_results(backend, march, start, end, "MKT0001")["data"]["surveyResults"]
        assert whole["satisfaction"] == {"numerator": sum(SCORES), "denominator": 11}, (start, end)
    april = _survey_results(backend, march, "2017-04-01", "2017-04-30", "MKT0001")["data"]
    assert april["surveyResults"]["minimumCount"] == 10
    assert april["surveyResults"]["satisfaction"] == {"numerator": None, "denominator": None}
    april = _survey_results(backend, march, "2017-04-01", "2017-04-30", "HO0001")["data"]
    assert april["surveyResults"]["satisfaction"] == {"numerator": 28, "denominator": 7}
    year = _survey_results(backend, march, "2017-01-01", "2017-12-31", "MKT0001")["data"]
    assert year["surveyResults"]["satisfaction"] == {
        "numerator": sum(SCORES) + 28,
        "denominator": 18,
    }
    ten, eleven = (
        _survey_results(backend, march, "2017-03-01", end, "HO0001")["data"]["surveyResults"]
        for end in ("2017-03-10", "2017-03-11")
    )
    assert ten["satisfaction"] == {"numerator": sum(SCORES[:10]), "denominator": 10}
    assert eleven["satisfaction"]["numerator"] - ten["satisfaction"]["numerator"] == SCORES[10]


def _staff_ratings(backend: Backend, march: March, start: str, end: str, staff: str) -> Any:
    variables = {"start": start, "end": end, "by": "BRANCH", "branch": march.branch["branch_id"]}
    return backend.post(RATINGS, variables, staff=staff).json()


def test_KPI_2_an_analyst_s_staff_ratings_are_whole_calendar_periods(
    backend: Backend, march: March
) -> None:
    """The branch's ratings: 1–10 March by 10 customers, 1–11 March by 11 (the eleventh's
    rating the difference). The analyst is refused both windows and gets March, Q1 and 2017;
    head office gets the free windows."""
    for end in ("2017-03-10", "2017-03-11", "2017-04-30"):
        body = _staff_ratings(backend, march, "2017-03-01", end, "MKT0001")
        assert _refusal(body) == [(["end"], "CALENDAR_PERIOD_REQUIRED")]
    body = _staff_ratings(backend, march, "2017-02-15", "2017-03-31", "MKT0001")
    assert _refusal(body) == [(["start"], "CALENDAR_PERIOD_REQUIRED")]
    for start, end in (
        ("2017-03-01", "2017-03-31"),
        ("2017-01-01", "2017-03-31"),
        ("2017-01-01", "2017-12-31"),
    ):
        whole = _staff_ratings(backend, march, start, end, "MKT0001")["data"]["staffRatings"]
        assert (whole["total"]["numerator"], whole["total"]["customers"]) == (sum(SCORES), 11)
    ten, eleven = (
        _staff_ratings(backend, march, "2017-03-01", end, "HO0001")["data"]["staffRatings"]
        for end in ("2017-03-10", "2017-03-11")
    )
    assert (ten["total"]["numerator"], ten["total"]["customers"]) == (sum(SCORES[:10]), 10)
    assert eleven["total"]["numerator"] - ten["total"]["numerator"] == SCORES[10]


STATISTICS = """query($where: ComplaintWhere) { complaintStatistics(by: CATEGORY, where: $where) {
    key count } }"""


def _instant(*parts: int) -> str:
    return datetime(*parts, tzinfo=BEIJING).isoformat()  # type: ignore[misc]


MARCH = {"gte": _instant(2017, 3, 1), "lte": _instant(2017, 3, 31, 23, 59, 59, 999999)}


def _statistics(backend: Backend, march: March, where: dict[str, Any], staff: str) -> Any:
    given = {**where, "branch": {"eq": march.branch["branch_id"]}}
    return backend.post(STATISTICS, {"where": given}, staff=staff).json()


def _count(body: dict[str, Any]) -> int:
    return sum(row["count"] or 0 for row in body["data"]["complaintStatistics"])


def test_CMP_5_an_analyst_s_complaint_statistics_are_whole_calendar_periods(
    backend: Backend, march: March
) -> None:
    """The branch's complaints accepted 1–10 March (10 customers) and 1–11 March (11): the
    analyst is refused both windows (naming `where.acceptedAt.lte`), any bound that is not the
    period's first midnight or last instant (23:59:59 leaves out the last second's fractions),
    a missing bound, a window inside `and`/`or`, and a free `decisionDueAt`; March, Q1 and
    2017 — in Beijing or UTC notation — are answered; head office keeps free windows."""
    lte, gte = ["where", "acceptedAt", "lte"], ["where", "acceptedAt", "gte"]
    refused = [
        ({"acceptedAt": {**MARCH, "lte": _instant(2017, 3, 10, 23, 59, 59, 999999)}}, lte),
        ({"acceptedAt": {**MARCH, "lte": _instant(2017, 3, 11, 23, 59, 59, 999999)}}, lte),
        ({"acceptedAt": {**MARCH, "lte": _instant(2017, 3, 31, 23, 59, 59)}}, lte),
        ({"acceptedAt": {**MARCH, "lte": _instant(2017, 4, 1)}}, lte),
        ({"acceptedAt": {"gte": MARCH["gte"]}}, lte),
        ({"acceptedAt": {"lte": MARCH["lte"]}}, gte),
        ({"acceptedAt": {**MARCH, "gte": _instant(2017, 3, 1, 0, 0, 1)}}, gte),
        ({"acceptedAt": {**MARCH, "gte": _instant(2017, 3, 2)}}, gte),
        (
            {"and": [{"acceptedAt": MARCH}, {"acceptedAt": {"gte": _instant(2017, 3, 11)}}]},
            ["where", "and", "1", "acceptedAt", "gte"],
        ),
        (
            {"or": [{"acceptedAt": {**MARCH, "lte": _instant(2017, 3, 10, 23, 59, 59)}}]},
            ["where", "or", "0", "acceptedAt", "lte"],
        ),
        ({"decisionDueAt": {"gte": _instant(2017, 3, 1)}}, ["where", "decisionDueAt", "lte"]),
    ]
    for where, field in refused:
        body = _statistics(backend, march, where, "MKT0001")
        assert _refusal(body) == [(field, "CALENDAR_PERIOD_REQUIRED")], where
    utc = {"gte": "2017-02-28T16:00:00Z", "lte": "2017-03-31T15:59:59.999999Z"}
    quarter = {"gte": _instant(2017, 1, 1), "lte": _instant(2017, 3, 31, 23, 59, 59, 999999)}
    year = {"gte": _instant(2017, 1, 1), "lte": _instant(2017, 12, 31, 23, 59, 59, 999999)}
    for window in (MARCH, utc, quarter, year):
        body = _statistics(backend, march, {"acceptedAt": window}, "MKT0001")
        assert "errors" not in body and _count(body) == 11, (window, body)
    both = {"and": [{"acceptedAt": MARCH}, {"decisionDueAt": quarter}]}
    assert "errors" not in _statistics(backend, march, both, "MKT0001")
    ten, eleven = (
        _count(_statistics(backend, march, {"acceptedAt": {**MARCH, "lte": end}}, "HO0001"))
        for end in (_instant(2017, 3, 10, 23, 59, 59), _instant(2017, 3, 11, 23, 59, 59))
    )
    assert (ten, eleven) == (10, 11)
