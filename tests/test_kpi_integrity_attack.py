"""Integrity attacks on assessment and incentives (KPI-2, KPI-3): spot-check input, audit of
revealed comments, who may seed or inspect a check, honours and self-recorded surveys."""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from core import clock
from store.audit import AuditEntry
from tests import scorecard_steps as steps
from tests.complaint_steps import submit
from tests.conftest import Backend, create_customer
from tests.test_contacts import _ok as log_contact
from tests.test_kpis import REQUEST, RESPOND, _at, _kpis, _me, _staff_branch, _values
from tests.test_spot_checks import DRAW, at, contacts, draw, inspector_id, new_branch, pk
from tests.test_spot_checks_evaluations import rated_contact
from tests.test_spot_checks_evaluations import record as record_evaluation


@pytest.mark.parametrize("rate", ["NaN", "sNaN"])
def test_KPI_2_a_spot_check_rate_that_is_not_a_number_is_a_typed_error(
    backend: Backend, rate: str
) -> None:
    """drawSpotCheck(rate: "NaN") must be refused on `rate` (OUT_OF_RANGE), not INTERNAL."""
    branch = new_branch(backend)
    contacts(backend, branch, ["2026-11-12T10:00:00+08:00", "2026-11-12T11:00:00+08:00"])
    values = {
        "kind": "CONTACT",
        "inspectorIds": [inspector_id(backend)],
        "branchId": branch["branch_id"],
        "start": "2026-11-12",
        "end": "2026-11-12",
        "rate": rate,
    }
    body = backend.post(DRAW, {"input": values}).json()
    assert body.get("errors") is None, body["errors"]
    assert [e["field"] for e in body["data"]["drawSpotCheck"]["errors"]] == [["rate"]]


def test_KPI_2_revealing_an_evaluation_comment_is_audited_under_the_customer(
    backend: Backend,
) -> None:
    """README (Spot checks and evaluations): "revealing a comment is audited under the
    customer". Head office reads a customer's evaluations with the comment the customer made;
    a READ entry must name the customer and the comment field."""
    branch = new_branch(backend)
    customer, contact = rated_contact(backend, branch, "RM1")
    given = record_evaluation(backend, customer, contact, rating=2, comment="经理态度很差")
    assert given["errors"] == []
    read = """query ReadEvaluationsAttack($id: ID!) { staffEvaluations(customerId: $id, first: 5) {
        edges { node { rating comment } } } }"""
    shown = backend.gql(read, {"id": customer})["staffEvaluations"]["edges"]
    assert [e["node"]["comment"] for e in shown] == ["经理态度很差"]
    backend.client.app.state.auditor.flush()  # type: ignore[attr-defined]
    with backend.engine.connect() as connection:
        entries = list(
            connection.execute(
                select(AuditEntry.customer_ids, AuditEntry.fields).where(
                    AuditEntry.operation == "ReadEvaluationsAttack"
                )
            )
        )
    assert [pk(customer)] in [list(e.customer_ids) for e in entries], entries
    assert all("StaffEvaluation.comment" in e.fields for e in entries), entries


def test_KPI_2_a_supervisor_cannot_choose_the_seed_of_a_spot_check_of_their_own_branch(
    backend: Backend,
) -> None:
    """The ranking is public (sha256("<seed>:<id>")), so whoever picks the seed picks the
    sample. A supervisor drawing a check of their own branch's contacts computes a seed whose
    4-of-12 sample leaves out the contact they know is bad: refused on `seed`
    (SEED_NOT_ALLOWED); without a seed one is drawn for them."""
    branch = new_branch(backend)
    made = contacts(backend, branch, [f"2026-11-11T{9 + i:02d}:00:00+08:00" for i in range(12)])
    ids = [pk(c) for c in made]
    bad = ids[0]

    def sample(seed: int) -> list[int]:
        return sorted(ids, key=lambda i: hashlib.sha256(f"{seed}:{i}".encode()).hexdigest())[:4]

    chosen = next(s for s in range(1000) if bad not in sample(s))
    period = {"branchId": branch["branch_id"], "start": "2026-11-11", "end": "2026-11-11"}
    payload = draw(backend, staff=branch["SUP"], seed=chosen, size=4, **period)
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["seed"], "SEED_NOT_ALLOWED")]
    assert payload["spotCheck"] is None


def test_KPI_2_an_inspector_does_not_inspect_a_customer_record_they_registered(
    backend: Backend,
) -> None:
    """Head office member HO0001 (who holds spot_check:inspect) registers a customer of a fresh
    branch on 13 November 2026; a CUSTOMER_RECORD check of that day names HO0001 as the only
    inspector. Identity, sources and contact details are the registrar's work: the record
    must not be given to HO0001 to inspect (NO_ELIGIBLE_INSPECTOR), though its relationship
    manager is someone else."""
    branch = new_branch(backend)
    with clock.travel_to(at("2026-11-13T10:00:00+08:00"), all_threads=True):
        create_customer(backend, branch=branch["branch_id"], relationshipManager=branch["RM1_id"])
    payload = draw(
        backend,
        kind="CUSTOMER_RECORD",
        inspectorIds=[inspector_id(backend, "HO0001")],
        branchId=branch["branch_id"],
        start="2026-11-13",
        end="2026-11-13",
        size=1,
        seed=1,
    )
    assert payload["spotCheck"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["inspectorIds"], "NO_ELIGIBLE_INSPECTOR")
    ]


def test_KPI_3_no_service_star_for_a_manager_a_major_complaint_is_about(
    backend: Backend,
) -> None:
    """June 2023 (the scorecard world): A scores 85.00, rank 1 — a SERVICE_STAR by the rule.
    A customer of C files a major complaint (重大投诉) naming A as the member of staff
    complained about. "No major complaint" must hold for the person complained about, not
    only for complaints of their own customers: A gets no 客户服务明星."""
    world = steps.world(backend, "2023-06")
    with clock.travel_to(world.in_period(day=12), all_threads=True):
        customer = steps.add_customer(backend, world, world.c)
        submit(
            backend,
            customer,
            staff="HO0001",
            complainedStaff=world.a,
            amountInDispute=str(backend.settings.major_complaint_amount),
        )
    assert steps.assess(backend, world)["errors"] == []
    cards = {c["label"]: c for c in steps.scorecards(backend, world, "STAFF")["scorecards"]}
    assert cards["员工RMA"]["honours"] == [], (cards["员工RMA"]["score"], cards["员工RMA"]["rank"])


def test_KPI_2_a_manager_does_not_score_their_own_customers_survey_answers(
    backend: Backend,
) -> None:
    """A relationship manager's scorecard weighs SATISFACTION_SCORE and REFERRAL_RATE of their
    customers. RM1 contacts their own customer, requests the survey and records the answers
    (satisfaction 5, would recommend) themselves: recorded, but left out of the figures (as
    evaluations refuse SELF_EVALUATION)."""
    _, _, rm1, _ = _staff_branch(backend)
    me = _me(backend, rm1)
    with _at(2013, 5, 2, 10):
        customer = create_customer(
            backend, relationshipManager=me["id"], branch=me["branch"]["id"]
        )["id"]
    with _at(2013, 5, 10, 10):
        contact = log_contact(backend, customer, staff=rm1)["id"]
        asked = backend.gql(
            REQUEST,
            {"input": {"customerId": customer, "occasion": "CONTACT", "occasionId": contact}},
            staff=rm1,
        )["requestSurvey"]
        answers = [
            {"question": "satisfaction", "scale": 5},
            {"question": "recommend", "yesNo": True},
        ]
        given = {"requestId": asked["request"]["id"], "answers": answers}
        recorded = backend.gql(RESPOND, {"input": given}, staff=rm1)["recordSurveyResponse"]
    assert recorded["errors"] == []
    found = _kpis(
        backend,
        {"label": "2013-05"},
        {"level": "STAFF", "id": me["id"]},
        indicators=["SATISFACTION_SCORE", "REFERRAL_RATE"],
    )
    values = _values(found["scope"])
    for code in ("SATISFACTION_SCORE", "REFERRAL_RATE"):
        figure = values[code]
        assert figure["denominator"] == "0", (code, figure["numerator"], figure["denominator"])
