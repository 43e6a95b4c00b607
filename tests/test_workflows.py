"""Process owners' side (PLAT-2): deploy with validation, versions, migration, sandbox, worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from sqlalchemy.orm import Session
from starlette.testclient import TestClient
from typer.testing import CliRunner

from core import clock
from core.ids import global_id
from kehu.cli import app
from store.workflows import ProcessVersion
from tests.complaint_steps import (
    assign,
    bj_customer,
    complaint_pk,
    decide_and_call_back,
    do,
    fire_timers,
    investigation,
    read,
    submit,
    task_of,
)
from tests.conftest import Backend
from workflows import deployment, engine, form_validation, operations, sandbox
from workflows.runtime import find_latest_version

ORIGINAL = (Path(__file__).parent.parent / "workflows" / "complaint.bpmn").read_text()
DEPLOY = """
mutation($input: DeployProcessInput!) {
  deployProcess(input: $input) {
    version { id number processKey sha256 }
    errors { field code message }
  }
}
"""
MIGRATE = """
mutation($input: MigrateProcessInstanceInput!) {
  migrateProcessInstance(input: $input) {
    instance { id version { number } activeElementIds }
    errors { field code message }
  }
}
"""


def _deploy(backend: Backend, xml: str, staff: str = "PO0001", **extra: Any) -> dict[str, Any]:
    payload = backend.gql(DEPLOY, {"input": {"bpmnXml": xml, **extra}}, staff=staff)
    return dict(payload["deployProcess"])


@pytest.fixture
def restore_original(backend: Backend) -> Iterator[None]:
    """Whatever a test deploys, the complaint process ends on the shipped diagram again."""
    yield
    payload = _deploy(backend, ORIGINAL)
    assert payload["errors"] == []


def _errors(payload: dict[str, Any]) -> set[tuple[str, str]]:
    return {(".".join(e["field"] or []), e["code"]) for e in payload["errors"]}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda x: x.replace("<bpmn:process", "<bpmn:proces", 1), ("", "INVALID_XML")),
        (
            lambda x: x[: x.index("<bpmndi:BPMNDiagram")] + "</bpmn:definitions>\n",
            ("", "MISSING_DIAGRAM"),
        ),
        (
            lambda x: x.replace(
                '<bpmndi:BPMNShape id="Task_Review_di"', '<bpmndi:BPMNShape id="X"'
            ).replace('bpmnElement="Task_Review">', 'bpmnElement="Nothing">'),
            ("bpmn.Task_Review", "MISSING_DIAGRAM"),
        ),
        (
            lambda x: x.replace('id="record_review"', 'id="send_fax"'),
            ("bpmn.Task_RecordReview", "UNKNOWN_OPERATION"),
        ),
        (
            lambda x: x.replace('name="HEAD_OFFICE 总行', 'name="CEO 总行'),
            ("bpmn.Lane_HeadOffice", "UNKNOWN_ROLE"),
        ),
        (
            lambda x: x.replace('value="rectify"', 'value="no_such_form"'),
            ("bpmn.Task_Rectify", "FORM_MISSING"),
        ),
        (
            lambda x: x.replace(
                "<bpmn:conditionExpression>systemic</bpmn:conditionExpression>",
                "<bpmn:conditionExpression>__import__('os').system('touch /tmp/kehu-pwned')"
                "</bpmn:conditionExpression>",
            ),
            ("bpmn.Flow_SystemicCheck_RaiseRectification", "EXPRESSION_NOT_ALLOWED"),
        ),
    ],
    ids=["xml", "no-di", "shape", "operation", "lane", "form", "sandbox"],
)
def test_plat2_deploy_refuses_bad_diagrams_naming_the_element(
    backend: Backend, change: Any, expected: tuple[str, str]
) -> None:
    before = backend.gql(
        '{ processVersions(where: {processKey: {eq: "complaint"}}) { totalCount edges { node { number } } } }',
        staff="PO0001",
    )
    payload = _deploy(backend, change(ORIGINAL))
    assert payload["version"] is None
    assert expected in _errors(payload), payload["errors"]
    after = backend.gql(
        '{ processVersions(where: {processKey: {eq: "complaint"}}) { totalCount edges { node { number } } } }',
        staff="PO0001",
    )
    assert after == before
    assert not Path("/tmp/kehu-pwned").exists()


SHARE_REQUEST = (Path(__file__).parent.parent / "workflows" / "share_request.bpmn").read_text()


def _with_reminder(kind: str, expression: str) -> str:
    """share_request.bpmn with a reminder timer (``kind``: timeDate, timeDuration, timeCycle)
    on the security review, laid out and in its lane like any element."""
    event = (
        '<bpmn:boundaryEvent id="Timer_Reminder" name="Reminder 提醒" '
        'attachedToRef="Task_SecurityReview" cancelActivity="false">'
        "<bpmn:outgoing>Flow_Reminder_Reminded</bpmn:outgoing>"
        f'<bpmn:timerEventDefinition id="Timer_Reminder_Definition"><bpmn:{kind}>{expression}'
        f"</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        '<bpmn:endEvent id="End_Reminded"><bpmn:incoming>Flow_Reminder_Reminded</bpmn:incoming>'
        "</bpmn:endEvent>"
        '<bpmn:sequenceFlow id="Flow_Reminder_Reminded" sourceRef="Timer_Reminder" '
        'targetRef="End_Reminded" />'
    )
    layout = (
        '<bpmndi:BPMNShape id="Timer_Reminder_di" bpmnElement="Timer_Reminder">'
        '<dc:Bounds x="537" y="352" width="36" height="36" /></bpmndi:BPMNShape>'
        '<bpmndi:BPMNShape id="End_Reminded_di" bpmnElement="End_Reminded">'
        '<dc:Bounds x="537" y="392" width="36" height="36" /></bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge id="Flow_Reminder_Reminded_di" bpmnElement="Flow_Reminder_Reminded">'
        '<di:waypoint x="555" y="388" /><di:waypoint x="555" y="392" /></bpmndi:BPMNEdge>'
    )
    lane = "<bpmn:flowNodeRef>End_Decided</bpmn:flowNodeRef>"
    xml = SHARE_REQUEST.replace(
        lane,
        lane + "<bpmn:flowNodeRef>Timer_Reminder</bpmn:flowNodeRef>"
        "<bpmn:flowNodeRef>End_Reminded</bpmn:flowNodeRef>",
    )
    xml = xml.replace("</bpmn:process>", event + "</bpmn:process>")
    return xml.replace("</bpmndi:BPMNPlane>", layout + "</bpmndi:BPMNPlane>")


@pytest.fixture
def restore_share_request(backend: Backend) -> Iterator[None]:
    yield
    assert _deploy(backend, SHARE_REQUEST)["errors"] == []


@pytest.mark.parametrize(
    ("kind", "expression", "expected"),
    [
        ("timeDuration", "P30D", "TIMER_INVALID"),  # a variable name: deployed, then stuck
        ("timeDuration", "PT1H", "TIMER_INVALID"),
        ("timeDate", "P30D", "TIMER_INVALID"),
        ("timeDuration", '"P30X"', "TIMER_INVALID"),
        ("timeDate", '"2027-02-30T00:00:00+08:00"', "TIMER_INVALID"),
        ("timeDate", '"P30D"', "TIMER_INVALID"),  # a duration where a date is due
        ("timeCycle", '"R3/P5X"', "TIMER_INVALID"),
        ("timeDuration", 'f"P{30 * 2}Y"', None),
        ("timeDuration", "reminder_after", "UNKNOWN_VARIABLE"),
        ("timeDuration", '"P30D"', None),
        ("timeDate", '"2027-02-28T00:00:00+08:00"', None),
        ("timeCycle", '"R3/P5D"', None),
        ("timeDuration", 'f"P{len(note)}D"', None),  # computed: checked when it runs
    ],
)
def test_plat2_deploy_evaluates_what_a_timer_s_text_fixes(
    backend: Backend,
    kind: str,
    expression: str,
    expected: str | None,
    restore_share_request: None,
) -> None:
    """A timer whose value is no ISO 8601 date, duration or cycle is refused at deploy naming the
    event (was: deployed, then the step failed at run time and the instance was stuck)."""
    payload = _deploy(backend, _with_reminder(kind, expression))
    if expected is None:
        assert payload["errors"] == []
    else:
        assert payload["version"] is None
        assert _errors(payload) == {("bpmn.Timer_Reminder", expected)}


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            lambda x: x.replace(
                '<spiffworkflow:parameter id="days" type="any" value="30" />',
                '<spiffworkflow:parameter id="days" type="any" value="90" />',
            ),
            ("bpmn.Task_ExtendComplex", "PARAMETER_INVALID"),
        ),
        (
            lambda x: x.replace(
                '<spiffworkflow:parameter id="days" type="any" value="30" />',
                '<spiffworkflow:parameter id="days" type="any" value="30" />'
                '<spiffworkflow:parameter id="weeks" type="any" value="1" />',
            ),
            ("bpmn.Task_ExtendComplex", "PARAMETER_INVALID"),
        ),
        (
            lambda x: x.replace(
                '<spiffworkflow:parameter id="handler" type="any" value="handler" />', ""
            ),
            ("bpmn.Task_RecordAssignment", "PARAMETER_INVALID"),
        ),
        (
            lambda x: x.replace(
                "<bpmn:conditionExpression>review_requested</bpmn:conditionExpression>",
                "<bpmn:conditionExpression>review_wanted</bpmn:conditionExpression>",
            ),
            ("bpmn.Flow_ReviewRequested_OpenReview", "UNKNOWN_VARIABLE"),
        ),
        (
            lambda x: x.replace(
                "value='deadlines[\"assign_by\"]'", "value='deadline[\"assign_by\"]'"
            ),
            ("bpmn.Task_AssignHandler", "UNKNOWN_VARIABLE"),
        ),
    ],
    ids=[
        "days-90",
        "extra-param",
        "no-param",
        "unknown-in-condition",
        "unknown-in-due-date",
    ],
)
def test_plat2_deploy_checks_parameters_and_variables_naming_the_element(
    backend: Backend, change: Any, expected: tuple[str, str]
) -> None:
    """What used to deploy and then fail at run time (INTERNAL, a stuck complaint) is refused."""
    changed = change(ORIGINAL)
    assert changed != ORIGINAL
    payload = _deploy(backend, changed)
    assert payload["version"] is None
    assert expected in _errors(payload), payload["errors"]


def test_plat2_process_owners_see_what_each_operation_accepts(backend: Backend) -> None:
    found = backend.gql(
        "{ serviceOperations { name parameters { name type required choices minimum maximum } } }",
        staff="PO0001",
    )["serviceOperations"]
    by_name = {op["name"]: op["parameters"] for op in found}
    assert by_name["extend_deadline"] == [
        {
            "name": "days",
            "type": "int",
            "required": True,
            "choices": ["30", "60"],
            "minimum": None,
            "maximum": None,
        }
    ]
    assert by_name["close_complaint"] == []


def test_cmp3_deploy_keeps_the_complaint_stages(backend: Backend) -> None:
    """CMP-3: a process owner may change the flow, not drop assignment, investigation, the
    decision notice, the call-back or the review, nor put them out of order."""
    without_review = ORIGINAL.replace('id="record_review"', 'id="close_complaint"')
    payload = _deploy(backend, without_review)
    assert payload["version"] is None
    assert ("bpmn.complaint", "STAGE_MISSING") in _errors(payload)
    assert "review" in payload["errors"][0]["message"]
    # The call-back's flow now skips the call-back: the stage is drawn but never reached.
    bypassed = ORIGINAL.replace(
        'sourceRef="Task_CallBack" targetRef="Task_RecordCallBack"',
        'sourceRef="Task_CallBack" targetRef="Task_CloseComplaint"',
    )
    assert bypassed != ORIGINAL
    payload = _deploy(backend, bypassed)
    assert payload["version"] is None
    assert ("bpmn.complaint", "STAGE_MISSING") in _errors(payload)
    assert "call-back" in payload["errors"][0]["message"]


def test_plat2_only_process_owners_deploy(backend: Backend) -> None:
    body = backend.post(DEPLOY, {"input": {"bpmnXml": ORIGINAL}}, staff="SUP0001").json()
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    forms = _deploy(backend, ORIGINAL, forms={"investigate": {"type": "nonsense"}})
    assert ("bpmn.Task_Investigate", "FORM_MISSING") in _errors(forms) or (
        "bpmn.Task_Investigate",
        "FORM_INVALID",
    ) in _errors(forms)


def test_plat2_new_versions_for_new_instances_running_ones_finish_on_theirs(
    backend: Backend, restore_original: None
) -> None:
    old = submit(backend, bj_customer(backend))
    old_version = read(backend, old)["process"]["version"]["number"]
    unchanged = _deploy(backend, ORIGINAL)
    assert unchanged["version"]["number"] == old_version  # same content, same version
    changed = ORIGINAL.replace("Call the customer back 回访", "Call back within 7 days 七日内回访")
    deployed = _deploy(backend, changed)
    assert deployed["errors"] == [] and deployed["version"]["number"] == old_version + 1
    new = submit(backend, bj_customer(backend))
    assert read(backend, new)["process"]["version"]["number"] == old_version + 1
    # The old complaint runs to its end on the version it started on.
    assign(backend, old)
    do(backend, "SH01CH01", old, "Task_Investigate", investigation())
    decide_and_call_back(backend, old)
    state = read(backend, old)
    assert state["status"] == "CLOSED"
    assert state["process"]["version"]["number"] == old_version
    names = backend.gql(
        "query($id: ID!) { complaint(id: $id) { timeline { details } } }", {"id": old["id"]}
    )["complaint"]["timeline"]
    tasks = [s["details"]["task"] for s in names if s["details"] and "task" in s["details"]]
    assert "Call the customer back 回访" in tasks


def test_plat2_migrating_an_instance_only_when_safe(
    backend: Backend, restore_original: None
) -> None:
    complaint = submit(backend, bj_customer(backend))
    instance = backend.gql(
        "query($id: ID!) { complaint(id: $id) { process { instance { id } } } }",
        {"id": complaint["id"]},
    )["complaint"]["process"]["instance"]["id"]
    relabelled = _deploy(backend, ORIGINAL.replace("Close the complaint 办结", "Close 办结归档"))
    moved = backend.gql(
        MIGRATE,
        {"input": {"instance": instance, "version": relabelled["version"]["id"]}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert moved["errors"] == []
    assert moved["instance"]["version"]["number"] == relabelled["version"]["number"]
    assert moved["instance"]["activeElementIds"] == ["Task_AssignHandler"]
    # A version without the element the instance waits at: refused, nothing changes.
    dropped = _without(ORIGINAL, {"Task_AssignHandler", "Flow_AssignHandler_RecordAssignment"})
    dropped = dropped.replace(
        'sourceRef="Task_ComputeDeadlines" targetRef="Task_AssignHandler"',
        'sourceRef="Task_ComputeDeadlines" targetRef="Task_RecordAssignment"',
    )
    refused = backend.gql(
        MIGRATE,
        {"input": {"instance": instance, "version": _stored(backend, dropped)}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert [e["code"] for e in refused["errors"]] == ["MIGRATION_UNSAFE"]
    assert "Assign a handler 指派处理人 (Task_AssignHandler)" in refused["errors"][0]["message"]
    state = read(backend, complaint)
    assert state["process"]["version"]["number"] == relabelled["version"]["number"]
    # The migrated instance carries on.
    assign(backend, complaint)
    assert read(backend, complaint)["status"] == "INVESTIGATING"


def _without(xml: str, ids: set[str]) -> str:
    """The diagram without the elements ``ids``: their definitions, references and layout."""
    root = etree.fromstring(xml.encode())
    for element in list(root.iter()):
        if not isinstance(element.tag, str):
            continue
        local = etree.QName(element).localname
        if (
            element.get("id") in ids
            or element.get("bpmnElement") in ids
            or (local in {"flowNodeRef", "incoming", "outgoing"} and element.text in ids)
        ):
            element.getparent().remove(element)
    return etree.tostring(root, encoding="unicode")


def _stored(backend: Backend, xml: str) -> str:
    """Store ``xml`` as the next complaint version as deploy would, without its validation (a
    version that drops the task a running instance waits at); returns its global ID."""
    forms = deployment.read_forms()
    with backend.engine.begin() as connection:
        session = Session(bind=connection)
        latest = find_latest_version(session, "complaint")
        assert latest is not None
        key = engine.parse(xml).key
        version = ProcessVersion(
            process_key=key,
            number=latest.number + 1,
            sha256=deployment.content_hash(xml, forms),
            bpmn_xml=xml,
            forms=forms,
            deployed_at=clock.now(),
        )
        session.add(version)
        session.flush()
        return global_id("ProcessVersion", version.id)


def test_plat2_a_condition_failing_at_run_time_is_an_incident_and_the_rest_goes_on(
    backend: Backend, restore_original: None
) -> None:
    """A condition reading a variable not set yet fails its gateway: an incident telling only
    the kind of error (an expression's message may quote process variables), while the
    parallel branch (the decision notice) goes on; the corrected version migrated, a retry
    resolves it."""
    broken = ORIGINAL.replace(
        "<bpmn:conditionExpression>systemic</bpmn:conditionExpression>",
        '<bpmn:conditionExpression>review_outcome == "CHANGED"</bpmn:conditionExpression>',
    )
    assert broken != ORIGINAL
    assert _deploy(backend, broken)["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    key = f"complaint:{complaint_pk(backend, complaint)}"
    assign(backend, complaint)
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    [incident] = _incidents(backend, key)
    assert incident["elementId"] == "Gateway_SystemicCheck"
    assert incident["elementName"] == "Systemic issue? 共性问题?"
    assert incident["error"] == "an expression of the element failed: NameError"
    assert "Task_DecisionNotice" in {
        t["elementId"] for t in read(backend, complaint)["currentTasks"]
    }
    _fix_by_migrating(backend, incident)
    retried = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert retried["retryProcessIncident"]["incident"]["status"] == "RESOLVED"
    # Both branches meet again: the complaint closes once decided and called back.
    decide_and_call_back(backend, complaint)
    assert read(backend, complaint)["status"] == "CLOSED"


def test_plat2_migration_refuses_only_what_the_diff_makes_unsafe_naming_bpmn_elements(
    backend: Backend, restore_original: None
) -> None:
    """Waiting at a task the new version relabels is safe (the task is reset onto it, and its
    inbox row follows); waiting on a timer the new version drops is not, and the refusal names
    the diagram's elements (was: ``Task_Investigate.BoundaryEventJoin``-style names)."""
    with_warning = _deploy(backend, _with_warning_step(ASSIGN_BY))
    assert with_warning["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    instance = backend.gql(
        "query($id: ID!) { complaint(id: $id) { process { instance { id } } } }",
        {"id": complaint["id"]},
    )["complaint"]["process"]["instance"]["id"]
    task = task_of(backend, "SH01CH01", complaint, "Task_Investigate")
    relabelled = _deploy(
        backend,
        _with_warning_step(ASSIGN_BY).replace(
            'name="Investigate 调查核实"', 'name="Investigate 核实情况"'
        ),
    )
    moved = backend.gql(
        MIGRATE,
        {"input": {"instance": instance, "version": relabelled["version"]["id"]}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert moved["errors"] == []  # refused before: the waiting task had "changed"
    assert task_of(backend, "SH01CH01", complaint, "Task_Investigate") == task
    name = backend.gql("query($id: ID!) { task(id: $id) { name } }", {"id": task}, staff="SH01CH01")
    assert name["task"]["name"] == "Investigate 核实情况"
    # The shipped diagram has no timer on the investigation: the instance waits on one.
    without_warning = _deploy(backend, ORIGINAL)
    assert without_warning["errors"] == []
    refused = backend.gql(
        MIGRATE,
        {"input": {"instance": instance, "version": without_warning["version"]["id"]}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["bpmn", "Timer_InvestigationWarning"], "MIGRATION_UNSAFE")
    ]
    message = refused["errors"][0]["message"]
    assert message.endswith(": Deadline near 临期 (Timer_InvestigationWarning)"), message
    assert "BoundaryEvent" not in message and "Task_Investigate" not in message
    # The instance carries on where it was.
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    assert "Task_DecisionNotice" in {
        t["elementId"] for t in read(backend, complaint)["currentTasks"]
    }


@pytest.mark.parametrize(
    "source",
    [
        "__import__('os')",
        "().__class__.__bases__",
        "[c for c in ().__class__.__mro__]",
        "'{0.__class__}'.format(1)",
        "open('/etc/passwd')",
        "getattr(1, 'real')",
        "(lambda: 1)()",
    ],
)
def test_the_sandbox_refuses_ways_out(source: str) -> None:
    with pytest.raises(sandbox.SandboxError):
        sandbox.evaluate(source, {})
    with pytest.raises(sandbox.SandboxError):
        sandbox.execute("import os\nos.system('true')", {})


def test_the_sandbox_evaluates_plain_conditions() -> None:
    data = {"complexity": "COMPLEX", "scores": [3, 4, 5]}
    assert sandbox.evaluate('complexity == "COMPLEX"', data) is True
    assert sandbox.evaluate("sum(s for s in scores) / len(scores)", data) == 4
    values: dict[str, Any] = {"a": 2}
    sandbox.execute("b = a * 3\nlabel = str(b)", values)
    assert values == {"a": 2, "b": 6, "label": "6"}


def test_cmp6_two_workers_never_advance_the_same_instance(backend: Backend) -> None:
    complaints = [submit(backend, bj_customer(backend)) for _ in range(6)]
    for complaint in complaints:
        assign(backend, complaint)
    at = clock.now() + timedelta(days=5, minutes=5)
    results: list[Any] = []

    def work() -> None:
        results.append(fire_timers(backend, at))

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(r.failed for r in results) == 0
    for complaint in complaints:
        messages = [m["kind"] for m in read(backend, complaint)["messages"]]
        assert messages.count("PROGRESS") == 1, messages


INCIDENTS = """query($where: ProcessIncidentWhere) { processIncidents(where: $where, first: 50) {
  totalCount edges { node { id elementId elementName error status attempts
  instance { id businessKey activeElementIds } } } } }"""
RETRY = """mutation($input: RetryProcessIncidentInput!) { retryProcessIncident(input: $input) {
  incident { id status attempts resolvedAt } errors { field code message } } }"""


def _incidents(backend: Backend, business_key: str, status: str | None = "OPEN") -> list[Any]:
    where = {"status": {"eq": status}} if status else None
    edges = backend.gql(INCIDENTS, {"where": where}, staff="PO0001")["processIncidents"]["edges"]
    return [e["node"] for e in edges if e["node"]["instance"]["businessKey"] == business_key]


def _counted(monkeypatch: pytest.MonkeyPatch, name: str) -> list[str]:
    """Operation ``name`` as registered, noting the element of each run in the list returned."""
    function, description = operations._REGISTRY[name]
    ran: list[str] = []

    def counted(call: operations.OperationCall) -> dict[str, Any]:
        ran.append(call.element_id)
        return function(call)

    monkeypatch.setitem(operations._REGISTRY, name, (counted, description))
    return ran


def _active(backend: Backend, business_key: str) -> set[str]:
    [incident, *_] = _incidents(backend, business_key, status=None)
    return set(incident["instance"]["activeElementIds"])


def test_plat2_a_failing_timer_step_opens_an_incident_and_a_retry_resumes_it(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, restore_original: None
) -> None:
    """A step that fails at run time is an incident for process owners (element, error, retry),
    never half-written: the timer fired, the failed operation wrote nothing, and nothing is
    retried behind the process owner's back."""
    assert _deploy(backend, _with_warning_step(ASSIGN_BY))["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    before = read(backend, complaint)
    key = f"complaint:{complaint_pk(backend, complaint)}"

    def broken(_call: operations.OperationCall) -> dict[str, Any]:
        raise ConnectionError("SMS gateway down")

    original = operations._REGISTRY["notify_progress"]
    monkeypatch.setitem(operations._REGISTRY, "notify_progress", (broken, original[1]))
    at = clock.now() + timedelta(days=1, minutes=5)  # past the assignment's deadline
    assert fire_timers(backend, at).failed == 0
    assert read(backend, complaint)["timeline"] == before["timeline"]
    [incident] = _incidents(backend, key)
    assert incident["status"] == "OPEN" and incident["attempts"] == 1
    assert incident["error"] == "operation notify_progress: ConnectionError: SMS gateway down"
    assert (incident["elementId"], incident["elementName"]) == (WARNING_STEP, WARNING_STEP_NAME)
    assert incident["elementId"] in incident["instance"]["activeElementIds"]
    assert "SH01CH01" not in incident["error"]
    # Not retried by the worker on its own: the same wake-up time finds nothing to do.
    assert fire_timers(backend, at).advanced == 0
    # A retry while the cause lasts fails again, counted on the same incident.
    again = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert again["retryProcessIncident"]["incident"]["status"] == "OPEN"
    assert again["retryProcessIncident"]["incident"]["attempts"] == 2
    # Only process owners see and retry incidents.
    refused = backend.post(RETRY, {"input": {"id": incident["id"]}}, staff="SUP0001").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    listed = backend.post(INCIDENTS, {}, staff="SUP0001").json()
    assert listed["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert _incidents(backend, key)[0]["attempts"] == 2  # the refused retry ran nothing
    # The cause fixed, the retry runs the step once and resolves the incident.
    monkeypatch.setitem(operations._REGISTRY, "notify_progress", original)
    ran = _counted(monkeypatch, "notify_progress")
    fixed = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert fixed["retryProcessIncident"]["errors"] == []
    assert fixed["retryProcessIncident"]["incident"]["status"] == "RESOLVED"
    assert ran == [WARNING_STEP]
    assert _incidents(backend, key) == []
    assert WARNING_STEP not in _active(backend, key)
    assert "Task_Investigate" in _active(backend, key)
    done = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert [e["code"] for e in done["retryProcessIncident"]["errors"]] == ["INCIDENT_RESOLVED"]
    assert ran == [WARNING_STEP]


def _fix_by_migrating(backend: Backend, incident: dict[str, Any], xml: str = ORIGINAL) -> None:
    """Deploy ``xml`` (the shipped diagram unless told) and move the incident's instance onto it."""
    fixed = _deploy(backend, xml)
    assert fixed["errors"] == []
    moved = backend.gql(
        MIGRATE,
        {"input": {"instance": incident["instance"]["id"], "version": fixed["version"]["id"]}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert moved["errors"] == []


# A process owner's own addition to the shipped diagram (whose clocks are the code's): a timer on
# the investigation (test_sandbox's) leading to a service task calling a registered operation.
ASSIGN_BY = 'deadlines["assign_by"]'  # one day after acceptance: before any clock of the code
WARNING_STEP = "Task_WarnInvestigation"
WARNING_STEP_NAME = "Update the customer 告知处理进展"


def _with_warning_step(when: str, script: str = "") -> str:
    """The shipped diagram with timer ``Timer_InvestigationWarning`` ("Deadline near 临期") on
    Task_Investigate at ``when``, then WARNING_STEP calling ``notify_progress`` (``script``
    as its pre-script when given), then an end."""
    from tests.test_sandbox import _with_investigation_timer  # that module imports this one

    pre_script = f"<spiffworkflow:preScript>{script}</spiffworkflow:preScript>" if script else ""
    step = (
        f'<bpmn:serviceTask id="{WARNING_STEP}" name="{WARNING_STEP_NAME}">'
        "<bpmn:extensionElements>"
        '<spiffworkflow:serviceTaskOperator id="notify_progress" resultVariable="progress">'
        "<spiffworkflow:parameters></spiffworkflow:parameters>"
        f"</spiffworkflow:serviceTaskOperator>{pre_script}</bpmn:extensionElements>"
        "<bpmn:incoming>Flow_Timer_End</bpmn:incoming>"
        "<bpmn:outgoing>Flow_Warned_End</bpmn:outgoing></bpmn:serviceTask>"
        f'<bpmn:sequenceFlow id="Flow_Warned_End" sourceRef="{WARNING_STEP}" '
        'targetRef="End_Timer" />'
    )
    shapes = (
        f'<bpmndi:BPMNShape id="{WARNING_STEP}_di" bpmnElement="{WARNING_STEP}">'
        '<dc:Bounds x="670" y="760" width="100" height="80" /></bpmndi:BPMNShape>'
        '<bpmndi:BPMNEdge id="Flow_Warned_End_di" bpmnElement="Flow_Warned_End">'
        '<di:waypoint x="720" y="840" /><di:waypoint x="720" y="880" /></bpmndi:BPMNEdge>'
    )
    end_at = '<dc:Bounds x="702" y="760" width="36" height="36" />'
    replacements = [
        (
            'id="Timer_InvestigationWarning" ',
            'id="Timer_InvestigationWarning" name="Deadline near 临期" ',
        ),
        (
            'sourceRef="Timer_InvestigationWarning" targetRef="End_Timer"',
            f'sourceRef="Timer_InvestigationWarning" targetRef="{WARNING_STEP}"',
        ),
        (
            '<bpmn:endEvent id="End_Timer"><bpmn:incoming>Flow_Timer_End',
            step + '<bpmn:endEvent id="End_Timer"><bpmn:incoming>Flow_Warned_End',
        ),
        (
            "<bpmn:flowNodeRef>End_Timer</bpmn:flowNodeRef>",
            f"<bpmn:flowNodeRef>{WARNING_STEP}</bpmn:flowNodeRef>"
            "<bpmn:flowNodeRef>End_Timer</bpmn:flowNodeRef>",
        ),
        (end_at, end_at.replace('y="760"', 'y="880"')),
        ("</bpmndi:BPMNPlane>", shapes + "</bpmndi:BPMNPlane>"),
    ]
    xml = _with_investigation_timer(when)
    for old, new in replacements:
        assert xml.count(old) == 1, old
        xml = xml.replace(old, new)
    return xml


def test_plat2_a_wake_up_the_diagram_refuses_is_an_incident_the_worker_waits_on(
    backend: Backend, monkeypatch: pytest.MonkeyPatch, restore_original: None
) -> None:
    """A timer step over its budget refuses the whole wake-up (nothing moves): an incident names
    the element, the worker stops trying it every run, and the retry fires it once fixed."""
    costly = "kept = sum(range(len(handler) * 10**6))"
    assert _deploy(backend, _with_warning_step(ASSIGN_BY, costly))["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    key = f"complaint:{complaint_pk(backend, complaint)}"
    assign(backend, complaint)
    before = read(backend, complaint)
    ran = _counted(monkeypatch, "notify_progress")
    at = clock.now() + timedelta(days=1, minutes=5)
    assert fire_timers(backend, at).failed == 1
    [incident] = _incidents(backend, key)
    assert (incident["elementId"], incident["elementName"]) == (WARNING_STEP, WARNING_STEP_NAME)
    assert incident["error"].startswith("EXPRESSION_LIMIT: ")
    assert "SH01CH01" not in incident["error"]
    assert incident["attempts"] == 1
    assert read(backend, complaint)["timeline"] == before["timeline"]
    assert ran == []
    # The worker leaves it for the process owner (it failed the same way on every run).
    later = fire_timers(backend, at + timedelta(minutes=1))
    assert (later.advanced, later.failed) == (0, 0)
    with clock.travel_to(at, all_threads=True):
        again = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert again["retryProcessIncident"]["incident"] == {
        "id": incident["id"],
        "status": "OPEN",
        "attempts": 2,
        "resolvedAt": None,
    }
    refused = backend.post(RETRY, {"input": {"id": incident["id"]}}, staff="SH01CH01").json()
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert ran == []
    _fix_by_migrating(backend, incident, _with_warning_step(ASSIGN_BY))
    with clock.travel_to(at, all_threads=True):
        retried = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert retried["retryProcessIncident"]["incident"]["status"] == "RESOLVED"
    assert ran == [WARNING_STEP]
    assert WARNING_STEP not in _active(backend, key)


def test_plat2_a_step_failing_after_a_completed_task_is_an_incident_not_internal(
    backend: Backend, restore_original: None
) -> None:
    """extend_deadline with a computed 90 days: the approval is recorded, the instance waits at
    the extension with an incident (was INTERNAL); deploy the fix, migrate, retry."""
    broken = ORIGINAL.replace(
        'value="60 if extension_approved else 30"', 'value="90 if extension_approved else 30"'
    )
    assert broken != ORIGINAL
    assert _deploy(backend, broken)["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    key = f"complaint:{complaint_pk(backend, complaint)}"
    assign(backend, complaint)
    far = (clock.today() + timedelta(days=50)).isoformat()
    do(
        backend,
        "SH01CH01",
        complaint,
        "Task_Investigate",
        investigation(
            complexity="ESPECIALLY_COMPLEX", extension_reason="涉及多家机构", plan_deadline=far
        ),
    )
    task = task_of(backend, "HO0001", complaint, "Task_ApproveExtension")
    body = backend.post(
        "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { task { status } "
        "errors { code } } }",
        {"i": {"id": task, "data": {"extension_approved": True}}},
        staff="HO0001",
    ).json()
    assert "errors" not in body, body
    assert body["data"]["completeTask"] == {"task": {"status": "COMPLETED"}, "errors": []}
    [incident] = _incidents(backend, key)
    assert incident["elementId"] == "Task_ExtendEspecially"
    assert incident["error"] == (
        "operation extend_deadline: ValueError: parameter 'days' must be one of 30, 60"
    )
    assert read(backend, complaint)["complexity"] == "STANDARD"  # nothing half-written
    _fix_by_migrating(backend, incident)
    retried = backend.gql(RETRY, {"input": {"id": incident["id"]}}, staff="PO0001")
    assert retried["retryProcessIncident"]["incident"]["status"] == "RESOLVED"
    state = read(backend, complaint)
    assert state["complexity"] == "ESPECIALLY_COMPLEX"
    assert [m["kind"] for m in state["messages"]].count("EXTENSION") == 1
    assert "Task_DecisionNotice" in {t["elementId"] for t in state["currentTasks"]}


def test_cmp6_a_crash_in_the_clock_sweep_loses_nothing(
    backend: Backend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A crash between steps loses nothing: the complaint's clocks resume from their last commit
    (the progress update due is sent on the next run, once)."""
    from resolvers.complaints import sweep

    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    before = read(backend, complaint)

    def broken(*_args: Any, **_kwargs: Any) -> None:
        raise ConnectionError("SMS gateway down")

    monkeypatch.setattr(sweep, "tell", broken)
    at = clock.now() + timedelta(days=5, minutes=5)
    failed = fire_timers(backend, at)
    assert failed.failed >= 1
    assert read(backend, complaint)["timeline"] == before["timeline"]
    monkeypatch.undo()
    assert fire_timers(backend, at).failed == 0
    assert [m["kind"] for m in read(backend, complaint)["messages"]].count("PROGRESS") == 1
    assert fire_timers(backend, at).swept == 0


runner = CliRunner()


def test_kehu_deploy_and_worker_commands(cli_env: dict[str, str], tmp_path: Path) -> None:
    assert runner.invoke(app, ["migrate"], env=cli_env).exit_code == 0
    checked = runner.invoke(app, ["deploy", "workflows/complaint.bpmn", "--check"], env=cli_env)
    assert checked.exit_code == 0 and "valid" in checked.output
    deployed = runner.invoke(app, ["deploy", "workflows/complaint.bpmn"], env=cli_env)
    assert deployed.exit_code == 0 and "complaint version 1" in deployed.output
    again = runner.invoke(app, ["deploy", "workflows/complaint.bpmn"], env=cli_env)
    assert "Unchanged" in again.output
    broken = tmp_path / "broken.bpmn"
    broken.write_text(ORIGINAL.replace('id="close_complaint"', 'id="shred_files"'))
    (tmp_path / "forms").symlink_to(Path("workflows/forms").resolve())
    refused = runner.invoke(app, ["deploy", str(broken)], env=cli_env)
    assert refused.exit_code == 1
    assert "element Task_CloseComplaint" in refused.output and "UNKNOWN_OPERATION" in refused.output
    ran = runner.invoke(app, ["worker", "--once", "--now", "2027-01-01T00:00:00Z"], env=cli_env)
    assert ran.exit_code == 0 and "Advanced 0 instances" in ran.output
    naive = runner.invoke(app, ["worker", "--once", "--now", "2027-01-01T00:00:00"], env=cli_env)
    assert naive.exit_code == 2 and "time zone" in naive.output


def test_the_embedded_server_fires_due_timers_itself(backend: Backend) -> None:
    """Embedded mode: a thread of the server process wakes due instances (no `kehu worker`)."""
    import dataclasses
    import time

    from kehu.app import create_app

    complaint = submit(backend, bj_customer(backend))
    assign(backend, complaint)
    settings = dataclasses.replace(backend.settings, embedded_worker=True, worker_poll_seconds=0.2)
    later = clock.now() + timedelta(days=5, minutes=5)
    with clock.travel_to(later, all_threads=True), TestClient(create_app(settings)):
        for _ in range(100):
            messages = [m["kind"] for m in read(backend, complaint)["messages"]]
            if "PROGRESS" in messages:
                break
            time.sleep(0.1)
    assert messages.count("PROGRESS") == 1, messages


def test_unknown_or_foreign_task_ids_are_typed_errors(backend: Backend) -> None:
    query = """mutation($i: CompleteTaskInput!) {
        completeTask(input: $i) { errors { field code } } }"""
    wrong_type = backend.gql(
        query, {"i": {"id": bj_customer(backend)["id"], "data": {}}}, staff="SUP0001"
    )["completeTask"]
    assert wrong_type["errors"] == [{"field": ["id"], "code": "INVALID_ID"}]
    from core.ids import global_id

    missing = backend.post(
        query, {"i": {"id": global_id("Task", 987654), "data": {}}}, staff="SUP0001"
    ).json()
    assert missing["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_cmp6_timers_firing_while_staff_complete_tasks_never_conflict(backend: Backend) -> None:
    """The worker and the API act on the same instances at once: both wait their turn."""
    complaints = [submit(backend, bj_customer(backend)) for _ in range(10)]
    for complaint in complaints:
        assign(backend, complaint)
    tasks = [task_of(backend, "SH01CH01", c, "Task_Investigate") for c in complaints]
    problems: list[Any] = []

    def worker() -> None:
        for round_ in range(5):
            result = fire_timers(backend, clock.now() + timedelta(days=5 * round_ + 5, minutes=1))
            if result.failed:
                problems.append(("worker", result))

    def staff() -> None:
        for task in tasks:
            body = backend.post(
                "mutation($i: CompleteTaskInput!) { completeTask(input: $i) { errors { code } } }",
                {"i": {"id": task, "data": investigation()}},
                staff="SH01CH01",
            ).json()
            if "errors" in body or body["data"]["completeTask"]["errors"]:
                problems.append(("api", body))

    threads = [threading.Thread(target=worker), threading.Thread(target=staff)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert problems == []
    for complaint in complaints:
        # (A complaint still under investigation when its deadline passed also has a
        # supervision task: which one depends on the race, not on correctness.)
        current = {t["elementId"] for t in read(backend, complaint)["currentTasks"]}
        assert "Task_DecisionNotice" in current


def test_form_errors_name_a_field_whose_name_holds_a_quote() -> None:
    """The field comes from jsonschema's structured error, not from parsing its message."""
    schema = {
        "type": "object",
        "properties": {"customer's note": {"type": "string"}, "a": {"type": "string"}},
        "required": ["customer's note", "a"],
        "additionalProperties": False,
    }
    problems = form_validation.form_problems(schema, {"it's extra": 1, 'say "hi"': 2})
    assert sorted(p.field for p in problems) == [
        ("data", "a"),
        ("data", "customer's note"),
        ("data", "it's extra"),
        ("data", 'say "hi"'),
    ]
    assert {p.message for p in problems} == {"is required", "is not a field of this form"}


def test_plat2_process_versions_are_a_connection(backend: Backend) -> None:
    query = """query($after: String) { processVersions(first: 1, after: $after) {
        totalCount pageInfo { hasNextPage endCursor } edges { node { id processKey number } } } }"""
    first = backend.gql(query, staff="PO0001")["processVersions"]
    total = first["totalCount"]
    assert total >= 2  # the complaint and share-request processes
    seen = [first["edges"][0]["node"]]
    page = first
    while page["pageInfo"]["hasNextPage"]:
        page = backend.gql(query, {"after": page["pageInfo"]["endCursor"]}, staff="PO0001")[
            "processVersions"
        ]
        seen.extend(e["node"] for e in page["edges"])
    assert len(seen) == total
    keys = [(n["processKey"], n["number"]) for n in seen]
    assert keys == sorted(keys)


NODE = """query($id: ID!) { node(id: $id) { __typename id
  ... on ProcessInstance { businessKey } ... on ProcessVersion { processKey } } }"""


def test_node_resolves_process_instances_and_versions_as_their_lists_show_them(
    backend: Backend,
) -> None:
    complaint = submit(backend, bj_customer(backend))
    ids = backend.gql(
        "query($id: ID!) { complaint(id: $id) { process { instance { id } version { id } } } }",
        {"id": complaint["id"]},
    )["complaint"]["process"]
    instance, version = ids["instance"]["id"], ids["version"]["id"]

    def node(staff: str, id: str) -> Any:
        return backend.gql(NODE, {"id": id}, staff=staff)["node"]

    # Process owners see every instance and version (as processVersions and migrations do).
    assert node("PO0001", instance)["__typename"] == "ProcessInstance"
    assert node("PO0001", version) == {
        "__typename": "ProcessVersion",
        "id": version,
        "processKey": "complaint",
    }
    # The supervisor who may do the instance's task sees the instance, not the versions list.
    assert (
        node("SUP0001", instance)["businessKey"] == f"complaint:{complaint_pk(backend, complaint)}"
    )
    assert node("SUP0001", version) is None
    # The customer's relationship manager sees the complaint, so its process too.
    assert node("RM0001", instance)["__typename"] == "ProcessInstance"
    # Another branch's supervisor sees neither its tasks nor the complaint.
    assert node("SH01SUP01", instance) is None
