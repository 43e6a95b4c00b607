"""The restricted evaluator for scripts and conditions written in diagrams (DESIGN: workflows).

Diagrams are uploaded by process owners through the API, so their Python must not reach the
server: no imports, no dunder names or attributes (the usual ways out of a sandbox), no function
or class definitions, and only a small allow-list of builtins. Checked once at deploy time (so a
bad diagram is refused with the element id) and again before every run.
"""

from __future__ import annotations

import ast
import builtins
import functools
from types import CodeType
from typing import Any, cast

ALLOWED_BUILTINS: dict[str, Any] = {
    name: getattr(builtins, name)
    for name in (
        "abs",
        "all",
        "any",
        "bool",
        "dict",
        "float",
        "int",
        "len",
        "list",
        "max",
        "min",
        "range",
        "round",
        "set",
        "sorted",
        "str",
        "sum",
        "tuple",
    )
}
_FORBIDDEN_NODES = (
    ast.Import,
    ast.ImportFrom,
    ast.Global,
    ast.Nonlocal,
    ast.FunctionDef,
    ast.AsyncFunctionDef,
    ast.ClassDef,
    ast.Lambda,
    ast.With,
    ast.AsyncWith,
    ast.Await,
    ast.Yield,
    ast.YieldFrom,
    ast.Try,
    ast.Raise,
    ast.Delete,
)
# str.format can walk attributes ("{0.__class__}"), so it is refused like a dunder.
_FORBIDDEN_ATTRIBUTES = {"format", "format_map", "mro"}
MAX_SOURCE = 4000


class SandboxError(ValueError):
    """A script or expression uses something the sandbox does not allow."""


def check(source: str, mode: str = "eval") -> None:
    """Raise :class:`SandboxError` when ``source`` is not allowed (or not valid Python)."""
    _compile(source, mode)


@functools.lru_cache(maxsize=2048)
def _compile(source: str, mode: str) -> CodeType:
    if len(source) > MAX_SOURCE:
        raise SandboxError(f"longer than {MAX_SOURCE} characters")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise SandboxError(f"not valid Python: {exc.msg}") from None
    for node in ast.walk(tree):
        if isinstance(node, _FORBIDDEN_NODES):
            raise SandboxError(f"'{type(node).__name__}' is not allowed in diagrams")
        if isinstance(node, ast.Name) and node.id.startswith("_"):
            raise SandboxError(f"the name '{node.id}' is not allowed")
        if isinstance(node, ast.Attribute) and (
            node.attr.startswith("_") or node.attr in _FORBIDDEN_ATTRIBUTES
        ):
            raise SandboxError(f"the attribute '{node.attr}' is not allowed")
        if isinstance(node, ast.Name) and node.id in {"eval", "exec", "open", "getattr"}:
            raise SandboxError(f"'{node.id}' is not allowed")
    return compile(cast(Any, tree), "<diagram>", mode)


def evaluate(expression: str, data: dict[str, Any]) -> Any:
    """The value of ``expression`` over the task data."""
    code = _compile(expression, "eval")
    # One namespace (not globals + locals), so comprehensions see the task data too.
    return eval(code, {**data, "__builtins__": ALLOWED_BUILTINS})  # sandboxed: see check()


def execute(script: str, data: dict[str, Any]) -> None:
    """Run ``script`` over the task data; new and changed plain values are kept in ``data``."""
    code = _compile(script, "exec")
    namespace: dict[str, Any] = {**data, "__builtins__": ALLOWED_BUILTINS}
    exec(code, namespace)  # sandboxed: see check()
    namespace.pop("__builtins__", None)
    data.clear()
    data.update({k: v for k, v in namespace.items() if not callable(v)})
