"""Every error code the domain logic can produce is a member of CustomerErrorCode (PLAT-1).

A code missing from the enum would turn a refused input into an INTERNAL error.
"""

from __future__ import annotations

import ast
from pathlib import Path

from schema.customers.enums import CustomerErrorCode

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [
    *(ROOT / "resolvers" / "customers").glob("*.py"),
    ROOT / "resolvers" / "notifications.py",
    *(
        ROOT / "resolvers" / "shared" / name
        for name in ("validation.py", "pagination.py", "filters.py")
    ),
    ROOT / "core" / "ids.py",
    *(ROOT / "schema" / "customers").glob("*.py"),
    ROOT / "schema" / "notifications.py",
]


def _codes(path: Path) -> set[str]:
    """String literals passed as the code of a FieldError, Problems.add, _fail or .one."""
    codes = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
        if name in {"add", "_fail", "one", "FieldError"} and len(node.args) >= 2:
            code = node.args[1]
            if isinstance(code, ast.Constant) and isinstance(code.value, str):
                codes.add(code.value)
    return codes


def test_all_codes_are_in_the_enum() -> None:
    used = set().union(*(_codes(path) for path in SOURCES))
    assert len(used) > 15  # the scan finds the codes
    members = {member.name for member in CustomerErrorCode}  # type: ignore[attr-defined]
    assert used - members == set()
