"""Customers' evaluations of staff (KPI-2) over HTTP on SQLite and PostgreSQL: one rating per
occasion (a contact, a closed complaint), never recorded by the member of staff rated, the
comment sealed at rest and shown by field group, refusals per role and input with nothing
written, and the average rating per member of staff and branch for a Beijing period (00:00 ± 1 s)
with numerators, denominators and small cells suppressed — complementary suppression included.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from core import clock
from tests.complaint_steps import assign, bj_customer, decide_and_call_back, do, on_the_spot, submit
from tests.conftest import Backend
from tests.test_contacts import _ok as log_contact
from tests.test_spot_checks import at, customer_of, errors, new_branch, rows

RECORD = """
mutation($input: RecordStaffEvaluationInput!) { recordStaffEvaluation(input: $input) {
  evaluation { id rating comment channel occasion staff { employeeNo } recordedBy { employeeNo } }
  errors { field code message } } }
"""
LIST = """
query($id: ID!) { staffEvaluations(customerId: $id, first: 10) {
  totalCount edges { node { rating comment staff { employeeNo } } } } }
"""
RATINGS = """
query($start: Date!, $end: Date!, $by: AssessmentGrouping!, $branch: ID) {
  staffRatings(start: $start, end: $end, by: $by, branch: $branch) {
    minimumCount definition
    cells { staff { employeeNo } branch { code } numerator denominator customers value }
    total { numerator denominator customers value } } }
"""


def record(
    backend: Backend, customer: str, occasion_id: str, staff: str = "HO0001", **given: Any
) -> Any:
    values = {
        "customerId": customer,
        "occasion": "CONTACT",
        "occasionId": occasion_id,
        "channel": "PHONE",
        "rating": 5,
        **given,
    }
    return backend.gql(RECORD, {"input": values}, staff=staff)["recordStaffEvaluation"]


def rated_contact(backend: Backend, branch: dict[str, str], staff: str) -> tuple[str, str]:
    """A new customer of the branch and a contact ``staff`` made with them."""
    customer = customer_of(backend, branch, staff if staff.startswith("RM") else "RM1")
    contact = log_contact(backend, customer, branch[staff])["id"]
    return customer, contact


def test_one_evaluation_per_occasion_never_by_the_person_rated_KPI_2(backend: Backend) -> None:
    branch = new_branch(backend)
    customer, contact = rated_contact(backend, branch, "RM1")
    before = rows(backend, "staff_evaluations")
    assert errors(record(backend, customer, contact, staff=branch["RM1"])) == [
        (["occasionId"], "SELF_EVALUATION")
    ]
    for rating in (0, 6):
        assert errors(record(backend, customer, contact, rating=rating)) == [
            (["rating"], "OUT_OF_RANGE")
        ]
    other, _ = rated_contact(backend, branch, "RM1")
    assert errors(record(backend, other, contact)) == [(["occasionId"], "NOT_FOUND")]
    assert errors(record(backend, customer, contact, comment="x" * 2001)) == [
        (["comment"], "TOO_LONG")
    ]
    assert rows(backend, "staff_evaluations") == before
    for staff in ("MKT0001", "AUD0001"):
        body = backend.post(
            RECORD,
            {
                "input": {
                    "customerId": customer,
                    "occasion": "CONTACT",
                    "occasionId": contact,
                    "channel": "PHONE",
                    "rating": 5,
                }
            },
            staff=staff,
        ).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff
    done = record(backend, customer, contact, staff=branch["SUP"], comment="客户经理很专业")
    assert done["errors"] == []
    evaluation = done["evaluation"]
    assert (evaluation["staff"]["employeeNo"], evaluation["recordedBy"]["employeeNo"]) == (
        branch["RM1"],
        branch["SUP"],
    )
    assert errors(record(backend, customer, contact, rating=1)) == [
        (["occasionId"], "ALREADY_EVALUATED")
    ]
    assert rows(backend, "staff_evaluations") == before + 1
    # The comment is sealed at rest, shown to who holds evaluation_text, withheld from others.
    with backend.engine.connect() as connection:
        stored = connection.scalar(
            text("SELECT comment FROM staff_evaluations ORDER BY id DESC LIMIT 1")
        )
    assert "专业" not in str(stored)
    shown = backend.gql(LIST, {"id": customer}, staff=branch["SUP"])["staffEvaluations"]
    assert [e["node"]["comment"] for e in shown["edges"]] == ["客户经理很专业"]
    body = backend.post(LIST, {"id": customer}, staff="AUD0001", purpose="AUDIT").json()
    assert body["data"]["staffEvaluations"]["edges"][0]["node"]["comment"] is None
    assert {e["extensions"]["code"] for e in body["errors"]} == {"FIELD_FORBIDDEN"}


def test_a_closed_complaint_evaluates_its_handler_KPI_2(backend: Backend) -> None:
    customer = bj_customer(backend)
    complaint = submit(backend, customer)
    given = {"occasion": "COMPLAINT", "channel": "COUNTER"}
    refused = record(backend, customer["id"], complaint["id"], staff="RM0001", **given)
    assert errors(refused) == [(["occasionId"], "NOT_CLOSED")]
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", on_the_spot())
    decide_and_call_back(backend, complaint)
    done = record(backend, customer["id"], complaint["id"], staff="RM0001", rating=4, **given)
    assert done["errors"] == []
    assert done["evaluation"]["staff"]["employeeNo"] == "SH01CH01"
    again = record(backend, customer["id"], complaint["id"], staff="RM0001", **given)
    assert errors(again) == [(["occasionId"], "ALREADY_EVALUATED")]


def _ratings(
    backend: Backend, start: str, end: str, by: str, branch: str | None, staff: str = "HO0001"
) -> Any:
    variables = {"start": start, "end": end, "by": by, "branch": branch}
    return backend.gql(RATINGS, variables, staff=staff)["staffRatings"]


def test_average_ratings_by_staff_and_branch_with_suppression_KPI_2(backend: Backend) -> None:
    branch = new_branch(backend)
    given = {"RM1": [5, 5, 4, 4, 3, 5], "RM2": [3, 4, 5, 4, 4], "SUP": [2]}
    occasions = {
        staff: [rated_contact(backend, branch, staff) for _ in scores]
        for staff, scores in given.items()
    }
    late = rated_contact(backend, branch, "RM1")
    with clock.travel_to(at("2026-11-30T23:59:59+08:00"), all_threads=True):
        for staff, scores in given.items():
            for (customer, contact), score in zip(occasions[staff], scores, strict=True):
                assert record(backend, customer, contact, rating=score)["errors"] == []
    with clock.travel_to(at("2026-12-01T00:00:00+08:00"), all_threads=True):
        assert record(backend, *late, rating=1)["errors"] == []

    november = _ratings(backend, "2026-11-01", "2026-11-30", "STAFF", branch["branch_id"])
    cells = {c["staff"]["employeeNo"]: c for c in november["cells"]}
    assert november["minimumCount"] == 5
    # RM1: 26 / 6 from 6 customers; the supervisor (1 customer) is suppressed, and so is RM2,
    # the smallest other cell of the branch: the total minus RM1 would give the supervisor back.
    assert (cells[branch["RM1"]]["numerator"], cells[branch["RM1"]]["denominator"]) == (26, 6)
    assert cells[branch["RM1"]]["value"] == round(26 / 6, 4)
    for hidden in (branch["RM2"], branch["SUP"]):
        assert cells[hidden]["numerator"] is None and cells[hidden]["denominator"] is None
        assert cells[hidden]["value"] is None
    assert (november["total"]["numerator"], november["total"]["denominator"]) == (48, 12)
    (whole,) = _ratings(backend, "2026-11-01", "2026-11-30", "BRANCH", branch["branch_id"])["cells"]
    assert (whole["branch"]["code"], whole["numerator"], whole["denominator"]) == (
        branch["code"],
        48,
        12,
    )
    assert whole["customers"] == 12
    # The rating at 00:00 on 1 December belongs to December: one customer, suppressed.
    with clock.travel_to(at("2026-12-01T12:00:00+08:00"), all_threads=True):
        december = _ratings(backend, "2026-12-01", "2026-12-01", "STAFF", branch["branch_id"])
    assert [c["numerator"] for c in december["cells"]] == [None]
    assert december["total"]["numerator"] is None
    # A supervisor reads their own branch only; marketing reads aggregates; a manager nothing.
    mine = _ratings(backend, "2026-11-01", "2026-11-30", "BRANCH", None, staff=branch["SUP"])
    assert [c["branch"]["code"] for c in mine["cells"]] == [branch["code"]]
    other = new_branch(backend)
    body = backend.post(
        RATINGS,
        {"start": "2026-11-01", "end": "2026-11-30", "by": "STAFF", "branch": other["branch_id"]},
        staff=branch["SUP"],
    ).json()
    assert body["data"] is None and "branch" in body["errors"][0]["message"]
    assert _ratings(backend, "2026-11-01", "2026-11-30", "BRANCH", branch["branch_id"], "MKT0001")
    body = backend.post(
        RATINGS, {"start": "2026-11-01", "end": "2026-11-30", "by": "STAFF"}, staff=branch["RM1"]
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


def case_evaluate(backend: Backend) -> tuple[str, dict[str, Any]]:
    """(staff, input) of a ``recordStaffEvaluation`` that records (tests/test_unit_of_work.py)."""
    branch = new_branch(backend)
    customer, contact = rated_contact(backend, branch, "RM1")
    return branch["SUP"], {
        "customerId": customer,
        "occasion": "CONTACT",
        "occasionId": contact,
        "channel": "WECHAT",
        "rating": 4,
    }
