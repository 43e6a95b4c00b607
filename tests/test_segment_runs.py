"""Classification runs in the background and classification after each input change (SEG-4),
over HTTP on SQLite and PostgreSQL.

``classifyCustomers`` answers at once with a PENDING run; the worker (``kehu worker --once``,
in process: ``kehu.worker.run_once``, or the step it calls, ``jobs.claim`` + ``jobs.execute``)
runs it, committing its progress chunk by chunk, which ``classificationRun`` reports.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from core import clock
from kehu.worker import run_once
from resolvers.segments import jobs
from store.db import make_session_factory
from store.segments import CustomerSegment, SegmentStaging
from store.staff import Branch, Role, Staff
from tests.conftest import SOURCE, Backend, branch_id, create_customer
from tests.test_segment_measures import _pk as _customer_pk
from tests.test_segment_measures import _reviews
from tests.test_segment_risk import (
    _assess,
    _risk,
    change_risk,
    restore_risk_model,  # noqa: F401 (a fixture the tests use)
)
from tests.test_segments import (
    CLASSIFY,
    IMPORT,
    RUN,
    _change,
    _classify,
    _file_model,
    _record_aum,
    _segment,
)


def _start(backend: Backend, staff: str = "HO0001") -> dict[str, Any]:
    payload = backend.gql(CLASSIFY, {"input": None}, staff=staff)["classifyCustomers"]
    assert payload["errors"] == []
    return payload["run"]  # type: ignore[no-any-return]


def _run(backend: Backend, run_id: str) -> dict[str, Any]:
    return backend.gql(RUN, {"id": run_id})["classificationRun"]  # type: ignore[no-any-return]


def _customers(backend: Backend) -> int:
    count = backend.gql("{ customers(first: 1) { totalCount } }")["customers"]["totalCount"]
    return int(count)


def _classified_since(backend: Backend, moment: str) -> int:
    """Customers whose current segment was computed after ``moment`` by another run."""
    since = datetime.fromisoformat(moment)
    with make_session_factory(backend.engine)() as session:
        statement = select(func.count()).where(CustomerSegment.classified_at > since)
        return int(session.scalar(statement) or 0)


def _staged(backend: Backend) -> int:
    with make_session_factory(backend.engine)() as session:
        return int(session.scalar(select(func.count()).select_from(SegmentStaging)) or 0)


def test_SEG_4_a_bulk_run_answers_at_once_and_reports_its_progress_while_a_worker_runs_it(
    backend: Backend,
) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "60000")
    total = _customers(backend)
    started = _start(backend)
    assert started["status"] == "PENDING"
    assert started["progress"] == {"done": 0, "total": total}
    waiting = _run(backend, started["id"])
    assert (waiting["status"], waiting["finishedAt"], waiting["startedBy"]) == (
        "PENDING",
        None,
        "HO0001",
    )
    # One bulk run at a time: a second while one waits is CONFLICT (a supervisor's too).
    for staff in ("HO0001", "SUP0001"):
        second = backend.post(CLASSIFY, {"input": None}, staff=staff).json()
        assert second["errors"][0]["extensions"]["code"] == "CONFLICT", staff
    # The worker's step, in chunks of 10 customer keys: progress is committed after each.
    factory = make_session_factory(backend.engine)
    assert jobs.claim(factory) is not None
    seen: list[tuple[str, int, int]] = []

    def watch(_added: int) -> None:
        found = _run(backend, started["id"])
        seen.append((found["status"], found["progress"]["done"], found["progress"]["total"]))
        again = backend.post(CLASSIFY, {"input": None}).json()  # still one at a time
        assert again["errors"][0]["extensions"]["code"] == "CONFLICT"

    assert jobs.execute(factory, _pk(started["id"]), chunk=10, progress=watch) == "DONE"
    assert len(seen) >= 3 and all(s == "RUNNING" and t == total for s, _, t in seen)
    done = [d for _, d, _ in seen]
    assert done == sorted(done) and 0 < done[0] < total and done[-1] == total
    finished = _run(backend, started["id"])
    assert finished["status"] == "DONE" and finished["failure"] is None
    assert finished["progress"] == {"done": total, "total": total}
    # Customers classified after the run began keep that newer segment (other tests of the
    # suite classify customers with the clock moved ahead).
    newer = _classified_since(backend, finished["startedAt"])
    assert finished["customers"] == total - newer and finished["finishedAt"] is not None
    version = backend.gql("{ valueRuleSet { version } }")["valueRuleSet"]["version"]
    assert finished["ruleSet"] == {"version": version}
    assert _segment(backend, customer["id"])["segment"]["run"] == started["id"]
    assert _staged(backend) == 0
    # Ended: the next one may start.
    assert _classify(backend)["status"] == "DONE"


def _pk(global_id: str) -> int:
    from core.ids import pk_of

    return pk_of(global_id, "SegmentRun", "id")


def test_SEG_4_a_run_whose_worker_died_is_marked_failed_once_its_heartbeat_is_stale(
    backend: Backend,
) -> None:
    """A worker took the run and died (claimed, never executed): the run is RUNNING until
    its heartbeat is older than the lease — at exactly LEASE still RUNNING, one second later
    the next worker pass marks it FAILED; nothing of it applied, and a new run may start."""
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "60000")
    before = _segment(backend, customer["id"])
    started = _start(backend)
    factory = make_session_factory(backend.engine)
    moment = clock.now()
    with clock.travel_to(moment, all_threads=True):
        assert jobs.claim(factory) == _pk(started["id"])
    assert _run(backend, started["id"])["status"] == "RUNNING"
    run_once(backend.engine, moment + jobs.LEASE)
    assert _run(backend, started["id"])["status"] == "RUNNING"
    result = run_once(backend.engine, moment + jobs.LEASE + timedelta(seconds=1))
    assert result.classified == 0
    failed = _run(backend, started["id"])
    assert failed["status"] == "FAILED" and "worker" in failed["failure"]
    assert failed["finishedAt"] is not None
    assert _segment(backend, customer["id"]) == before
    assert _staged(backend) == 0
    assert _classify(backend)["status"] == "DONE"


def _failed_by_a_change(backend: Backend, change: Callable[[], dict[str, Any]]) -> str:
    """A claimed run, ``change`` (a new model version) before it runs, then the run: FAILED with
    nothing applied. Returns the failure users read."""
    started = _start(backend)
    factory = make_session_factory(backend.engine)
    run_id = jobs.claim(factory)
    assert run_id == _pk(started["id"])
    change()
    assert jobs.execute(factory, run_id) == "FAILED"
    failed = _run(backend, started["id"])
    assert failed["status"] == "FAILED"
    assert failed["customers"] == 0 and _staged(backend) == 0
    return str(failed["failure"])


def test_SEG_4_a_run_is_failed_when_the_model_changes_under_it(backend: Backend) -> None:
    """Every chunk runs under the version the run took; a new version meanwhile fails the
    run (nothing applied, a reason users can read) rather than mixing two models."""
    changed: dict[str, Any] = {}

    def change() -> dict[str, Any]:
        changed.update(_change(backend, summary="during a run")["data"]["changeValueRuleSet"])
        assert changed["errors"] == []
        return changed

    assert "value model changed" in _failed_by_a_change(backend, change)
    assert _classify(backend)["ruleSet"]["version"] == changed["ruleSet"]["version"]


def test_SEG_4_a_customer_classified_again_during_a_run_keeps_the_newer_segment(
    backend: Backend,
) -> None:
    """The run computed the customer LOW; before it applied, a snapshot made it HIGH (in the
    snapshot's own transaction): the run does not put the stale LOW back."""
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "1000")
    started = _start(backend)
    factory = make_session_factory(backend.engine)
    run_id = jobs.claim(factory)
    assert run_id is not None
    total = started["progress"]["total"]
    done = [0]

    def snapshot_at_the_end(added: int) -> None:
        done[0] += added
        if done[0] == total:  # every customer staged, nothing applied yet
            _record_aum(backend, customer["id"], "600000")

    assert jobs.execute(factory, run_id, progress=snapshot_at_the_end) == "DONE"
    found = _segment(backend, customer["id"])
    assert found["segment"]["tier"] == "HIGH"
    assert found["segment"]["run"] != started["id"]
    assert [h["reason"] for h in found["segmentHistory"][:2]] == [
        "INPUTS_CHANGED",
        "FIRST_CLASSIFICATION",
    ]
    finished = _run(backend, started["id"])
    assert finished["customers"] == total - _classified_since(backend, finished["startedAt"])


def fresh_branch_supervisor(backend: Backend) -> str:
    """A new branch with one supervisor (its employee number): no customer of other tests is
    in it. Branches and staff come from the bank's staff directory, not the API."""
    suffix = uuid.uuid4().hex[:8].upper()
    with make_session_factory(backend.engine)() as session:
        branch = Branch(code=f"T{suffix}", name="测试支行", city="北京市")
        session.add(branch)
        session.flush()
        session.add(
            Staff(
                employee_no=f"S{suffix}",
                name="测试主管",
                branch_id=branch.id,
                roles=[Role.BRANCH_SUPERVISOR.value],
            )
        )
        session.commit()
    return f"S{suffix}"


def test_SEG_4_a_supervisor_follows_their_run_and_others_may_not(backend: Backend) -> None:
    """A supervisor of a fresh branch with three customers: their run covers exactly those."""
    supervisor = fresh_branch_supervisor(backend)
    for _ in range(3):
        create_customer(backend, staff=supervisor)
    started = _start(backend, staff=supervisor)
    assert started["scope"] == "BRANCH"
    assert started["progress"] == {"done": 0, "total": 3}
    for staff in ("RM0001", "MKT0001"):
        body = backend.post(RUN, {"id": started["id"]}, staff=staff).json()
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff
    run_once(backend.engine)
    found = backend.gql(RUN, {"id": started["id"]}, staff=supervisor)["classificationRun"]
    assert found["status"] == "DONE"
    assert (found["progress"]["done"], found["progress"]["total"], found["customers"]) == (3, 3, 3)
    bad = backend.post(RUN, {"id": "not-an-id"}).json()
    assert bad["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"


# -- one customer, after every change of its inputs, in the same transaction ------------------


def _import(backend: Backend, customer_id: str, **values: Any) -> dict[str, Any]:
    payload = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer_id,
                "accounts": [],
                "transactions": [],
                "source": SOURCE,
                **values,
            }
        },
    )["importTransactions"]
    return payload  # type: ignore[no-any-return]


def _history(backend: Backend, customer_id: str) -> list[tuple[str, str, str]]:
    rows = _segment(backend, customer_id)["segmentHistory"]
    return [(h["fromTier"], h["toTier"], h["reason"]) for h in rows]


def test_SEG_4_opening_an_account_or_changing_its_balance_reclassifies_the_customer(
    backend: Backend,
) -> None:
    """Deposits and loans are inputs: an account opened and a balance changed (no transaction
    either time) each reclassify the customer in their own transaction. 300,000 AUM scores
    12.00; 500,000 of deposits add 20.00, 1,000,000 of loans 15.00."""
    from tests.test_unit_of_work import _changes_after, _last_id

    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "300000")
    assert _segment(backend, customer["id"])["segment"]["score"] == "12.00"
    suffix = customer["id"][-6:]
    opened = (clock.today() - timedelta(days=10)).isoformat()
    deposit = {"accountNo": f"D{suffix}", "kind": "DEMAND_DEPOSIT", "openedOn": opened}
    loan = {"accountNo": f"L{suffix}", "kind": "LOAN", "openedOn": opened}
    opening = _import(backend, customer["id"], accounts=[{**deposit, "balance": "500000"}])
    assert opening["errors"] == []
    assert _segment(backend, customer["id"])["segment"]["score"] == "32.00"
    last = _last_id(backend)
    borrowing = _import(backend, customer["id"], accounts=[{**loan, "balance": "1000000"}])
    assert borrowing["errors"] == []
    (entry,) = _changes_after(backend, last)
    tables = {row["table"] for row in entry["detail"]["rows"]}
    assert {"accounts", "segment_runs", "customer_segments"} <= tables
    found = _segment(backend, customer["id"])["segment"]
    assert (found["score"], found["tier"]) == ("47.00", "MEDIUM")
    # The loan repaid to 0 (a balance change only, no account opened): 32.00 again at once.
    repaid = _import(backend, customer["id"], accounts=[{**loan, "balance": "0"}])
    assert repaid["errors"] == []
    assert _segment(backend, customer["id"])["segment"]["score"] == "32.00"


def test_SEG_4_a_refused_import_leaves_the_segment_as_it_was(backend: Backend) -> None:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "300000")
    before = _segment(backend, customer["id"])
    suffix = customer["id"][-6:]
    opened = (clock.today() - timedelta(days=10)).isoformat()
    refused = _import(
        backend,
        customer["id"],
        accounts=[
            {"accountNo": f"L{suffix}", "kind": "LOAN", "openedOn": opened, "balance": "9000000"}
        ],
        transactions=[
            {
                "accountNo": f"L{suffix}",
                "externalRef": "bad",
                "occurredAt": clock.now().isoformat(),
                "amount": "-1",
                "type": "FEE",
                "channel": "MOBILE_APP",
            }
        ],
    )
    assert refused["errors"]
    assert _segment(backend, customer["id"]) == before


PREFERENCES = """
mutation($input: RecordPreferencesInput!) {
  recordPreferences(input: $input) { errors { field code } }
}
"""


def test_SEG_4_preferences_are_no_input_and_leave_the_segment_alone(backend: Backend) -> None:
    """Preferences (products, channels, consent) feed no model: recording them classifies
    nothing (no run, no history entry, the same classification time)."""
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "300000")
    before = _segment(backend, customer["id"])
    payload = backend.gql(
        PREFERENCES,
        {
            "input": {
                "customerId": customer["id"],
                "products": ["理财"],
                "marketingOptIn": True,
                "source": SOURCE,
            }
        },
    )["recordPreferences"]
    assert payload["errors"] == []
    assert _segment(backend, customer["id"]) == before


def test_SEG_4_a_new_model_version_and_a_rerun_keep_both_versions_in_the_history(
    backend: Backend,
) -> None:
    """History across runs and versions: the first classification under one version, the
    change under the next, each naming its run and version."""
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], "60000")  # MEDIUM
    first = _segment(backend, customer["id"])["segmentHistory"][0]
    cut_offs = _file_model()["cutOffs"]
    cut_offs[0]["belowAum"] = cut_offs[1]["fromAum"] = "60000.01"
    body = _change(backend, cutOffs=cut_offs, summary="MEDIUM from 60,000.01")
    version = body["data"]["changeValueRuleSet"]["ruleSet"]["version"]
    try:
        run = _classify(backend)
        latest = _segment(backend, customer["id"])["segmentHistory"][0]
        assert (latest["fromTier"], latest["toTier"], latest["reason"]) == (
            "MEDIUM",
            "LOW",
            "RECLASSIFIED",
        )
        assert (latest["run"], latest["ruleSetVersion"]) == (run["id"], version)
        assert first["ruleSetVersion"] == version - 1
    finally:
        assert _change(backend)["data"]["changeValueRuleSet"]["errors"] == []
        _classify(backend)
    latest = _segment(backend, customer["id"])["segmentHistory"][0]
    assert (latest["toTier"], latest["ruleSetVersion"]) == ("MEDIUM", version + 1)


RISK_RUN = """
query($id: ID!) { classificationRun(id: $id) { status riskRuleSetVersion changed } }
"""


@pytest.mark.usefixtures("restore_risk_model")
def test_SEG_4_a_run_is_failed_when_the_risk_model_changes_under_it(backend: Backend) -> None:
    """The same for the risk model (SEG-3): a run never mixes two risk model versions."""
    changed: dict[str, Any] = {}

    def change() -> dict[str, Any]:
        changed.update(change_risk(backend, summary="during a run")["data"]["changeRiskRuleSet"])
        assert changed["errors"] == []
        return changed

    assert "risk model changed" in _failed_by_a_change(backend, change)
    again = _classify(backend)
    found = backend.gql(RISK_RUN, {"id": again["id"]})["classificationRun"]
    assert found["riskRuleSetVersion"] == changed["ruleSet"]["version"]


@pytest.mark.usefixtures("restore_risk_model")
def test_SEG_4_a_background_run_grades_risk_and_opens_and_cancels_re_assessment_tasks(
    backend: Backend,
) -> None:
    """SEG-3/SEG-5 in a background run, as in a customer's own classification: a new risk model
    makes a 650-score customer HIGH only once a run applies it — the run records the risk model
    version, the history keeps MEDIUM → HIGH under it, the manager gets one re-assessment task;
    the model back and another run: MEDIUM again, the task cancelled."""
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    pk = _customer_pk(backend, customer["id"])
    _assess(backend, customer["id"], 650)
    assert _risk(backend, customer["id"])["segment"]["riskGrade"] == "MEDIUM"
    bands = [
        {"grade": "HIGH", "fromScore": 0, "belowScore": 660},
        {"grade": "MEDIUM", "fromScore": 660, "belowScore": 700},
        {"grade": "LOW", "fromScore": 700, "belowScore": None},
    ]
    body = change_risk(backend, bands=bands, summary="HIGH below 660")
    version = body["data"]["changeRiskRuleSet"]["ruleSet"]["version"]
    started = _start(backend)
    # Asked for, not run yet: nothing changed, no task.
    assert _risk(backend, customer["id"])["segment"]["riskGrade"] == "MEDIUM"
    assert _reviews(backend, pk) == []
    run = _classify_pending(backend, started["id"])
    assert (run["status"], run["riskRuleSetVersion"]) == ("DONE", version)
    found = _risk(backend, customer["id"])
    assert found["segment"]["riskGrade"] == "HIGH"
    latest = found["segmentHistory"][0]
    assert (latest["fromRiskGrade"], latest["toRiskGrade"], latest["reason"]) == (
        "MEDIUM",
        "HIGH",
        "RECLASSIFIED",
    )
    assert (latest["run"], latest["riskRuleSetVersion"]) == (started["id"], version)
    (task,) = _reviews(backend, pk)
    assert task["formName"] == "risk_review"
    # The model back: the next background run grades MEDIUM and cancels the open task.
    assert change_risk(backend)["data"]["changeRiskRuleSet"]["errors"] == []
    _classify(backend)
    assert _risk(backend, customer["id"])["segment"]["riskGrade"] == "MEDIUM"
    assert _reviews(backend, pk) == []


def _classify_pending(backend: Backend, run_id: str) -> dict[str, Any]:
    """``kehu worker --once`` runs the waiting run; the run as reported afterwards."""
    assert run_once(backend.engine).classified == 1
    return backend.gql(RISK_RUN, {"id": run_id})["classificationRun"]  # type: ignore[no-any-return]
