"""The shipped diagrams read well in a modeler (PLAT-2): their BPMNDI geometry, checked.

What bpmn-js or Camunda Modeler would draw: no two shapes on top of each other (a boundary event
sits on its own activity only), no flow drawn through a shape it does not start or end at, no two
flows drawn along the same line (unless they merge into the same element), and every external label (events, gateways, named flows) clear
of shapes, flows and other labels, a flow's label next to the flow it names. A label without
BPMNDI bounds is placed where bpmn-js places it (``LabelUtil.getExternalLabelMid``).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path

import pytest
from lxml import etree

from workflows import deployment

NS = {
    "bpmn": deployment.BPMN,
    "bpmndi": deployment.BPMNDI,
    "dc": "http://www.omg.org/spec/DD/20100524/DC",
    "di": "http://www.omg.org/spec/DD/20100524/DI",
}
# bpmn-js: DEFAULT_LABEL_SIZE and FLOW_LABEL_INDENT.
DEFAULT_LABEL = (90.0, 20.0)
FLOW_LABEL_INDENT = 15.0
# A flow's label is "next to" its flow within this distance (px), and clear of every other.
LABEL_NEAR = 20.0
# Shapes whose name is drawn outside them.
EXTERNAL_LABELS = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
}
Box = tuple[float, float, float, float]  # x, y, width, height
Point = tuple[float, float]


@dataclass
class Layout:
    shapes: dict[str, Box]  # flow nodes
    kinds: dict[str, str]
    attached: dict[str, str]  # boundary event → its activity
    parents: dict[str, str]  # flow node → the subprocess it lies in
    flows: dict[str, list[Point]]
    ends: dict[str, tuple[str, str]]  # flow → (source, target)
    labels: dict[str, Box]  # element (named, with an external label) → label box


def _box(bounds: etree._Element) -> Box:
    return tuple(float(bounds.get(k) or 0) for k in ("x", "y", "width", "height"))  # type: ignore[return-value]


def read_layout(xml: str) -> Layout:
    root = etree.fromstring(xml.encode())
    elements = {
        e.get("id"): e
        for e in root.iter()
        if isinstance(e.tag, str) and etree.QName(e).namespace == deployment.BPMN and e.get("id")
    }
    nodes = {i: e for i, e in elements.items() if etree.QName(e).localname in deployment.FLOW_NODES}
    layout = Layout({}, {}, {}, {}, {}, {}, {})
    for i, e in nodes.items():
        layout.kinds[i] = etree.QName(e).localname
        if e.get("attachedToRef"):
            layout.attached[i] = e.get("attachedToRef")
        parent = e.getparent()
        if parent is not None and etree.QName(parent).localname == "subProcess":
            layout.parents[i] = parent.get("id")
    for shape in root.iterfind(".//bpmndi:BPMNShape", NS):
        element = shape.get("bpmnElement")
        if element not in nodes:
            continue
        layout.shapes[element] = _box(shape.find("dc:Bounds", NS))
        if layout.kinds[element] in EXTERNAL_LABELS and nodes[element].get("name"):
            label = shape.find("bpmndi:BPMNLabel/dc:Bounds", NS)
            layout.labels[element] = (
                _box(label) if label is not None else _below(layout.shapes[element])
            )
    for edge in root.iterfind(".//bpmndi:BPMNEdge", NS):
        element = edge.get("bpmnElement")
        flow = elements.get(element)
        if flow is None or etree.QName(flow).localname != "sequenceFlow":
            continue
        points = [(float(w.get("x")), float(w.get("y"))) for w in edge.iterfind("di:waypoint", NS)]
        layout.flows[element] = points
        layout.ends[element] = (flow.get("sourceRef"), flow.get("targetRef"))
        if flow.get("name"):
            label = edge.find("bpmndi:BPMNLabel/dc:Bounds", NS)
            layout.labels[element] = _box(label) if label is not None else _on_flow(points)
    return layout


def _below(shape: Box) -> Box:
    x, y, w, h = shape
    width, height = DEFAULT_LABEL
    return (x + w / 2 - width / 2, y + h, width, height)


def _on_flow(points: list[Point]) -> Box:
    """Where bpmn-js puts a flow's label: the middle of its middle segment, indented."""
    mid = len(points) / 2 - 1
    first, second = points[math.floor(mid)], points[math.ceil(mid + 0.01)]
    x, y = (first[0] + second[0]) / 2, (first[1] + second[1]) / 2
    dx = second[0] - first[0]
    angle = math.atan((second[1] - first[1]) / dx) if dx else math.pi / 2
    if abs(angle) < math.pi / 2:
        y -= FLOW_LABEL_INDENT
    else:
        x += FLOW_LABEL_INDENT
    width, height = DEFAULT_LABEL
    return (x - width / 2, y - height / 2, width, height)


def _overlap(a: Box, b: Box) -> bool:
    """Whether two boxes share some area (touching edges do not)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _inside(box: Box, margin: float) -> Box:
    return (box[0] + margin, box[1] + margin, box[2] - 2 * margin, box[3] - 2 * margin)


def _crosses(a: Point, b: Point, box: Box) -> bool:
    """Whether segment a–b passes through the box (Liang–Barsky clipping)."""
    x0, y0, w, h = box
    dx, dy = b[0] - a[0], b[1] - a[1]
    low, high = 0.0, 1.0
    for p, q in ((-dx, a[0] - x0), (dx, x0 + w - a[0]), (-dy, a[1] - y0), (dy, y0 + h - a[1])):
        if p == 0:
            if q < 0:
                return False
            continue
        t = q / p
        if p < 0:
            low = max(low, t)
        else:
            high = min(high, t)
        if low > high:
            return False
    return True


def _segments(points: list[Point]) -> list[tuple[Point, Point]]:
    return list(itertools.pairwise(points))


def _point_segment(p: Point, a: Point, b: Point) -> float:
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == dy == 0:
        return math.dist(p, a)
    t = max(0.0, min(1.0, ((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / (dx * dx + dy * dy)))
    return math.dist(p, (a[0] + t * dx, a[1] + t * dy))


def _distance(box: Box, points: list[Point]) -> float:
    """The distance between a box and a polyline (0 when they touch or cross)."""
    x, y, w, h = box
    corners = [(x, y), (x + w, y), (x, y + h), (x + w, y + h)]
    best = math.inf
    for a, b in _segments(points):
        if _crosses(a, b, box):
            return 0.0
        best = min(best, *(_point_segment(c, a, b) for c in corners))
        for p in (a, b):
            nearest = (min(max(p[0], x), x + w), min(max(p[1], y), y + h))
            best = min(best, math.dist(p, nearest))
    return best


def _collinear_overlap(s: tuple[Point, Point], t: tuple[Point, Point]) -> float:
    """Length two axis-parallel segments share along one line (0 for others)."""
    (a, b), (c, d) = s, t
    if a[0] == b[0] == c[0] == d[0]:
        low, high = max(min(a[1], b[1]), min(c[1], d[1])), min(max(a[1], b[1]), max(c[1], d[1]))
        return max(0.0, high - low)
    if a[1] == b[1] == c[1] == d[1]:
        low, high = max(min(a[0], b[0]), min(c[0], d[0])), min(max(a[0], b[0]), max(c[0], d[0]))
        return max(0.0, high - low)
    return 0.0


def layout_problems(xml: str) -> list[str]:
    """Everything that makes the diagram hard to read in a modeler (empty: reads well)."""
    layout = read_layout(xml)
    found: list[str] = []
    ids = sorted(layout.shapes)
    related = {(b, a) for b, a in layout.attached.items()} | {
        (c, p) for c, p in layout.parents.items()
    }
    for i, first in enumerate(ids):
        for second in ids[i + 1 :]:
            if (first, second) in related or (second, first) in related:
                continue
            if _overlap(layout.shapes[first], layout.shapes[second]):
                found.append(f"shapes {first} and {second} overlap")
    for flow, points in layout.flows.items():
        ends = set(layout.ends[flow])
        ends |= {b for b, host in layout.attached.items() if host in ends}
        ends |= {host for b, host in layout.attached.items() if b in ends}
        ends |= {layout.parents[e] for e in list(ends) if e in layout.parents}
        for element, box in layout.shapes.items():
            if element in ends or layout.kinds[element] == "subProcess":
                continue
            if any(_crosses(a, b, _inside(box, 1)) for a, b in _segments(points)):
                found.append(f"flow {flow} is drawn through {element}")
    flows = sorted(layout.flows)
    for i, first in enumerate(flows):
        for second in flows[i + 1 :]:
            if layout.ends[first][1] == layout.ends[second][1]:
                continue  # flows merging into one element may join before it
            shared = sum(
                _collinear_overlap(s, t)
                for s in _segments(layout.flows[first])
                for t in _segments(layout.flows[second])
            )
            if shared > 5:
                found.append(f"flows {first} and {second} are drawn along the same line")
    labels = sorted(layout.labels)
    for i, element in enumerate(labels):
        box = layout.labels[element]
        for other in labels[i + 1 :]:
            if _overlap(box, layout.labels[other]):
                found.append(f"the labels of {element} and {other} overlap")
        for shape, shape_box in layout.shapes.items():
            if layout.kinds[shape] != "subProcess" and _overlap(box, shape_box):
                found.append(f"the label of {element} lies on {shape}")
        for flow, points in layout.flows.items():
            if flow != element and _distance(box, points) == 0:
                found.append(f"the label of {element} lies on flow {flow}")
        if element in layout.flows and _distance(box, layout.flows[element]) > LABEL_NEAR:
            found.append(f"the label of flow {element} is not next to it")
    return found


DIAGRAMS = [pytest.param(path, id=path.name) for path in deployment.bundled()]


@pytest.mark.parametrize("path", DIAGRAMS)
def test_plat2_shipped_diagrams_read_well_in_a_modeler(path: Path) -> None:
    assert layout_problems(path.read_text()) == []


def test_plat2_the_layout_check_sees_what_a_reader_would() -> None:
    """The share-request diagram as first shipped: bpmn-js put the "Yes 有效" label on the
    refusal arrow, the two gateway flows ran along one line; a flow through a task is seen."""
    shipped = (Path(__file__).parent.parent / "workflows" / "share_request.bpmn").read_text()
    process = shipped[: shipped.index("  <bpmndi:BPMNDiagram")]
    found = layout_problems(process + FIRST_SHIPPED_LAYOUT + "</bpmn:definitions>\n")
    assert (
        "the label of Flow_Consent_SecurityReview lies on flow Flow_Consent_RefuseNoConsent"
        in found
    )
    assert (
        "flows Flow_Consent_RefuseNoConsent and Flow_Consent_SecurityReview are drawn along "
        "the same line" in found
    )
    # The refusal's end event moved onto the approval's arrow.
    through = shipped.replace(
        '<dc:Bounds x="672" y="92" width="36" height="36" />',
        '<dc:Bounds x="362" y="200" width="36" height="36" />',
    )
    assert through != shipped
    assert "flow Flow_Consent_SecurityReview is drawn through End_Refused" in (
        layout_problems(through)
    )


# The BPMNDI section of share_request.bpmn as first shipped.
FIRST_SHIPPED_LAYOUT = """  <bpmndi:BPMNDiagram id="Diagram_share_request">
    <bpmndi:BPMNPlane id="Plane_share_request" bpmnElement="Collaboration_share_request">
      <bpmndi:BPMNShape id="Participant_share_request_di" bpmnElement="Participant_share_request" isHorizontal="true">
        <dc:Bounds x="0" y="0" width="1060" height="500" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_Requester_di" bpmnElement="Lane_Requester" isHorizontal="true">
        <dc:Bounds x="30" y="0" width="1030" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Lane_Security_di" bpmnElement="Lane_Security" isHorizontal="true">
        <dc:Bounds x="30" y="250" width="1030" height="250" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Start_Requested_di" bpmnElement="Start_Requested">
        <dc:Bounds x="102" y="42" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_CheckConsent_di" bpmnElement="Task_CheckConsent">
        <dc:Bounds x="215" y="20" width="110" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Gateway_Consent_di" bpmnElement="Gateway_Consent" isMarkerVisible="true">
        <dc:Bounds x="395" y="35" width="50" height="50" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_RefuseNoConsent_di" bpmnElement="Task_RefuseNoConsent">
        <dc:Bounds x="515" y="135" width="110" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_Refused_di" bpmnElement="End_Refused">
        <dc:Bounds x="702" y="157" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_SecurityReview_di" bpmnElement="Task_SecurityReview">
        <dc:Bounds x="515" y="270" width="110" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="Task_RecordDecision_di" bpmnElement="Task_RecordDecision">
        <dc:Bounds x="665" y="270" width="110" height="80" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNShape id="End_Decided_di" bpmnElement="End_Decided">
        <dc:Bounds x="852" y="292" width="36" height="36" />
      </bpmndi:BPMNShape>
      <bpmndi:BPMNEdge id="Flow_Requested_CheckConsent_di" bpmnElement="Flow_Requested_CheckConsent">
        <di:waypoint x="138" y="60" />
        <di:waypoint x="215" y="60" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_CheckConsent_Consent_di" bpmnElement="Flow_CheckConsent_Consent">
        <di:waypoint x="325" y="60" />
        <di:waypoint x="395" y="60" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_Consent_SecurityReview_di" bpmnElement="Flow_Consent_SecurityReview">
        <di:waypoint x="445" y="60" />
        <di:waypoint x="480" y="60" />
        <di:waypoint x="480" y="310" />
        <di:waypoint x="515" y="310" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_Consent_RefuseNoConsent_di" bpmnElement="Flow_Consent_RefuseNoConsent">
        <di:waypoint x="445" y="60" />
        <di:waypoint x="480" y="60" />
        <di:waypoint x="480" y="175" />
        <di:waypoint x="515" y="175" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_RefuseNoConsent_Refused_di" bpmnElement="Flow_RefuseNoConsent_Refused">
        <di:waypoint x="625" y="175" />
        <di:waypoint x="702" y="175" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_SecurityReview_RecordDecision_di" bpmnElement="Flow_SecurityReview_RecordDecision">
        <di:waypoint x="625" y="310" />
        <di:waypoint x="665" y="310" />
      </bpmndi:BPMNEdge>
      <bpmndi:BPMNEdge id="Flow_RecordDecision_Decided_di" bpmnElement="Flow_RecordDecision_Decided">
        <di:waypoint x="775" y="310" />
        <di:waypoint x="852" y="310" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>
  </bpmndi:BPMNDiagram>
"""
