"""Process owners' side (PLAT-2): deploy with validation, versions, migration, sandbox, worker."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from core import clock
from kehu.cli import app
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
from workflows import form_validation, sandbox

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
    renamed = _deploy(backend, ORIGINAL.replace("Task_AssignHandler", "Task_AllocateHandler"))
    refused = backend.gql(
        MIGRATE,
        {"input": {"instance": instance, "version": renamed["version"]["id"]}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert [e["code"] for e in refused["errors"]] == ["MIGRATION_UNSAFE"]
    assert "Task_AssignHandler" in refused["errors"][0]["message"]
    state = read(backend, complaint)
    assert state["process"]["version"]["number"] == relabelled["version"]["number"]
    # The migrated instance carries on.
    assign(backend, complaint)
    assert read(backend, complaint)["status"] == "INVESTIGATING"


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


def test_a_failing_step_leaves_the_last_committed_state(
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
