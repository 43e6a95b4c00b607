"""Aggregate-only callers read the KPIs through `kpis` only (KPI-1, CMP-5): `surveyResults`,
`staffRatings` and `complaintStatistics` keep their own small-cell rules for staff who see the
rows, and a second set of rules beside `kpis`' would give back what `kpis` withholds (two
windows a day apart, a year minus a month, the bank minus a branch — one's withheld cell minus
the other's shown ones). A marketing analyst is refused all three (FORBIDDEN, pointing to
`kpis`); head office keeps free windows. All data in 2017 (no other test writes that year)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import pytest

from tests.complaint_steps import submit
from tests.conftest import Backend
from tests.test_kpis import BEIJING, _at, _kpis, _survey, _values
from tests.test_spot_checks import customer_of, new_branch
from tests.test_spot_checks_evaluations import RATINGS, rated_contact
from tests.test_spot_checks_evaluations import record as record_evaluation

SCORES = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5, 4]  # of the customer of 1, 2, … 11 March 2017


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


def _refused(body: dict[str, Any]) -> None:
    """A marketing analyst's refusal: FORBIDDEN, saying where such roles read the figures."""
    assert body.get("data") is None, body
    error = body["errors"][0]
    assert error["extensions"]["code"] == "FORBIDDEN", error
    assert "`kpis`" in error["message"], error


SURVEY_RESULTS = """query($start: Date!, $end: Date!, $branch: ID) {
  surveyResults(start: $start, end: $end, branch: $branch) {
    minimumCount satisfaction { numerator denominator } } }"""
STATISTICS = """query($where: ComplaintWhere) { complaintStatistics(by: CATEGORY, where: $where) {
    key count } }"""


def _instant(*parts: int) -> str:
    return datetime(*parts, tzinfo=BEIJING).isoformat()  # type: ignore[misc]


def _asked(backend: Backend, march: March, end: str, staff: str) -> dict[str, Any]:
    """The three endpoints over the branch from 1 March 2017 to ``end`` (inclusive)."""
    branch = march.branch["branch_id"]
    day = [int(part) for part in end.split("-")]
    window = {"gte": _instant(2017, 3, 1), "lte": _instant(*day, 23, 59, 59, 999999)}
    return {
        "surveyResults": backend.post(
            SURVEY_RESULTS, {"start": "2017-03-01", "end": end, "branch": branch}, staff=staff
        ).json(),
        "staffRatings": backend.post(
            RATINGS,
            {"start": "2017-03-01", "end": end, "by": "BRANCH", "branch": branch},
            staff=staff,
        ).json(),
        "complaintStatistics": backend.post(
            STATISTICS, {"where": {"acceptedAt": window, "branch": {"eq": branch}}}, staff=staff
        ).json(),
    }


def test_KPI_1_CMP_5_analysts_read_these_figures_through_kpis_only(
    backend: Backend, march: March
) -> None:
    """1–10 March: 10 customers each answered, rated and complained; 1–11 March: 11 — the
    difference is the eleventh customer's score. A marketing analyst is refused every window of
    all three endpoints, whole months included; head office gets both windows exactly, and
    the analyst reads 2017's satisfaction through `kpis` (18 customers: shown; March is withheld
    beside April's 7, or the year minus March would give April back)."""
    for end in ("2017-03-10", "2017-03-11", "2017-03-31"):
        for _name, body in _asked(backend, march, end, "MKT0001").items():
            _refused(body)
    ten = {k: v["data"][k] for k, v in _asked(backend, march, "2017-03-10", "HO0001").items()}
    eleven = {k: v["data"][k] for k, v in _asked(backend, march, "2017-03-11", "HO0001").items()}
    assert ten["surveyResults"]["satisfaction"] == {
        "numerator": sum(SCORES[:10]),
        "denominator": 10,
    }
    assert eleven["surveyResults"]["satisfaction"] == {"numerator": sum(SCORES), "denominator": 11}
    totals = [
        (r["staffRatings"]["total"]["numerator"], r["staffRatings"]["total"]["customers"])
        for r in (ten, eleven)
    ]
    assert totals == [(sum(SCORES[:10]), 10), (sum(SCORES), 11)]
    counts = [sum(row["count"] for row in r["complaintStatistics"]) for r in (ten, eleven)]
    assert counts == [10, 11]
    scope = {"level": "BRANCH", "id": march.branch["branch_id"]}
    found = _kpis(
        backend, {"label": "2017"}, scope, staff="MKT0001", indicators=["SATISFACTION_SCORE"]
    )
    satisfaction = _values(found["scope"])["SATISFACTION_SCORE"]
    assert (satisfaction["numerator"], satisfaction["denominator"]) == (str(sum(SCORES) + 28), "18")
    months = _kpis(
        backend, {"label": "2017-04"}, scope, staff="MKT0001", indicators=["SATISFACTION_SCORE"]
    )
    april = _values(months["scope"])["SATISFACTION_SCORE"]
    assert april["suppressed"] is True and april["previous"]["suppressed"] is True
