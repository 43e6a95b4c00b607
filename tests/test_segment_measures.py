"""Service measures applied (SEG-5) over HTTP, on SQLite and PostgreSQL: each segment's measures
on the customer, the supervisors' worklist of high-value customers without a dedicated manager,
and the periodic re-assessment task of high-risk customers in the manager's inbox — each
appearing and disappearing as the data changes.
"""

from __future__ import annotations

import tomllib
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest

from resolvers.segments import measures
from tests.complaint_steps import fire_timers
from tests.conftest import SOURCE, Backend, branch_id, create_customer
from tests.test_segment_risk import _assess, _snapshot
from tests.test_segments import _classify, _record_aum
from tests.test_unit_of_work import _changes_after, _last_id

MEASURES = """
query($id: ID!) { customer(id: $id) { serviceMeasures { code name dimension segment applied } } }
"""
WORKLIST = """
query($first: Int) { segmentWorklist(first: $first) { totalCount edges { node { id } } } }
"""
UPDATE = """
mutation($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { version } errors { field code } }
}
"""
INBOX = """
{ myTasks(first: 100) { edges { node { id name formName dueAt
  processInstance { businessKey } } } } }
"""
COMPLETE = """
mutation($input: CompleteTaskInput!) { completeTask(input: $input) { errors { field code } } }
"""


def _codes(backend: Backend, customer_id: str, staff: str = "HO0001", **kw: Any) -> list[str]:
    found = backend.post(MEASURES, {"id": customer_id}, staff=staff, **kw).json()
    shown = found["data"]["customer"]["serviceMeasures"]
    return [m["code"] for m in shown]


def _file_codes(dimension: str, segment: str) -> list[str]:
    raw = tomllib.loads(measures.MEASURES_FILE.read_text(encoding="utf-8"))
    return [
        m["code"] for m in raw["measures"] if (m["dimension"], m["segment"]) == (dimension, segment)
    ]


def test_SEG_5_a_customer_shows_the_measures_of_its_segments(backend: Backend) -> None:
    high = create_customer(backend)
    _record_aum(backend, high["id"], "600000")
    _assess(backend, high["id"], 500)  # HIGH risk
    assert _codes(backend, high["id"]) == _file_codes("VALUE_TIER", "HIGH") + _file_codes(
        "RISK_GRADE", "HIGH"
    )
    assert "DEDICATED_MANAGER" in _codes(backend, high["id"])
    low = create_customer(backend)
    _record_aum(backend, low["id"], "1000")
    _assess(backend, low["id"], 800)  # LOW risk
    assert _codes(backend, low["id"]) == _file_codes("VALUE_TIER", "LOW") + _file_codes(
        "RISK_GRADE", "LOW"
    )
    found = backend.gql(MEASURES, {"id": high["id"]})["customer"]["serviceMeasures"]
    applied = {m["code"]: m["applied"] for m in found if m["applied"]}
    assert applied == {
        "DEDICATED_MANAGER": "MANAGER_WORKLIST",
        "PERIODIC_REASSESSMENT": "REASSESSMENT_TASK",
    }
    # An auditor may not see the segment (nor the risk grade): no measures betray them.
    assert _codes(backend, high["id"], staff="AUD0001", purpose="AUDIT") == []
    catalogue = backend.gql("{ serviceMeasureSet { version measures { code } } }")
    assert len(catalogue["serviceMeasureSet"]["measures"]) == 21


def _worklist(backend: Backend, staff: str = "SUP0001") -> set[str]:
    found = backend.gql(WORKLIST, {"first": 100}, staff=staff)["segmentWorklist"]
    return {e["node"]["id"] for e in found["edges"]}


def _assign(backend: Backend, customer_id: str, manager: str | None) -> None:
    body = _set_manager(backend, customer_id, manager, _version(backend, customer_id))
    assert body["data"]["updateCustomer"]["errors"] == [], body


def _set_manager(backend: Backend, customer_id: str, manager: str | None, version: int) -> Any:
    values = {
        "id": customer_id,
        "expectedVersion": version,
        "changes": {"relationshipManager": manager},
        "source": SOURCE,
    }
    return backend.post(UPDATE, {"input": values}).json()


def _version(backend: Backend, customer_id: str) -> int:
    found = backend.gql("query($id: ID!) { customer(id: $id) { version } }", {"id": customer_id})
    return int(found["customer"]["version"])


def test_SEG_5_high_value_customers_without_a_manager_are_on_the_supervisor_s_worklist(
    backend: Backend,
) -> None:
    customer = create_customer(backend, branch=branch_id(backend, "SUP0001"))
    _snapshot(backend, customer["id"], "499999.99", days_ago=3)  # MEDIUM: not on the list
    assert customer["id"] not in _worklist(backend)
    _snapshot(backend, customer["id"], "500000.00", days_ago=2)  # HIGH, no manager: listed
    assert customer["id"] in _worklist(backend)
    assert customer["id"] in _worklist(backend, staff="HO0001")
    assert customer["id"] not in _worklist(backend, staff="SH01SUP01")  # another branch
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    _assign(backend, customer["id"], manager)
    assert customer["id"] not in _worklist(backend)  # a manager is assigned
    _assign(backend, customer["id"], None)
    assert customer["id"] in _worklist(backend)
    _snapshot(backend, customer["id"], "1000", days_ago=1)  # the tier drops: off the list
    assert customer["id"] not in _worklist(backend)
    for staff in ("RM0001", "MKT0001", "RISK0001"):
        refused = backend.post(WORKLIST, {"first": 10}, staff=staff).json()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff


def _reviews(backend: Backend, pk: int, staff: str = "RM0001") -> list[dict[str, Any]]:
    edges = backend.gql(INBOX, staff=staff)["myTasks"]["edges"]
    key = f"risk_review:{pk}"
    return [e["node"] for e in edges if e["node"]["processInstance"]["businessKey"] == key]


def _pk(backend: Backend, customer_id: str) -> int:
    from core.ids import pk_of

    return pk_of(customer_id, "Customer", "id")


def test_SEG_5_high_risk_customers_get_a_periodic_reassessment_task_in_the_manager_s_inbox(
    backend: Backend,
) -> None:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    customer = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    pk = _pk(backend, customer["id"])
    _assess(backend, customer["id"], 650)  # MEDIUM: no task
    assert _reviews(backend, pk) == []
    _assess(backend, customer["id"], 599)  # HIGH: a task for its manager
    (task,) = _reviews(backend, pk)
    assert (task["name"], task["formName"]) == (
        "Re-assess the customer's risk 客户风险重评",
        "risk_review",
    )
    # Idempotent: still HIGH after another assessment and a bank-wide run — one open task.
    _assess(backend, customer["id"], 550)
    _classify(backend)
    assert [t["id"] for t in _reviews(backend, pk)] == [task["id"]]
    assert _reviews(backend, pk, staff="SH01RM01") == []  # another branch's manager
    # Done: it leaves the inbox; the next opens 90 days (the model's period) after completion.
    last = _last_id(backend)
    done = backend.gql(
        COMPLETE,
        {"input": {"id": task["id"], "data": {"outcome": "RISK_CONFIRMED", "note": "checked"}}},
        staff="RM0001",
    )["completeTask"]
    assert done["errors"] == []
    (entry,) = _changes_after(backend, last)  # the outcome is audited with the customer
    notes = [n["summary"] for n in entry["detail"]["notes"]]
    assert "risk re-assessment done: RISK_CONFIRMED" in notes
    found = backend.gql(
        "query($id: ID!) { task(id: $id) { status completedAt } }",
        {"id": task["id"]},
        staff="RM0001",
    )["task"]
    assert found["status"] == "COMPLETED"
    completed = datetime.fromisoformat(found["completedAt"])
    assert _reviews(backend, pk) == []
    _classify(backend)
    assert _reviews(backend, pk) == []  # a run within the period opens none
    period = timedelta(days=90)
    fire_timers(backend, completed + period - timedelta(seconds=1))
    assert _reviews(backend, pk) == []
    fire_timers(backend, completed + period)
    (again,) = _reviews(backend, pk)
    assert again["id"] != task["id"]
    # The grade drops: the open task is cancelled and leaves the inbox.
    _assess(backend, customer["id"], 700)
    assert _reviews(backend, pk) == []
    fire_timers(backend, completed + 2 * period)
    assert _reviews(backend, pk) == []  # LOW: the worker opens none


def test_SEG_5_a_high_risk_customer_without_a_manager_goes_to_the_branch_s_managers(
    backend: Backend,
) -> None:
    customer = create_customer(backend, branch=branch_id(backend, "SUP0001"))
    pk = _pk(backend, customer["id"])
    _assess(backend, customer["id"], 100)
    (task,) = _reviews(backend, pk)  # RM0001 works in BJ01: a candidate
    assert task["dueAt"]
    assert _reviews(backend, pk, staff="SH01RM01") == []


def _assignee(backend: Backend, task_id: str) -> str | None:
    found = backend.gql(
        "query($id: ID!) { task(id: $id) { assignee { employeeNo } } }", {"id": task_id}
    )["task"]
    return None if found["assignee"] is None else found["assignee"]["employeeNo"]  # type: ignore[no-any-return]


def test_SEG_5_an_open_reassessment_task_follows_the_customer_s_new_manager(
    backend: Backend,
) -> None:
    """A HIGH-risk customer of RM0001 (BJ01) has its re-assessment task in RM0001's inbox. Its
    manager becomes BJ01RM02 (updateCustomer): the open task moves with it in that transaction;
    a refused change (stale version) moves nothing; without a manager the branch's managers
    may take it."""
    first, second = (
        backend.gql("{ me { id } }", staff=staff)["me"]["id"] for staff in ("RM0001", "BJ01RM02")
    )
    customer = create_customer(
        backend, relationshipManager=first, branch=branch_id(backend, "SUP0001")
    )
    pk = _pk(backend, customer["id"])
    _assess(backend, customer["id"], 599)  # HIGH
    (task,) = _reviews(backend, pk)
    assert _assignee(backend, task["id"]) == "RM0001"
    assert _reviews(backend, pk, staff="BJ01RM02") == []
    version = _version(backend, customer["id"])
    _assign(backend, customer["id"], second)
    assert _assignee(backend, task["id"]) == "BJ01RM02"
    assert [t["id"] for t in _reviews(backend, pk, staff="BJ01RM02")] == [task["id"]]
    assert _reviews(backend, pk, staff="RM0001") == []
    stale = _set_manager(backend, customer["id"], first, version)
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert _assignee(backend, task["id"]) == "BJ01RM02"
    _assign(backend, customer["id"], None)
    assert _assignee(backend, task["id"]) is None
    for staff in ("RM0001", "BJ01RM02"):  # the branch's managers may take it
        assert [t["id"] for t in _reviews(backend, pk, staff=staff)] == [task["id"]], staff


# -- the measures as data their owners change (SEG-5) ------------------------------------------

CHANGE_MEASURES = """
mutation($input: ChangeServiceMeasuresInput!) { changeServiceMeasures(input: $input) {
  measureSet { version summary measures { code name applied } } errors { field code message }
} }
"""
MEASURE_SET = "{ serviceMeasureSet { version measures { code name applied } } }"


def _file_measures() -> list[dict[str, Any]]:
    """The reviewed file's measures as a ``changeServiceMeasures`` input."""
    raw = tomllib.loads(measures.MEASURES_FILE.read_text(encoding="utf-8"))
    keys = ("dimension", "segment", "code", "name", "description")
    return [{**{k: m[k] for k in keys}, "applied": m.get("applied")} for m in raw["measures"]]


def _measures_version(backend: Backend) -> int:
    return int(backend.gql(MEASURE_SET)["serviceMeasureSet"]["version"])


def _change_measures(
    backend: Backend,
    items: list[dict[str, Any]],
    staff: str = "HO0001",
    version: int | None = None,
) -> dict[str, Any]:
    values = {
        "expectedVersion": _measures_version(backend) if version is None else version,
        "measures": items,
        "summary": "季度评审",
    }
    return backend.post(CHANGE_MEASURES, {"input": values}, staff=staff).json()  # type: ignore[no-any-return]


@pytest.fixture
def restore_measures(backend: Backend) -> Iterator[None]:
    yield
    body = _change_measures(backend, _file_measures())
    assert body["data"]["changeServiceMeasures"]["errors"] == []


def test_SEG_5_bad_measure_sets_are_refused_naming_the_field_and_nothing_is_written(
    backend: Backend,
) -> None:
    version = _measures_version(backend)
    items = _file_measures()
    items[1]["segment"] = "GOLD"  # not a value tier
    items[0]["name"] = "  "
    items[2]["description"] = "\u200b"  # invisible only
    items[4]["code"] = items[3]["code"]
    items[5]["applied"] = "REASSESSMENT_TASK"  # on a value tier
    body = _change_measures(backend, items)
    errors = body["data"]["changeServiceMeasures"]["errors"]
    assert [(e["field"], e["code"]) for e in errors] == [
        (["measures", "0", "name"], "REQUIRED"),
        (["measures", "1", "segment"], "UNKNOWN_SEGMENT"),
        (["measures", "2", "description"], "REQUIRED"),
        (["measures", "4", "code"], "DUPLICATE_CODE"),
        (["measures", "5", "applied"], "INVALID"),
    ]
    assert all("GOLD" not in e["message"] for e in errors)
    empty = _change_measures(backend, [])["data"]["changeServiceMeasures"]["errors"]
    assert [(e["field"], e["code"]) for e in empty] == [(["measures"], "REQUIRED")]
    unknown = _file_measures()
    unknown[0]["dimension"] = "COLOUR"  # not a kind of segment: the schema refuses it
    refused = _change_measures(backend, unknown)
    assert refused.get("data") is None and refused["errors"]
    stale = _change_measures(backend, _file_measures(), version=version + 1)
    assert stale["errors"][0]["extensions"]["code"] == "CONFLICT"
    for staff in ("RM0001", "SUP0001", "MKT0001", "RISK0001"):
        denied = _change_measures(backend, _file_measures(), staff=staff)
        assert denied["errors"][0]["extensions"]["code"] == "FORBIDDEN", staff
    assert _measures_version(backend) == version


def test_SEG_5_head_office_changes_the_measures_and_what_the_system_applies_follows(
    backend: Backend, restore_measures: None
) -> None:
    """A new version renames a measure and applies neither the worklist nor the re-assessment:
    the customer's measures show it, the HIGH-value customer without a manager leaves the
    worklist, the open re-assessment task is cancelled and a run opens none. The next version
    applies both again: the customer is back on the worklist and a new task opens, at once."""
    valued = create_customer(backend, branch=branch_id(backend, "SUP0001"))
    _snapshot(backend, valued["id"], "600000.00", days_ago=1)
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    risky = create_customer(
        backend, relationshipManager=manager, branch=branch_id(backend, "SUP0001")
    )
    _assess(backend, risky["id"], 500)
    pk = _pk(backend, risky["id"])
    (task,) = _reviews(backend, pk)
    assert valued["id"] in _worklist(backend)
    version = _measures_version(backend)
    items = [{**m, "applied": None} for m in _file_measures()]
    items[1]["name"] = "优先服务（绿色通道）"
    body = _change_measures(backend, items)["data"]["changeServiceMeasures"]
    assert body["errors"] == []
    assert body["measureSet"]["version"] == version + 1
    assert body["measureSet"]["measures"][1] == {
        "code": items[1]["code"],
        "name": "优先服务（绿色通道）",
        "applied": None,
    }
    assert _measures_version(backend) == version + 1
    shown = backend.gql(MEASURES, {"id": valued["id"]})["customer"]["serviceMeasures"]
    assert "优先服务（绿色通道）" in [m["name"] for m in shown]
    assert all(m["applied"] is None for m in shown)
    assert valued["id"] not in _worklist(backend)
    assert _reviews(backend, pk) == []
    found = backend.gql(
        "query($id: ID!) { task(id: $id) { status } }", {"id": task["id"]}, staff="RM0001"
    )["task"]
    assert found["status"] == "CANCELLED"
    _classify(backend)
    assert _reviews(backend, pk) == []
    body = _change_measures(backend, _file_measures())["data"]["changeServiceMeasures"]
    assert body["errors"] == [] and body["measureSet"]["version"] == version + 2
    assert valued["id"] in _worklist(backend)
    (again,) = _reviews(backend, pk)
    assert again["id"] != task["id"]
