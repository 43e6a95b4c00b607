"""The diagram sandbox (PLAT-2): no way out, and a bounded cost.

Process owners upload the expressions and scripts of their diagrams through the API, so the
evaluator must neither reach the server (files, processes, interpreter internals) nor let one
expression stop it. Escapes and cost bombs are refused at deploy where they are visible in the
text, and stopped at run time otherwise with ``EXPRESSION_LIMIT``; the instance stays where it
was and the server keeps answering.
"""

from __future__ import annotations

import math
import threading
from pathlib import Path
from typing import Any
from xml.sax.saxutils import quoteattr

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lxml import etree
from sqlalchemy import select

from store.workflows import ProcessInstance
from tests.complaint_steps import (
    assign,
    bj_customer,
    complaint_pk,
    complete,
    read,
    submit,
    task_of,
)
from tests.conftest import Backend
from tests.test_workflows import MIGRATE, ORIGINAL, _deploy, _errors, restore_original
from workflows import deployment, sandbox

__all__ = ["restore_original"]  # a fixture of test_workflows, used here too

# The two expressions of the security review, verbatim but for the file names.
READ_FILE = (
    "[(l := []), (g := (x.gi_frame.f_back.f_back.f_globals for x in l)), l.append(g), "
    'list(g)[0]["builtins"].open({path}).read()][-1]'
)
TOUCH_FILE = (
    '[(g := (g.gi_frame.f_back.f_back.f_builtins["__import__"]("os").system("touch {path}") '
    "for x in [1])), list(g)][1]"
)
DUE_ASSIGN = """value='deadlines["assign_by"]'"""
DUE_INVESTIGATE = """<spiffworkflow:property name="form" value="investigate" />
          <spiffworkflow:property name="assignee" value='assignment["handler_id"]' />
          <spiffworkflow:property name="dueDate" value='deadlines["decision_due_at"]' />"""


def _with_due_date(xml: str, expression: str) -> str:
    """The complaint diagram with ``expression`` as the due date of Task_AssignHandler."""
    assert xml.count(DUE_ASSIGN) == 1
    return xml.replace(DUE_ASSIGN, "value=" + quoteattr(expression))


def _reported(tmp_path: Path) -> tuple[list[str], Path, Path]:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-LINE")
    created = tmp_path / "created-by-the-diagram"
    expressions = [
        READ_FILE.format(path=repr(str(secret))),
        TOUCH_FILE.format(path=created),
    ]
    return expressions, secret, created


def test_the_reported_escapes_are_refused(tmp_path: Path) -> None:
    expressions, _secret, created = _reported(tmp_path)
    for expression in expressions:
        with pytest.raises(sandbox.SandboxError):
            sandbox.check(expression)
        with pytest.raises(sandbox.SandboxError):
            sandbox.evaluate(expression, {"deadlines": {"assign_by": "2027-01-01T00:00:00Z"}})
    assert not created.exists()


def test_the_reported_escapes_are_refused_at_deploy_in_a_due_date(
    backend: Backend, tmp_path: Path, restore_original: None
) -> None:
    expressions, _secret, created = _reported(tmp_path)
    for expression in expressions:
        payload = _deploy(backend, _with_due_date(ORIGINAL, expression))
        assert payload["version"] is None
        assert ("bpmn.Task_AssignHandler", "EXPRESSION_NOT_ALLOWED") in _errors(payload)
    # The latest version is still the shipped one: a new complaint runs on it, no file appears.
    complaint = submit(backend, bj_customer(backend))
    assert read(backend, complaint)["currentTasks"][0]["dueAt"]
    assert not created.exists()


# Known ways out of Python sandboxes; every one must be refused before it runs.
ESCAPES = {
    "generator frame": "[x.gi_frame for x in (y for y in [1])]",
    "frame globals": "(g for g in [1]).gi_frame.f_globals",
    "frame builtins": "[(g := (x for x in [1])), g][0].gi_frame.f_builtins",
    "subclasses": "().__class__.__base__.__subclasses__()",
    "subclasses via strings": "getattr(getattr((), '__cl' + 'ass__'), '__subcl' + 'asses__')()",
    "mro": "''.__class__.__mro__[1].__subclasses__()",
    "format attributes": "'{0.__class__.__base__}'.format(x)",
    "format_map": "'{x.__class__}'.format_map({'x': x})",
    "str.format_map": "str.format_map('{0}', [x])",
    "format builtin": "format(x, '>10')",
    "f-string attribute": "f'{x.__class__}'",
    "f-string conversion": "f'{x!r}'",
    "f-string nested spec": "f'{x:>{n}}'",
    "f-string width bomb": "f'{x:>999999999}'",
    "percent format": "'%s' % x",
    "lambda": "(lambda: 1)()",
    "lambda key": "sorted(l, key=lambda v: v)",
    "builtin as value": "sorted(l, key=len)",
    "walrus": "(y := 1)",
    "walrus in comprehension": "[z for v in l if (z := v)]",
    "nested comprehension frames": "[[w.gi_frame for w in (u for u in [v])] for v in l]",
    "any attribute": "x.real",
    "method call": "l.append(1)",
    "dict method": "{}.keys()",
    "__builtins__": "__builtins__",
    "__builtins__ subscript": "__builtins__['open']",
    "__import__": "__import__('os')",
    "dunder name": "__name__",
    "type": "type(x)",
    "vars": "vars()",
    "globals": "globals()",
    "locals": "locals()",
    "dir": "dir()",
    "eval": "eval('1')",
    "exec": "exec('1')",
    "compile": "compile('1', 'f', 'eval')",
    "open": "open('/etc/passwd')",
    "getattr": "getattr(x, 'real')",
    "breakpoint": "breakpoint()",
    "iter and next": "next(iter(l))",
    "full-width open": "ｏｐｅｎ('/etc/passwd')",
    "full-width eval": "ｅｖａｌ('1')",
    "full-width import": "＿＿ｉｍｐｏｒｔ＿＿('os')",
    "full-width attribute": "ＯＳ.system('true')",
    "bytes": "b'abc'",
    "complex": "1j",
    "ellipsis": "...",
    "starred call": "len(*l)",
    "keyword unpacking": "dict(**{'a': 1})",
    "dict unpacking": "{**{'a': 1}}",
    "yield": "(yield 1)",
    "await": "await x",
    "matrix multiply": "l @ l",
    "statement in eval": "import os",
    "not python": "x ===",
}
SCRIPT_ESCAPES = {
    "import": "import os\nos.system('true')",
    "from import": "from os import system",
    "decorator": "@x\ndef f():\n    pass",
    "function": "def f():\n    return 1",
    "class": "class C:\n    pass",
    "lambda assignment": "f = lambda: 1",
    "global": "global x",
    "del": "del x",
    "try": "try:\n    x = 1\nexcept Exception:\n    pass",
    "with": "with x:\n    pass",
    "raise": "raise ValueError()",
    "assert": "assert x",
    "while": "while True:\n    pass",
    "attribute assignment": "x.y = 1",
    "attribute read": "y = x.real",
    "dunder assignment": "__builtins__ = {}",
    "walrus": "y = (z := 1)",
}


@pytest.mark.parametrize("source", ESCAPES.values(), ids=ESCAPES.keys())
def test_known_escapes_are_refused_in_expressions(source: str) -> None:
    with pytest.raises(sandbox.SandboxError):
        sandbox.check(source)
    with pytest.raises(sandbox.SandboxError):
        sandbox.evaluate(source, {"x": 1, "l": [1, 2], "n": 3})


@pytest.mark.parametrize("source", SCRIPT_ESCAPES.values(), ids=SCRIPT_ESCAPES.keys())
def test_known_escapes_are_refused_in_scripts(source: str) -> None:
    with pytest.raises(sandbox.SandboxError):
        sandbox.check(source, "exec")
    data: dict[str, Any] = {"x": 1}
    with pytest.raises(sandbox.SandboxError):
        sandbox.execute(source, data)
    assert data == {"x": 1}


@pytest.mark.parametrize(
    "name", ["frame globals", "subclasses via strings", "format_map", "full-width open"]
)
def test_known_escapes_are_refused_at_deploy_in_a_condition(
    backend: Backend, name: str, restore_original: None
) -> None:
    condition = "<bpmn:conditionExpression>systemic</bpmn:conditionExpression>"
    escaped = ESCAPES[name].replace("&", "&amp;").replace("<", "&lt;")
    xml = ORIGINAL.replace(
        condition, f"<bpmn:conditionExpression>{escaped}</bpmn:conditionExpression>"
    )
    payload = _deploy(backend, xml)
    assert payload["version"] is None
    assert ("bpmn.Flow_SystemicCheck_RaiseRectification", "EXPRESSION_NOT_ALLOWED") in _errors(
        payload
    )


# Cost bombs whose size is in the text: refused at deploy, before anything runs.
STATIC_BOMBS = {
    "reported": "str(sum(range(10**10)))",
    "power tower": "9**9**9",
    "power": "x + 10**100000",
    "string repeat": "'a' * 10**9",
    "list repeat": "[0] * 10**9",
    "shift": "x + (1 << 10**9)",
    "nested comprehensions": "[0 for a in range(10**4) for b in range(10**4)]",
    "nested lists": "len([[a * b for a in range(1000)] for b in range(1000)])",
    "repr of shared lists": "str([[0] * 10000] * 10000)",
    "round": "round(1, -10**6)",
    "sorted": "sorted(range(10**8))",
    "long literal": "x + " + "9" * 3000,
}


@pytest.mark.parametrize("source", STATIC_BOMBS.values(), ids=STATIC_BOMBS.keys())
def test_cost_bombs_in_the_text_are_refused_at_deploy_check(source: str) -> None:
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.check(source)


def test_the_reported_cost_bomb_is_refused_at_deploy_in_a_due_date(
    backend: Backend, restore_original: None
) -> None:
    for source in (STATIC_BOMBS["reported"], STATIC_BOMBS["power tower"]):
        payload = _deploy(backend, _with_due_date(ORIGINAL, source))
        assert payload["version"] is None
        assert ("bpmn.Task_AssignHandler", "EXPRESSION_NOT_ALLOWED") in _errors(payload)
        assert any("limit" in e["message"] for e in payload["errors"]), payload["errors"]


# Cost bombs whose size comes from the process variables: stopped while they run. The sizes are
# small enough for Python itself to finish quickly, and far beyond the sandbox's limits.
RUN_TIME_BOMBS = {
    "reported": ("str(sum(range(n)))", {"n": 10**7}),
    "power": ("n ** n", {"n": 10**4}),
    "power tower": ("9 ** n ** n", {"n": 5}),
    "string repeat": ("'a' * n", {"n": 10**7}),
    "list repeat": ("[0] * n", {"n": 10**6}),
    "shift": ("1 << n", {"n": 10**6}),
    "nested comprehensions": ("[0 for a in range(n) for b in range(n)]", {"n": 1000}),
    "nested lists": ("[[a * b for a in range(n)] for b in range(n)]", {"n": 1000}),
    "repr of shared lists": ("str([[0] * n] * n)", {"n": 1000}),
    "comparison of shared lists": ("[[0] * n] * n == [[0] * n] * n", {"n": 1000}),
    "round": ("round(1, -n)", {"n": 10**5}),
    "int from text": ("int(s) + 1", {"s": "9" * 4000}),
    "long text": ("s + s", {"s": "a" * 60000}),
    "long list": ("l + l", {"l": [0] * 60000}),
}


@pytest.mark.parametrize(("source", "data"), RUN_TIME_BOMBS.values(), ids=RUN_TIME_BOMBS.keys())
def test_cost_bombs_from_process_variables_are_stopped_at_run_time(
    source: str, data: dict[str, Any]
) -> None:
    sandbox.check(source)  # nothing in the text says how big it gets
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.evaluate(source, data)


def test_scripts_are_bounded_too() -> None:
    data: dict[str, Any] = {"n": 1000}
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.execute(
            "total = 0\nfor a in range(n):\n    for b in range(n):\n        total += a", data
        )
    assert data == {"n": 1000}
    cyclic: dict[str, Any] = {"l": [1]}
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.execute("l[0] = l", cyclic)  # a value that can never be stored


def test_deeply_nested_values_are_refused_before_python_hashes_or_stores_them() -> None:
    script = "t = 0\nfor i in range(n):\n    t = (t,)\n"
    with pytest.raises(sandbox.ExpressionLimit, match="nesting"):
        sandbox.execute(script + "s = {t}", {"n": 1000})
    with pytest.raises(sandbox.ExpressionLimit, match="nesting"):
        sandbox.execute(script, {"n": 1000})  # the task data could not be stored
    values: dict[str, Any] = {"n": 50}
    sandbox.execute(script + "s = len({t})", values)  # a set is hashed, not kept (not storable)
    assert values["s"] == 1


def test_a_deploy_shares_one_budget_across_its_expressions() -> None:
    heavy = "len([0 for a in range(100) for b in range(100)])"
    sandbox.check(heavy)  # alone, within the limits
    budget = sandbox.Budget()
    with pytest.raises(sandbox.ExpressionLimit):
        for _ in range(20):
            sandbox.check(heavy, "eval", budget)


def test_the_time_budget_stops_an_expression_within_its_step_budget() -> None:
    limits = sandbox.Limits(steps=10**9, seconds=0.05)
    with pytest.raises(sandbox.ExpressionLimit, match="seconds"):
        sandbox.evaluate("[a for a in range(n) for b in range(n)]", {"n": 300}, limits)


def test_limits_are_exact_at_the_boundary() -> None:
    limits = sandbox.LIMITS
    assert len(sandbox.evaluate("'a' * n", {"n": limits.length})) == limits.length
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.evaluate("'a' * n", {"n": limits.length + 1})
    assert sandbox.evaluate("len(range(n))", {"n": limits.length}) == limits.length
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.evaluate("range(n)", {"n": limits.length + 1})
    biggest = (1 << limits.int_bits) - 1
    assert sandbox.evaluate("2 ** (n - 1) - 1 + 2 ** (n - 1)", {"n": limits.int_bits}) == biggest
    with pytest.raises(sandbox.ExpressionLimit):
        sandbox.evaluate("2 ** n", {"n": limits.int_bits})


def test_plain_expressions_and_scripts_keep_working() -> None:
    data = {
        "complexity": "COMPLEX",
        "scores": [3, 4, 5],
        "deadlines": {"decision_due_at": "2027-01-16T16:00:00+00:00"},
        "extension_approved": True,
        "consent": {"in_force": False},
        "name": "王",
    }
    cases = {
        'complexity == "COMPLEX"': True,
        'deadlines["decision_due_at"]': "2027-01-16T16:00:00+00:00",
        "60 if extension_approved else 30": 60,
        'consent["in_force"]': False,
        "sum(s for s in scores) / len(scores)": 4,
        "[s * 2 for s in scores if s > 3]": [8, 10],
        "{s: s * s for s in scores}": {3: 9, 4: 16, 5: 25},
        "{s % 2 for s in scores}": {0, 1},
        "max(scores) - min(scores)": 2,
        "sorted(scores, reverse=True)[0:2]": [5, 4],
        "scores[-1]": 5,
        "any(s > 4 for s in scores) and all(s > 2 for s in scores)": True,
        "not scores or None": None,
        "round(2.675, 2)": round(2.675, 2),
        "int('42') + int(3.9) + float('1.5')": 46.5,
        "str(12) + name": "12王",
        'f"{name}-{scores[0]}-{1.5:.2f}"': "王-3-1.50",
        "len({'a': 1, 'b': 2})": 2,
        "list(range(1, 10, 3))": [1, 4, 7],
        "tuple(scores) + (6,)": (3, 4, 5, 6),
        "set(scores) | {9}": {3, 4, 5, 9},
        "dict(a=1)": {"a": 1},
        "'王' in name and 'x' not in name": True,
        "abs(-3) ** 2 // 2 % 3": 1,
        "bool([]) is False": True,
        "[(a, b) for a, b in [(1, 2), (3, 4)]]": [(1, 2), (3, 4)],
        "1 < 2 <= 2 != 3": True,
    }
    for source, expected in cases.items():
        sandbox.check(source)
        assert sandbox.evaluate(source, data) == expected, source
    values: dict[str, Any] = {"a": 2, "items": {"x": 1}}
    script = (
        "b = a * 3\nlabel = str(b)\nitems['y'] = b\nif b > 5:\n    big = True\nelse:\n    big = False\n"
        "total = 0\nfor k, v in [(1, 2), (3, 4)]:\n    total += k * v\nfirst, second = 1, 2\npass\n"
    )
    sandbox.check(script, "exec")
    sandbox.execute(script, values)
    assert values == {
        "a": 2,
        "items": {"x": 1, "y": 6},
        "b": 6,
        "label": "6",
        "big": True,
        "total": 14,
        "k": 3,
        "v": 4,
        "first": 1,
        "second": 2,
    }


def test_the_shipped_diagrams_pass_the_sandbox() -> None:
    for path in deployment.bundled():
        assert deployment.problems(path.read_text(), deployment.read_forms()) == [], path.name


def test_comprehension_variables_stay_in_their_comprehension() -> None:
    with pytest.raises(NameError):
        sandbox.evaluate("[y for y in l][0] and y", {"l": [1]})


def test_every_expression_a_diagram_may_hold_is_checked_at_deploy() -> None:
    """Loop, completion, conditional-event and message expressions too, not only the usual."""
    bomb = "str(sum(range(10**10)))"
    for tag in ("loopCardinality", "completionCondition", "loopCondition", "condition"):
        xml = ORIGINAL.replace(
            "</bpmn:process>", f"<bpmn:{tag}>{bomb}</bpmn:{tag}></bpmn:process>", 1
        )
        found = deployment._expression_problems(etree.fromstring(xml.encode()))
        assert [p.code for p in found] == ["EXPRESSION_NOT_ALLOWED"], tag
    spiff = ORIGINAL.replace(
        "</bpmn:process>",
        f"<spiffworkflow:messagePayload>{bomb}</spiffworkflow:messagePayload></bpmn:process>",
        1,
    )
    found = deployment._expression_problems(etree.fromstring(spiff.encode()))
    assert [p.code for p in found] == ["EXPRESSION_NOT_ALLOWED"]


# --- at run time, through the API -------------------------------------------------------------


def _with_investigation_timer(value: str) -> str:
    """The shipped diagram with a timer a process owner added to the investigation (the
    deadlines' clocks are the code's; a diagram may still carry timers of its own)."""
    process = (
        '<bpmn:boundaryEvent id="Timer_InvestigationWarning" attachedToRef="Task_Investigate" '
        'cancelActivity="false"><bpmn:outgoing>Flow_Timer_End</bpmn:outgoing>'
        '<bpmn:timerEventDefinition id="Timer_InvestigationWarning_Definition">\n'
        f"        <bpmn:timeDate>{value}</bpmn:timeDate></bpmn:timerEventDefinition>"
        '</bpmn:boundaryEvent><bpmn:endEvent id="End_Timer"><bpmn:incoming>Flow_Timer_End'
        '</bpmn:incoming></bpmn:endEvent><bpmn:sequenceFlow id="Flow_Timer_End" '
        'sourceRef="Timer_InvestigationWarning" targetRef="End_Timer" />'
    )
    shapes = (
        '<bpmndi:BPMNShape id="Timer_InvestigationWarning_di" '
        'bpmnElement="Timer_InvestigationWarning"><dc:Bounds x="702" y="697" width="36" '
        'height="36" /></bpmndi:BPMNShape><bpmndi:BPMNShape id="End_Timer_di" '
        'bpmnElement="End_Timer"><dc:Bounds x="702" y="760" width="36" height="36" />'
        '</bpmndi:BPMNShape><bpmndi:BPMNEdge id="Flow_Timer_End_di" bpmnElement="Flow_Timer_End">'
        '<di:waypoint x="720" y="733" /><di:waypoint x="720" y="760" /></bpmndi:BPMNEdge>'
    )
    lane = "<bpmn:flowNodeRef>Task_Investigate</bpmn:flowNodeRef>"
    extra = "<bpmn:flowNodeRef>Timer_InvestigationWarning</bpmn:flowNodeRef>"
    extra += "<bpmn:flowNodeRef>End_Timer</bpmn:flowNodeRef>"
    return (
        ORIGINAL.replace(lane, lane + extra, 1)
        .replace("</bpmn:process>", process + "</bpmn:process>", 1)
        .replace("</bpmndi:BPMNPlane>", shapes + "</bpmndi:BPMNPlane>", 1)
    )


# A size computed from the process variables (the ISO text of a deadline is 25+ characters long):
# nothing in the text shows the cost, so the diagram deploys, and the step fails when it runs.
HEAVY = 'len(deadlines["decision_due_at"]) ** 4'
WITH_TIMER = _with_investigation_timer('deadlines["warning_at"]')
RUN_TIME_CASES = {
    "due date": (
        DUE_INVESTIGATE,
        DUE_INVESTIGATE.replace(
            """value='deadlines["decision_due_at"]'""",
            "value=" + quoteattr(f'deadlines["decision_due_at"] if sum(range({HEAVY})) else ""'),
        ),
        "Task_Investigate",
    ),
    "assignee": (
        DUE_INVESTIGATE,
        DUE_INVESTIGATE.replace(
            """value='assignment["handler_id"]'""",
            "value=" + quoteattr(f'assignment["handler_id"] if len([0] * {HEAVY}) else 0'),
        ),
        "Task_Investigate",
    ),
    "service parameter": (
        '<spiffworkflow:parameter id="handler" type="any" value="handler" />',
        '<spiffworkflow:parameter id="handler" type="any" value='
        + quoteattr("handler if len('a' * len(handler) ** 9) else handler")
        + " />",
        "Task_RecordAssignment",
    ),
    "timer": (
        '<bpmn:timeDate>deadlines["warning_at"]</bpmn:timeDate>',
        f'<bpmn:timeDate>deadlines["warning_at"] if sum(range({HEAVY})) else ""</bpmn:timeDate>',
        "Timer_InvestigationWarning",
    ),
}


def _instance_row(backend: Backend, complaint: dict[str, Any]) -> tuple[Any, ...]:
    with backend.engine.connect() as connection:
        row = connection.execute(
            select(
                ProcessInstance.revision,
                ProcessInstance.state,
                ProcessInstance.active_elements,
                ProcessInstance.version_id,
            ).where(ProcessInstance.business_key == f"complaint:{complaint_pk(backend, complaint)}")
        ).one()
    return tuple(row)


@pytest.mark.parametrize(
    ("old", "new", "element"), RUN_TIME_CASES.values(), ids=RUN_TIME_CASES.keys()
)
def test_an_expression_over_its_limit_fails_the_step_and_nothing_moves(
    backend: Backend, old: str, new: str, element: str, restore_original: None
) -> None:
    assert WITH_TIMER.count(old) == 1
    deployed = _deploy(backend, WITH_TIMER.replace(old, new))
    assert deployed["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    before = read(backend, complaint)
    row = _instance_row(backend, complaint)
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    errors = complete(backend, "SUP0001", task, {"handler": "SH01CH01"})
    assert [(e["field"], e["code"]) for e in errors] == [(["bpmn", element], "EXPRESSION_LIMIT")]
    assert "deadlines" not in errors[0]["message"] and "SH01CH01" not in errors[0]["message"]
    # Nothing moved: the same state, the task still open, the timeline unchanged.
    assert _instance_row(backend, complaint) == row
    assert read(backend, complaint) == before
    assert task_of(backend, "SUP0001", complaint, "Task_AssignHandler") == task
    # The server answers as before.
    assert backend.client.get("/healthz").status_code == 200
    assert backend.gql("{ me { employeeNo } }", staff="SUP0001")["me"]["employeeNo"] == "SUP0001"
    # The process owner repairs the diagram and moves the instance on: it carries on from there.
    repaired = _deploy(backend, WITH_TIMER)
    instance = backend.gql(
        "query($id: ID!) { complaint(id: $id) { process { instance { id } } } }",
        {"id": complaint["id"]},
    )["complaint"]["process"]["instance"]["id"]
    moved = backend.gql(
        MIGRATE,
        {"input": {"instance": instance, "version": repaired["version"]["id"]}},
        staff="PO0001",
    )["migrateProcessInstance"]
    assert moved["errors"] == []
    assign(backend, complaint)
    assert read(backend, complaint)["status"] == "INVESTIGATING"


@pytest.mark.parametrize(
    "bomb",
    [
        # The reported freeze (a due date summing 10**10 numbers), sized from the variables.
        'str(sum(range(len(deadlines["decision_due_at"]) ** 9)))',
        # Small steps, many of them: runs until the step budget is spent.
        'len([0 for a in range(len(deadlines["decision_due_at"]) * 20) for b in range(1000)])',
    ],
    ids=["one big call", "many small steps"],
)
def test_the_server_keeps_answering_while_a_diagram_computes(
    backend: Backend, bomb: str, restore_original: None
) -> None:
    xml = ORIGINAL.replace(
        DUE_INVESTIGATE,
        DUE_INVESTIGATE.replace(
            """value='deadlines["decision_due_at"]'""", "value=" + quoteattr(bomb)
        ),
    )
    assert _deploy(backend, xml)["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(complete(backend, "SUP0001", task, {"handler": "SH01CH01"}))
    )
    worker.start()
    health = [backend.client.get("/healthz").status_code for _ in range(3)]
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert health == [200, 200, 200]
    assert [e["code"] for e in outcome[0]] == ["EXPRESSION_LIMIT"]
    assert read(backend, complaint)["process"]["instance"]["activeElementIds"] == [
        "Task_AssignHandler"
    ]


# --- allowed arithmetic gives Python's answer ---------------------------------------------------

_numbers = st.one_of(
    st.integers(min_value=-(10**6), max_value=10**6),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.booleans(),
)
_operators = st.sampled_from(
    ["+", "-", "*", "/", "//", "%", "<", "<=", "==", "!=", " and ", " or "]
)


@st.composite
def _arithmetic(draw: st.DrawFn, depth: int = 3) -> str:
    if depth == 0 or draw(st.booleans()):
        return (
            draw(st.sampled_from(["a", "b", "c"])) if draw(st.booleans()) else repr(draw(_numbers))
        )
    left = draw(_arithmetic(depth - 1))
    right = draw(_arithmetic(depth - 1))
    shape = draw(st.integers(0, 4))
    if shape == 0:
        return f"-({left})"
    if shape == 1:
        return f"abs({left})"
    if shape == 2:
        return f"({left}) if ({right}) else ({left}) ** 2"
    return f"({left}){draw(_operators)}({right})"


def _outcome(compute: Any) -> tuple[str, Any]:
    try:
        value = compute()
    except (ZeroDivisionError, OverflowError, TypeError) as exc:
        return type(exc).__name__, None
    if isinstance(value, float) and math.isnan(value):
        return "nan", None
    return "value", value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_arithmetic(), a=_numbers, b=_numbers, c=_numbers)
def test_allowed_arithmetic_gives_pythons_answer(source: str, a: Any, b: Any, c: Any) -> None:
    data = {"a": a, "b": b, "c": c}
    expected = _outcome(lambda: eval(source, {"__builtins__": {"abs": abs}}, dict(data)))
    assert _outcome(lambda: sandbox.evaluate(source, data)) == expected


# --- any mix of what is allowed stays within the limits ------------------------------------------

_atoms = st.sampled_from(["n", "s", "l", "9", "'ab'", "[1, 2]", "(1, 2)", "{1: 2}", "2.5", "x"])
_calls = st.sampled_from(["range", "str", "sum", "sorted", "list", "len", "set", "max", "int"])
_mixing = st.sampled_from(["*", "**", "+", "<<", "-", "//", "%", "==", "<", " in "])


@st.composite
def _anything(draw: st.DrawFn, depth: int = 4) -> str:
    if depth == 0 or draw(st.integers(0, 3)) == 0:
        return draw(_atoms)
    shape = draw(st.integers(0, 2))
    if shape == 0:
        return f"({draw(_anything(depth - 1))}){draw(_mixing)}({draw(_anything(depth - 1))})"
    if shape == 1:
        return f"{draw(_calls)}({draw(_anything(depth - 1))})"
    return f"[{draw(_anything(depth - 1))} for x in {draw(_anything(depth - 1))}]"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(source=_anything())
def test_any_mix_of_allowed_operations_ends_within_the_limits(source: str) -> None:
    """Whatever is combined, the evaluation ends: with a value of bounded size, or an error."""
    data = {"n": 10**5, "s": "x" * 1000, "l": list(range(1000)), "x": 7}
    try:
        value = sandbox.evaluate(source, data)
    except (sandbox.SandboxError, ArithmeticError, LookupError, TypeError, ValueError):
        return
    assert len(repr(value)) <= 20 * sandbox.LIMITS.length


# --- keys whose hashes collide, and values the task data cannot keep -----------------------------

# Every multiple of 2**61 - 1 hashes to 0: a set of them compares each key with all the others,
# inside one call that holds the interpreter (30,000 of them took 15 s).
SAME_HASH = 2**61 - 1
COLLIDING = {
    "set literal from range": "len(set(range(0, {n} * M, M)))",
    "set comprehension": "len({{i * M for i in range({n})}})",
    "dict comprehension": "len({{i * M: 0 for i in range({n})}})",
    "dict of pairs": "len(dict([(i * M, 0) for i in range({n})]))",
    "set union": "len(set(range(0, {n} * M, M)) | {{0.5}})",
    "set equality": "{{i * M for i in range({half})}} == {{i * M for i in range({half})}}",
}


@pytest.fixture
def wall_clock_out_of_the_way() -> Any:
    """A minute of wall clock per evaluation, so that what refuses is the step budget (on a busy
    machine the 1 s budget could run out first and hide a cost that is not counted)."""
    original = sandbox.LIMITS.seconds
    object.__setattr__(sandbox.LIMITS, "seconds", 60.0)  # LIMITS is frozen for everyone else
    yield
    object.__setattr__(sandbox.LIMITS, "seconds", original)


@pytest.mark.parametrize("source", COLLIDING.values(), ids=COLLIDING.keys())
def test_keys_with_colliding_hashes_are_paid_for(
    source: str, wall_clock_out_of_the_way: None
) -> None:
    """Refused by the step budget before Python builds the set (not after, by the clock)."""
    text = source.format(n=20000, half=1500).replace("M", str(SAME_HASH))
    with pytest.raises(sandbox.ExpressionLimit, match="evaluation steps"):
        sandbox.check(text)
    sized = source.format(n="n", half="n").replace("M", str(SAME_HASH))
    sandbox.check(sized)
    with pytest.raises(sandbox.ExpressionLimit, match="evaluation steps"):
        sandbox.evaluate(sized, {"n": 20000 if "half" not in source else 1500})
    # A few colliding keys are fine: the cost is what comparing them costs.
    assert sandbox.evaluate(sized, {"n": 100}) in (100, 101, True)


def test_a_script_cannot_keep_what_the_task_data_cannot_store() -> None:
    for script in ("kept = {1, 2}", "kept = {(1, 2): 3}", "kept = [{'a': {1}}]"):
        data: dict[str, Any] = {"x": 1}
        with pytest.raises(sandbox.SandboxError, match="process variable"):
            sandbox.execute(script, data)
        assert data == {"x": 1}
    kept: dict[str, Any] = {}
    sandbox.execute("kept = sorted({3, 1}) + [len({1: 2, 'a': 3})]", kept)
    assert kept == {"kept": [1, 3, 2]}


def _with_post_script(script: str) -> str:
    """The complaint diagram with ``script`` run when Task_AssignHandler is completed."""
    anchor = '<spiffworkflow:property name="dueDate" value=\'deadlines["assign_by"]\' />\n'
    anchor += "        </spiffworkflow:properties>\n"
    assert ORIGINAL.count(anchor) == 1
    escaped = script.replace("&", "&amp;").replace("<", "&lt;")
    return ORIGINAL.replace(
        anchor, anchor + f"        <spiffworkflow:postScript>{escaped}</spiffworkflow:postScript>\n"
    )


def test_colliding_hashes_are_refused_at_deploy_by_their_cost(
    backend: Backend, restore_original: None, wall_clock_out_of_the_way: None
) -> None:
    colliding = f"len({{i * {SAME_HASH} for i in range(20000)}})"
    for xml in (
        _with_due_date(ORIGINAL, f'deadlines["assign_by"] if {colliding} else ""'),
        _with_post_script(f"kept = {colliding}"),
    ):
        payload = _deploy(backend, xml)
        assert payload["version"] is None
        assert ("bpmn.Task_AssignHandler", "EXPRESSION_NOT_ALLOWED") in _errors(payload)
        assert any("evaluation steps" in e["message"] for e in payload["errors"]), payload


@pytest.mark.parametrize(
    ("script", "code", "message"),
    [
        # 8 characters of the handler's staff number * 2,500: 20,000 keys of one hash.
        (
            f"kept = len({{i * {SAME_HASH} for i in range(len(handler) * 2500)}})",
            "EXPRESSION_LIMIT",
            "evaluation steps",
        ),
        ("kept = {handler, 1}", "PROCESS_STEP_FAILED", "Task_AssignHandler"),
        ("kept = {(handler, 1): 2}", "PROCESS_STEP_FAILED", "Task_AssignHandler"),
    ],
    ids=["colliding hashes", "a set", "a tuple key"],
)
def test_a_script_that_fails_at_run_time_leaves_the_instance_where_it_was(
    backend: Backend, script: str, code: str, message: str, restore_original: None
) -> None:
    assert _deploy(backend, _with_post_script(script))["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    before = read(backend, complaint)
    row = _instance_row(backend, complaint)
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    errors = complete(backend, "SUP0001", task, {"handler": "SH01CH01"})
    assert [(e["field"], e["code"]) for e in errors] == [(["bpmn", "Task_AssignHandler"], code)]
    assert message in errors[0]["message"] and "SH01CH01" not in errors[0]["message"]
    assert _instance_row(backend, complaint) == row
    assert read(backend, complaint) == before
    assert task_of(backend, "SUP0001", complaint, "Task_AssignHandler") == task
    assert backend.client.get("/healthz").status_code == 200


# --- a diagram that never comes to rest -----------------------------------------------------------

RECORD_ASSIGNMENT = """      <bpmn:incoming>Flow_AssignHandler_RecordAssignment</bpmn:incoming>
      <bpmn:outgoing>Flow_RecordAssignment_Investigate</bpmn:outgoing>
"""
ENDLESS = {
    # Loops while its condition holds: each evaluation is cheap, their number is not.
    "standard loop": "<bpmn:standardLoopCharacteristics><bpmn:loopCondition>"
    "len(handler) > 0</bpmn:loopCondition></bpmn:standardLoopCharacteristics>",
    # All the children of a parallel multi-instance activity are created at once.
    "multi-instance": '<bpmn:multiInstanceLoopCharacteristics isSequential="false">'
    "<bpmn:loopCardinality>len(handler) ** 7</bpmn:loopCardinality>"
    "</bpmn:multiInstanceLoopCharacteristics>",
    "sequential multi-instance": '<bpmn:multiInstanceLoopCharacteristics isSequential="true">'
    "<bpmn:loopCardinality>len(handler) ** 7</bpmn:loopCardinality>"
    "</bpmn:multiInstanceLoopCharacteristics>",
}


@pytest.mark.parametrize("loop", ENDLESS.values(), ids=ENDLESS.keys())
def test_a_loop_that_never_ends_fails_the_step_and_nothing_moves(
    backend: Backend, loop: str, restore_original: None
) -> None:
    assert ORIGINAL.count(RECORD_ASSIGNMENT) == 1
    xml = ORIGINAL.replace(RECORD_ASSIGNMENT, RECORD_ASSIGNMENT + f"      {loop}\n")
    assert _deploy(backend, xml)["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    before = read(backend, complaint)
    row = _instance_row(backend, complaint)
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(complete(backend, "SUP0001", task, {"handler": "SH01CH01"})),
        daemon=True,  # before the fix it never ends
    )
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert [(e["field"], e["code"]) for e in outcome[0]] == [
        (["bpmn", "Task_RecordAssignment"], "EXPRESSION_LIMIT")
    ]
    assert "SH01CH01" not in outcome[0][0]["message"]
    assert _instance_row(backend, complaint) == row
    assert read(backend, complaint) == before
    assert backend.client.get("/healthz").status_code == 200


TIMER = (
    '<bpmn:timerEventDefinition id="Timer_InvestigationWarning_Definition">\n'
    '        <bpmn:timeDate>deadlines["warning_at"]</bpmn:timeDate>'
)


@pytest.mark.parametrize(
    "timer",
    [
        # (A text that fixes its value, '"not a date"', is refused at deploy: test_workflows.)
        "<bpmn:timeDate>len(handler)</bpmn:timeDate>",  # was INTERNAL
        # SpiffWorkflow counts a duration's months one by one: this held the request for minutes.
        '<bpmn:timeDuration>f"P{len(handler) * 10 ** 7}Y"</bpmn:timeDuration>',
    ],
    ids=["a number", "a duration of 80 million years"],
)
def test_a_timer_value_that_is_no_date_fails_the_step(
    backend: Backend, timer: str, restore_original: None
) -> None:
    assert WITH_TIMER.count(TIMER) == 1
    xml = WITH_TIMER.replace(TIMER, TIMER.split("\n")[0] + timer)
    assert _deploy(backend, xml)["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    row = _instance_row(backend, complaint)
    task = task_of(backend, "SUP0001", complaint, "Task_AssignHandler")
    outcome: list[Any] = []
    worker = threading.Thread(
        target=lambda: outcome.append(complete(backend, "SUP0001", task, {"handler": "SH01CH01"})),
        daemon=True,
    )
    worker.start()
    worker.join(timeout=60)
    assert not worker.is_alive()
    assert [(e["field"], e["code"]) for e in outcome[0]] == [
        (["bpmn", "Timer_InvestigationWarning"], "PROCESS_STEP_FAILED")
    ]
    assert _instance_row(backend, complaint) == row
