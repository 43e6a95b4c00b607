"""Deploying a diagram (PLAT-2): validate everything a process owner can get wrong, then store it.

Checks, each error naming the BPMN element: the XML and BPMN schema (SpiffWorkflow's validator);
exactly one executable process; a BPMNDI shape or edge for every element (so modelers can open
it); every flow node in a lane whose name starts with a known role; a form for every user task,
deployed with it and a valid JSON schema; every service operation registered, given the
parameters it declares with values in their range where the text fixes them; every script and
expression allowed by the sandbox and reading only variables the process can have (start data,
form fields, operation results, script assignments); every timer whose text fixes its value a
valid ISO 8601 date, duration or cycle (an unquoted ``P30D`` is a variable name, not a duration);
and the stages the process's domain requires, reachable in their order (a complaint process
keeps assignment, investigation, decision notice, call-back and review). Each accepted deploy is
a numbered, hashed version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from pathlib import Path
from typing import Any

import jsonschema
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from sqlalchemy.orm import Session

from core import clock
from store.staff import Role, Staff
from store.workflows import ProcessVersion
from workflows import engine, operations, sandbox
from workflows.errors import ProcessError
from workflows.runtime import find_latest_version, lane_role

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
SPIFF = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN, "bpmndi": BPMNDI, "spiffworkflow": SPIFF}
FLOW_NODES = (
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "userTask",
    "serviceTask",
    "scriptTask",
    "manualTask",
    "task",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "subProcess",
    "callActivity",
)
WORKFLOWS = Path(__file__).parent
FORMS = WORKFLOWS / "forms"


def read_forms(directory: Path = FORMS) -> dict[str, Any]:
    """The forms in ``directory``: ``<name>.json`` files holding JSON schemas."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(directory.glob("*.json"))}


def problems(bpmn_xml: str, forms: dict[str, Any]) -> list[ProcessError]:
    """Everything wrong with a diagram and its forms (empty when it may be deployed)."""
    try:
        root = etree.fromstring(bpmn_xml.encode())
    except etree.XMLSyntaxError as exc:
        return [ProcessError("INVALID_XML", f"not well-formed XML: {exc.msg}")]
    try:
        engine.parse(bpmn_xml)
    except ValidationException as exc:
        return [ProcessError("INVALID_BPMN", str(exc).split("\n")[0], element_id=exc.id or None)]
    except Exception as exc:  # the parser raises plain errors for some structures
        return [ProcessError("INVALID_BPMN", str(exc).split("\n")[0])]
    found: list[ProcessError] = []
    processes = root.findall("bpmn:process", NS)
    executable = [p for p in processes if p.get("isExecutable") == "true"]
    if len(executable) != 1:
        found.append(ProcessError("INVALID_BPMN", "needs exactly one executable process"))
        return found
    process = executable[0]
    nodes = [n for tag in FLOW_NODES for n in process.iter(f"{{{BPMN}}}{tag}")]
    flows = list(process.iter(f"{{{BPMN}}}sequenceFlow"))
    rules = operations.rules(process.get("id") or "")
    found += _diagram_problems(root, nodes, flows)
    found += _lane_problems(process, nodes)
    found += _task_problems(nodes, forms)
    found += _expression_problems(root, _known_variables(root, nodes, forms, rules))
    found += _parameter_problems(nodes)
    found += _stage_problems(process, nodes, flows, rules)
    return found


def _diagram_problems(
    root: etree._Element, nodes: list[etree._Element], flows: list[etree._Element]
) -> list[ProcessError]:
    drawn = {
        e.get("bpmnElement")
        for e in root.iterfind(".//bpmndi:BPMNShape", NS)
        if e.get("bpmnElement")
    } | {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    if not root.findall(".//bpmndi:BPMNDiagram", NS):
        return [ProcessError("MISSING_DIAGRAM", "the file has no BPMNDI section (layout)")]
    return [
        ProcessError(
            "MISSING_DIAGRAM", "the element has no shape in the diagram", element_id=e.get("id")
        )
        for e in nodes + flows
        if e.get("id") not in drawn
    ]


def _lane_problems(process: etree._Element, nodes: list[etree._Element]) -> list[ProcessError]:
    found = []
    lanes = list(process.iter(f"{{{BPMN}}}lane"))
    if not lanes:
        return [ProcessError("MISSING_LANES", "the process needs lanes naming roles")]
    in_lane: set[str] = set()
    roles = {role.value for role in Role}
    for lane in lanes:
        if lane_role(lane.get("name")) not in roles:
            found.append(
                ProcessError(
                    "UNKNOWN_ROLE",
                    "a lane's name must start with a role: " + ", ".join(sorted(roles)),
                    element_id=lane.get("id"),
                )
            )
        in_lane |= {ref.text or "" for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    for node in nodes:
        top_level = node.getparent() is process
        if top_level and node.get("id") not in in_lane:
            found.append(
                ProcessError("NOT_IN_LANE", "the element is in no lane", element_id=node.get("id"))
            )
    return found


def _task_problems(nodes: list[etree._Element], forms: dict[str, Any]) -> list[ProcessError]:
    found = []
    known = operations.known()
    for node in nodes:
        tag = etree.QName(node).localname
        element = node.get("id")
        if tag == "userTask":
            form = _property(node, "form")
            if not form:
                found.append(
                    ProcessError("FORM_MISSING", "a user task needs a 'form'", element_id=element)
                )
            elif form not in forms:
                found.append(
                    ProcessError(
                        "FORM_MISSING", f"form {form!r} is not deployed", element_id=element
                    )
                )
            else:
                try:
                    jsonschema.Draft202012Validator.check_schema(forms[form])
                except jsonschema.SchemaError as exc:
                    found.append(
                        ProcessError(
                            "FORM_INVALID", f"form {form!r}: {exc.message}", element_id=element
                        )
                    )
        if tag == "serviceTask":
            operator = node.find(".//spiffworkflow:serviceTaskOperator", NS)
            name = operator.get("id") if operator is not None else None
            if name not in known:
                found.append(
                    ProcessError(
                        "UNKNOWN_OPERATION",
                        f"unknown service operation {name!r}; known: " + ", ".join(known),
                        element_id=element,
                    )
                )
    return found


def _property(node: etree._Element, name: str) -> str | None:
    for prop in node.iterfind(".//spiffworkflow:property", NS):
        if prop.get("name") == name:
            return prop.get("value")
    return None


# Every element whose text SpiffWorkflow evaluates (EVAL) or runs as a script (EXEC).
EVAL_ELEMENTS = {
    *(
        (BPMN, name)
        for name in (
            "conditionExpression",
            "timeDate",
            "timeDuration",
            "timeCycle",
            "loopCardinality",
            "completionCondition",
            "loopCondition",
            "condition",
            "formalExpression",
        )
    ),
    (SPIFF, "messagePayload"),
    (SPIFF, "expression"),
}
EXEC_ELEMENTS = {(BPMN, "script"), (SPIFF, "preScript"), (SPIFF, "postScript")}


TIMERS = {"timeDate", "timeDuration", "timeCycle"}
# Expressions evaluated on something other than the process variables (a message's payload).
_OWN_CONTEXT = {"correlationPropertyRetrievalExpression", "correlationPropertyBinding"}


def _expression_problems(root: etree._Element, known: set[str] | None = None) -> list[ProcessError]:
    """Every script, condition, timer, parameter and property expression, checked by the sandbox,
    for the variables it reads, and (timers) for the value its text fixes.

    The whole file is searched (correlation expressions live outside the process). ``known``:
    the variables the process can have (None: not checked).
    """
    checks: list[tuple[etree._Element, str, str]] = []
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element)
        if (name.namespace, name.localname) in EVAL_ELEMENTS:
            checks.append((element, element.text or "", "eval"))
        elif (name.namespace, name.localname) in EXEC_ELEMENTS:
            checks.append((element, element.text or "", "exec"))
        elif _is_expression_attribute(name.localname, element):
            checks.append((element, element.get("value") or "", "eval"))
    found = []
    budget = sandbox.Budget()
    for element, source, mode in checks:
        kind = etree.QName(element).localname
        owner = _owner(element)
        if kind in TIMERS and any(engine.timer_problem(source.strip(), k) is None for k in TIMERS):
            found.append(
                ProcessError(
                    "TIMER_INVALID",
                    f'{kind}: an ISO 8601 value is written in quotes ("P30D"); '
                    "without them it is read as a variable name",
                    element_id=owner,
                )
            )
            continue
        try:
            sandbox.check(source, mode, budget)
            free = sandbox.free_names(source, mode)
        except sandbox.SandboxError as exc:
            found.append(ProcessError("EXPRESSION_NOT_ALLOWED", f"{kind}: {exc}", element_id=owner))
            continue
        unknown = sorted(free - known) if known is not None else []
        if unknown and not any(
            etree.QName(a).localname in _OWN_CONTEXT for a in _ancestors(element)
        ):
            found.append(
                ProcessError(
                    "UNKNOWN_VARIABLE",
                    f"{kind}: no start data, form field, operation result or script sets "
                    + ", ".join(repr(name) for name in unknown),
                    element_id=owner,
                )
            )
        elif kind in TIMERS and not free:
            problem = _timer_text_problem(source, kind)
            if problem is not None:
                found.append(ProcessError("TIMER_INVALID", problem, element_id=owner))
    return found


def _timer_text_problem(source: str, kind: str) -> str | None:
    """Why the value a timer's text fixes is no ISO 8601 date, duration or cycle (None: it is)."""
    try:
        value = sandbox.evaluate(source, {})
    except Exception:
        return f"{kind}: the expression cannot be evaluated"
    problem = engine.timer_problem(value, kind)
    return f"{kind}: {problem}" if problem is not None else None


def _owner(element: etree._Element) -> str | None:
    """The id of the BPMN element an expression belongs to (itself, or its nearest ancestor; an
    event rather than its event definition, which modelers do not show)."""
    owner: etree._Element | None = element
    while owner is not None and (
        owner.get("id") is None
        or etree.QName(owner).namespace != BPMN
        or etree.QName(owner).localname.endswith("EventDefinition")
    ):
        owner = owner.getparent()
    return owner.get("id") if owner is not None else None


def _ancestors(element: etree._Element) -> list[etree._Element]:
    found = []
    parent = element.getparent()
    while parent is not None:
        found.append(parent)
        parent = parent.getparent()
    return found


def _known_variables(
    root: etree._Element,
    nodes: list[etree._Element],
    forms: dict[str, Any],
    rules: operations.ProcessRules,
) -> set[str]:
    """Every variable an instance of the diagram can hold: the domain's start data, the fields
    of its user tasks' forms, its operations' result variables and what its scripts assign."""
    known = set(rules.start_variables)
    for node in nodes:
        form = (
            forms.get(_property(node, "form") or "")
            if etree.QName(node).localname == "userTask"
            else None
        )
        if isinstance(form, dict) and isinstance(form.get("properties"), dict):
            known |= set(form["properties"])
    for operator in root.iterfind(".//spiffworkflow:serviceTaskOperator", NS):
        known.add(operator.get("resultVariable") or "")
    for element in root.iter():
        if not isinstance(element.tag, str):
            continue
        name = etree.QName(element)
        if (name.namespace, name.localname) in EXEC_ELEMENTS:
            with contextlib.suppress(sandbox.SandboxError):  # reported as not allowed
                known |= sandbox.assigned_names(element.text or "")
        elif name.localname in {"dataObject", "inputDataItem", "outputDataItem"}:
            known |= {element.get("id") or "", element.get("name") or ""}
        elif name.localname in {"loopDataInputRef", "loopDataOutputRef", "messageVariable"}:
            known.add((element.text or "").strip())
    return known - {""}


def _parameter_problems(nodes: list[etree._Element]) -> list[ProcessError]:
    """The parameters each service task gives its operation, against what the operation declares
    (``workflows.operations``); a value the text fixes is checked now, others when it runs."""
    found = []
    for node in nodes:
        operator = node.find(".//spiffworkflow:serviceTaskOperator", NS)
        name = operator.get("id") if operator is not None else None
        if operator is None or name is None or operations.get(name) is None:
            continue
        given: dict[str, str] = {
            parameter.get("id") or "": parameter.get("value") or ""
            for parameter in operator.iterfind(".//spiffworkflow:parameter", NS)
        }
        values = {}
        for key, source in given.items():
            try:
                if sandbox.free_names(source):
                    continue
                values[key] = sandbox.evaluate(source, {})
            except Exception:
                continue  # reported by the expression check, or an error of the expression
        found += [
            ProcessError("PARAMETER_INVALID", why, element_id=node.get("id"))
            for _key, why in operations.parameter_problems(name, given, values)
        ]
    return found


def _stage_problems(
    process: etree._Element,
    nodes: list[etree._Element],
    flows: list[etree._Element],
    rules: operations.ProcessRules,
) -> list[ProcessError]:
    """The domain's required stages: each recorded by a service task reachable from the start,
    after the stage before it."""
    if not rules.stages:
        return []
    graph: dict[str, set[str]] = {}
    for flow in flows:
        graph.setdefault(flow.get("sourceRef") or "", set()).add(flow.get("targetRef") or "")
    starts = []
    for node in nodes:
        tag = etree.QName(node).localname
        if tag == "boundaryEvent":  # reached when its activity is
            graph.setdefault(node.get("attachedToRef") or "", set()).add(node.get("id") or "")
        if tag == "startEvent":
            parent = node.getparent()
            if parent is process:
                starts.append(node.get("id") or "")
            elif parent is not None:  # a subprocess starts its own start events
                graph.setdefault(parent.get("id") or "", set()).add(node.get("id") or "")
    calls: dict[str, set[str]] = {}
    for node in nodes:
        operator = node.find(".//spiffworkflow:serviceTaskOperator", NS)
        if operator is not None:
            calls.setdefault(operator.get("id") or "", set()).add(node.get("id") or "")
    found = []
    reached = _reachable(graph, starts)
    previous: tuple[str, set[str]] | None = None
    seen: dict[str, set[str]] = {}
    for stage, operation, *after in rules.stages:
        if after:  # a stage that runs beside the one before it follows an earlier one
            previous = (after[0], seen[after[0]])
        at = calls.get(operation, set()) & reached
        if not at:
            found.append(
                ProcessError(
                    "STAGE_MISSING",
                    f"the {rules.key} process must reach the {stage} stage "
                    f"(a service task calling {operation!r})",
                    element_id=process.get("id"),
                )
            )
            return found
        if previous is not None and not at & _reachable(graph, sorted(previous[1]), strict=True):
            found.append(
                ProcessError(
                    "STAGE_MISSING",
                    f"the {stage} stage must follow the {previous[0]} stage",
                    element_id=sorted(at)[0],
                )
            )
            return found
        previous = (stage, at)
        seen[stage] = at
    return found


def _reachable(graph: dict[str, set[str]], starts: list[str], strict: bool = False) -> set[str]:
    """The nodes reachable from ``starts`` (``strict``: through at least one flow)."""
    seen: set[str] = set()
    stack = [n for s in starts for n in graph.get(s, ())] if strict else list(starts)
    while stack:
        node = stack.pop()
        if node not in seen:
            seen.add(node)
            stack.extend(graph.get(node, ()))
    return seen


def _is_expression_attribute(name: str, element: etree._Element) -> bool:
    """Service parameters and the ``dueDate``/``assignee``/``candidateRole``/``branch``
    properties hold expressions."""
    if name == "parameter":
        return element.get("value") is not None
    return name == "property" and element.get("name") in EXPRESSION_PROPERTIES


EXPRESSION_PROPERTIES = frozenset({"dueDate", "assignee", "candidateRole", "branch"})


def content_hash(bpmn_xml: str, forms: dict[str, Any]) -> str:
    canonical = json.dumps(forms, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(bpmn_xml.encode() + b"\0" + canonical.encode()).hexdigest()


def deploy(
    session: Session, bpmn_xml: str, forms: dict[str, Any], actor: Staff | None
) -> tuple[ProcessVersion, bool]:
    """Validate and store a new version; returns it and whether it is new.

    The same content as the latest version is not stored again (its version is returned).
    """
    found = problems(bpmn_xml, forms)
    if found:
        raise ProcessError.many(found)
    key = engine.parse(bpmn_xml).key
    used = _used_forms(bpmn_xml)
    forms = {name: schema for name, schema in forms.items() if name in used}
    digest = content_hash(bpmn_xml, forms)
    latest = find_latest_version(session, key)
    if latest is not None and latest.sha256 == digest:
        return latest, False
    version = ProcessVersion(
        process_key=key,
        number=latest.number + 1 if latest is not None else 1,
        sha256=digest,
        bpmn_xml=bpmn_xml,
        forms=forms,
        deployed_by_id=actor.id if actor else None,
        deployed_at=clock.now(),
    )
    session.add(version)
    session.flush()
    return version, True


def _used_forms(bpmn_xml: str) -> set[str]:
    root = etree.fromstring(bpmn_xml.encode())
    return {
        prop.get("value") or ""
        for prop in root.iterfind(".//spiffworkflow:property", NS)
        if prop.get("name") == "form"
    }


def bundled() -> list[Path]:
    """The diagrams shipped in ``workflows/`` (deployed on first start)."""
    return sorted(WORKFLOWS.glob("*.bpmn"))


def ensure_deployed(session: Session) -> list[ProcessVersion]:
    """Deploy each bundled diagram whose process has no version yet (first start, tests)."""
    deployed = []
    forms = read_forms()
    for path in bundled():
        xml = path.read_text()
        key = engine.parse(xml).key
        if find_latest_version(session, key) is None:
            deployed.append(deploy(session, xml, forms, None)[0])
    return deployed
