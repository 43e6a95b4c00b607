"""Every error code a domain's logic can produce is a member of that domain's typed enum.

A code missing from the enum would turn a refused input into an INTERNAL error. The scan reads
the string literals passed as codes (``FieldError``, ``Problems.add``, ``_fail``, ``.one``,
``ProcessError``) in each domain's sources and in the shared helpers its payloads pass through.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from schema.complaints.enums import ComplaintErrorCode
from schema.customers.enums import CustomerErrorCode
from schema.notifications import NotificationErrorCode
from schema.policy import PolicyErrorCode
from schema.segments.enums import SegmentErrorCode
from schema.sharing.enums import SharingErrorCode
from schema.workflows import ProcessErrorCode

ROOT = Path(__file__).resolve().parent.parent
SHARED = [
    ROOT / "resolvers" / "shared" / name
    for name in ("validation.py", "pagination.py", "filters.py")
] + [ROOT / "core" / "ids.py"]
PROCESS_SOURCES = [
    *ROOT.glob("resolvers/workflows.py"),
    *ROOT.glob("schema/workflows.py"),
    *ROOT.glob("schema/workflows/*.py"),
    *sorted((ROOT / "workflows").rglob("*.py")),
]


def _domain(floor: str, name: str) -> list[Path]:
    """A domain's files on one floor, whether it is a module or a package."""
    return [*ROOT.glob(f"{floor}/{name}.py"), *ROOT.glob(f"{floor}/{name}/*.py")]


def _sources(*paths: Path) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        found.extend(sorted(path.rglob("*.py")) if path.is_dir() else [path])
    return found


def _codes(path: Path, functions: set[str] | None = None) -> set[str]:
    """String literals passed as the code of an error (only in ``functions``, when given)."""
    tree = ast.parse(path.read_text())
    roots: list[ast.AST] = [tree]
    if functions is not None:
        roots = [
            n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef) and n.name in functions
        ]
        assert {n.name for n in roots} == functions  # type: ignore[attr-defined]
    codes = set()
    for node in (n for root in roots for n in ast.walk(root)):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        position = {
            "add": 1,
            "fail": 1,
            "_fail": 1,
            "one": 1,
            "FieldError": 1,
            "ProcessError": 0,
        }.get(str(name))
        if position is not None and len(node.args) > position:
            code = node.args[position]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes.add(code.value)
    return codes


def _members(enum: Any) -> set[str]:
    return {member.name for member in enum}


DOMAINS: dict[str, tuple[Any, list[Path], set[str]]] = {
    "customers": (
        CustomerErrorCode,
        [
            *_domain("resolvers", "customers"),
            *_domain("schema", "customers"),
            *SHARED,
        ],
        set(),
    ),
    # Submitting a complaint starts its process: its step errors come back in the payload too.
    "complaints": (
        ComplaintErrorCode,
        [
            ROOT / "resolvers" / "complaints" / "commands.py",
            ROOT / "schema" / "complaints",
            ROOT / "core" / "ids.py",
        ],
        {"PROCESS_NOT_DEPLOYED", "PROCESS_STEP_FAILED", "EXPRESSION_LIMIT"}
        | _codes(ROOT / "resolvers" / "shared" / "validation.py", {"text", "money"}),
    ),
    "notifications": (
        NotificationErrorCode,
        [*_domain("resolvers", "notifications"), *_domain("schema", "notifications")],
        _codes(ROOT / "core" / "ids.py", {"pk_of"}),
    ),
    "processes": (ProcessErrorCode, [*PROCESS_SOURCES, ROOT / "core" / "ids.py"], set()),
    # Sharing and policy pass only some shared validators' codes through (those they call).
    "sharing": (
        SharingErrorCode,
        [*_domain("resolvers", "sharing"), *_domain("schema", "sharing")],
        _codes(ROOT / "resolvers" / "shared" / "validation.py", {"mobile", "email", "text"})
        | _codes(ROOT / "core" / "ids.py", {"pk_of"}),
    ),
    # Segments pass the money and text validators' codes through, and malformed IDs.
    "segments": (
        SegmentErrorCode,
        [*_domain("resolvers", "segments"), *_domain("schema", "segments")],
        _codes(ROOT / "resolvers" / "shared" / "validation.py", {"money", "text"})
        | _codes(ROOT / "core" / "ids.py", {"pk_of"}),
    ),
    "policy": (
        PolicyErrorCode,
        [*_domain("resolvers", "policy"), *_domain("schema", "policy")],
        _codes(ROOT / "resolvers" / "shared" / "validation.py", {"employee_number"}),
    ),
}


@pytest.mark.parametrize("domain", DOMAINS)
def test_all_codes_are_in_the_enum(domain: str) -> None:
    enum, paths, passed_through = DOMAINS[domain]
    used = set().union(passed_through, *(_codes(path) for path in _sources(*paths)))
    assert len(used) > (1 if domain == "notifications" else 5)  # the scan finds the codes
    members = _members(enum)
    assert used - members == set()


def test_complaint_operations_codes_reach_task_payloads_typed() -> None:
    """A complaint operation's refusal comes back from ``completeTask``: a process code, or
    DOMAIN_RULE with the complaint's own code, never an unknown one."""
    used = _codes(ROOT / "resolvers" / "complaints" / "operations.py")
    assert {"HANDLER_CONFLICT", "DEADLINE_TOO_LATE"} <= used
    process, complaint = _members(ProcessErrorCode), _members(ComplaintErrorCode)
    assert "DOMAIN_RULE" in process
    assert used - process - complaint == set()
    # Complaint rules are the complaint domain's codes, not the process domain's.
    assert {"INVALID_HANDLER", "HANDLER_CONFLICT", "DEADLINE_TOO_LATE"} & process == set()
