"""Customers' evaluations of staff (KPI-2) over HTTP on SQLite and PostgreSQL: one rating per
occasion (a contact, a closed complaint), never recorded by the member of staff rated, the
comment sealed at rest and shown by field group, refusals per role and input with nothing
written, and the average rating per member of staff and branch for a Beijing period (00:00 ± 1 s)
with numerators, denominators and small cells suppressed — complementary suppression included.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, select, text
from sqlalchemy.exc import OperationalError

from core import clock
from resolvers import audit
from store.audit import AuditHead
from store.db import make_engine
from tests.complaint_steps import assign, bj_customer, decide_and_call_back, do, on_the_spot, submit
from tests.conftest import Backend
from tests.test_audit import _refusing_entries
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
    # A supervisor reads their own branch only; marketing reads STAFF_RATING through `kpis`
    # (refused here); a manager nothing.
    mine = _ratings(backend, "2026-11-01", "2026-11-30", "BRANCH", None, staff=branch["SUP"])
    assert [c["branch"]["code"] for c in mine["cells"]] == [branch["code"]]
    other = new_branch(backend)
    body = backend.post(
        RATINGS,
        {"start": "2026-11-01", "end": "2026-11-30", "by": "STAFF", "branch": other["branch_id"]},
        staff=branch["SUP"],
    ).json()
    assert body["data"] is None and "branch" in body["errors"][0]["message"]
    body = backend.post(
        RATINGS,
        {"start": "2026-11-01", "end": "2026-11-30", "by": "BRANCH", "branch": branch["branch_id"]},
        staff="MKT0001",
    ).json()
    assert body["data"] is None and "`kpis`" in body["errors"][0]["message"]
    body = backend.post(
        RATINGS, {"start": "2026-11-01", "end": "2026-11-30", "by": "STAFF"}, staff=branch["RM1"]
    ).json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"


@contextmanager
def another_writer_between_statements(backend: Backend) -> Iterator[list[str]]:
    """Another connection to the database (another process, the audit writer's thread) commits
    a READ entry of the audit log after every statement the app sends — between a change's reads
    and its writes. It never waits: while the app holds the write lock (SQLite) or the log's head
    (PostgreSQL) its commit is refused. Yields what each attempt did."""
    url = backend.settings.database_url
    postgres = backend.name == "postgresql"
    other = (
        make_engine(url)
        if postgres
        else create_engine(url, connect_args={"timeout": 0, "check_same_thread": False})
    )
    outcomes: list[str] = []

    def commit_meanwhile(*_args: Any) -> None:
        entry = audit.new_entry(
            actor_id=None,
            actor="another writer",
            roles=(),
            purpose=None,
            action="READ",
            operation="anotherWriter",
            customer_ids=(),
            fields={},
        )
        try:
            with other.begin() as connection:
                if postgres:
                    head = select(AuditHead.id).where(AuditHead.id == 1)
                    connection.execute(head.with_for_update(nowait=True))
                audit.append(connection, [entry])
            outcomes.append("committed")
        except OperationalError:
            outcomes.append("refused")

    event.listen(backend.engine, "after_cursor_execute", commit_meanwhile)
    try:
        yield outcomes
    finally:
        event.remove(backend.engine, "after_cursor_execute", commit_meanwhile)
        other.dispose()


def test_an_evaluation_is_recorded_while_another_writer_commits_between_its_statements_KPI_2(
    backend: Backend,
) -> None:
    """The evaluation reads (the occasion, the rating taken already, the row's new key) before
    it writes. On SQLite a transaction that had read when another connection committed could not
    write any more (SQLITE_BUSY_SNAPSHOT, the busy timeout does not apply): the mutation answered
    503 UNAVAILABLE. A change is the writer from its first statement, so it waits its turn."""
    branch = new_branch(backend)
    customer, contact = rated_contact(backend, branch, "RM1")
    given = {"customerId": customer, "occasion": "CONTACT", "occasionId": contact}
    values = {**given, "channel": "PHONE", "rating": 4}
    with another_writer_between_statements(backend) as outcomes:
        response = backend.post(RECORD, {"input": values})
    assert response.status_code == 200, response.text
    assert response.json()["data"]["recordStaffEvaluation"]["errors"] == []
    assert "committed" in outcomes  # the other writer did write while the request ran
    shown = backend.gql(LIST, {"id": customer}, staff=branch["SUP"])["staffEvaluations"]
    assert [e["node"]["rating"] for e in shown["edges"]] == [4]


def test_SHARE_4_an_evaluation_whose_change_entry_cannot_be_written_is_not_recorded(
    backend: Backend,
) -> None:
    """The evaluation and its CHANGE entry stand or fall together (SHARE-4): on SQLite the
    savepoint around the evaluation's INSERT used to be a transaction of its own, committed
    before the entry was written."""
    branch = new_branch(backend)
    customer, contact = rated_contact(backend, branch, "RM1")
    before = rows(backend, "staff_evaluations")
    given = {"customerId": customer, "occasion": "CONTACT", "occasionId": contact}
    with _refusing_entries(backend, "recordStaffEvaluation"):
        body = backend.post(RECORD, {"input": {**given, "channel": "PHONE", "rating": 2}}).json()
    assert body["data"] is None and body["errors"], body
    assert rows(backend, "staff_evaluations") == before
    listed = backend.gql(LIST, {"id": customer}, staff=branch["SUP"])["staffEvaluations"]
    assert listed["totalCount"] == 0
    # Not "evaluated already": once entries can be written, it is recorded.
    assert record(backend, customer, contact, rating=2)["errors"] == []


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
