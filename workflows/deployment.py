"""Deploying a diagram (PLAT-2): validate everything a process owner can get wrong, then store it.

Checks, each error naming the BPMN element: the XML and BPMN schema (SpiffWorkflow's validator);
exactly one executable process; a BPMNDI shape or edge for every element (so modelers can open
it); every flow node in a lane whose name starts with a known role; a form for every user task,
deployed with it and a valid JSON schema; every service operation registered; every script and
expression allowed by the sandbox. Each accepted deploy is a numbered, hashed version.
"""

from __future__ import annotations

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
    found += _diagram_problems(root, nodes, flows)
    found += _lane_problems(process, nodes)
    found += _task_problems(nodes, forms)
    found += _expression_problems(root)
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


def _expression_problems(root: etree._Element) -> list[ProcessError]:
    """Every script, condition, timer, parameter and property expression, checked by the sandbox.

    The whole file is searched (correlation expressions live outside the process).
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
        try:
            sandbox.check(source, mode, budget)
        except sandbox.SandboxError as exc:
            owner = element
            while owner is not None and (
                owner.get("id") is None or etree.QName(owner).namespace != BPMN
            ):
                owner = owner.getparent()
            found.append(
                ProcessError(
                    "EXPRESSION_NOT_ALLOWED",
                    f"{etree.QName(element).localname}: {exc}",
                    element_id=owner.get("id") if owner is not None else None,
                )
            )
    return found


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
