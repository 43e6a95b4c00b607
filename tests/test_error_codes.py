"""Every error code a domain's logic can produce is a member of its ``<Domain>ErrorCode`` enum.

A code missing from the enum would turn a refused input into an INTERNAL error.
"""

from __future__ import annotations

import ast
from enum import Enum
from pathlib import Path

import pytest

from schema.customers import CustomerErrorCode
from schema.policy import PolicyErrorCode
from schema.sharing.enums import SharingErrorCode

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    ROOT / "resolvers" / "customers.py",
    ROOT / "resolvers" / "shared" / "validation.py",
    ROOT / "resolvers" / "shared" / "pagination.py",
    ROOT / "resolvers" / "shared" / "filters.py",
    ROOT / "core" / "ids.py",
    ROOT / "schema" / "customers.py",
]


def _codes(path: Path, functions: set[str] | None = None) -> set[str]:
    """String literals passed as the code of a FieldError, Problems.add, _fail or .one — in
    the whole file, or only inside the named top-level ``functions``."""
    tree = ast.parse(path.read_text())
    roots: list[ast.AST] = [tree]
    if functions is not None:
        roots = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name in functions]
        assert {n.name for n in roots} == functions, f"{path}: {functions} not all found"  # type: ignore[attr-defined]
    codes = set()
    for root in roots:
        for node in ast.walk(root):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if name in {"add", "fail", "_fail", "one", "FieldError"} and len(node.args) >= 2:
                code = node.args[1]
                if isinstance(code, ast.Constant) and isinstance(code.value, str):
                    codes.add(code.value)
    return codes


def test_all_codes_are_in_the_enum() -> None:
    used = set().union(*(_codes(path) for path in SOURCES))
    assert len(used) > 15  # the scan finds the codes
    members = {member.name for member in CustomerErrorCode}  # type: ignore[attr-defined]
    assert used - members == set()


def _python_files(*parts: str) -> list[Path]:
    path = ROOT.joinpath(*parts)
    return sorted(path.rglob("*.py")) if path.is_dir() else [path.with_suffix(".py")]


# Per domain: its enum, the files of its logic and schema, and the shared validators it calls
# (only those functions: the others' codes never reach it).
DOMAINS: dict[str, tuple[type[Enum], list[Path], dict[Path, set[str]]]] = {
    "sharing": (
        SharingErrorCode,
        _python_files("resolvers", "sharing") + _python_files("schema", "sharing"),
        {
            ROOT / "resolvers" / "shared" / "validation.py": {"mobile", "email", "text"},
            ROOT / "core" / "ids.py": {"pk_of"},
        },
    ),
    "policy": (
        PolicyErrorCode,
        _python_files("resolvers", "policy") + _python_files("schema", "policy"),
        {ROOT / "resolvers" / "shared" / "validation.py": {"employee_number"}},
    ),
}


@pytest.mark.parametrize("domain", sorted(DOMAINS))
def test_every_code_of_a_domain_is_in_its_enum(domain: str) -> None:
    enum, files, validators = DOMAINS[domain]
    used = set().union(*(_codes(path) for path in files))
    used |= set().union(*(_codes(path, names) for path, names in validators.items()))
    assert len(used) > 10  # the scan finds the codes
    assert used - {member.name for member in enum} == set()
