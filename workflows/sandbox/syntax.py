"""What may be written in a diagram: the allowed syntax, names, calls and format specs, checked
once per text (:func:`parse`)."""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Callable
from typing import Any

from workflows.sandbox.functions import FUNCTIONS
from workflows.sandbox.limits import LIMITS, MAX_SOURCE, MAX_SYNTAX_DEPTH, SandboxError, over

BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
    ast.Pow: operator.pow,
    ast.LShift: operator.lshift,
    ast.RShift: operator.rshift,
    ast.BitAnd: operator.and_,
    ast.BitOr: operator.or_,
    ast.BitXor: operator.xor,
}
UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
    ast.In: lambda a, b: a in b,
    ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_,
    ast.IsNot: operator.is_not,
}
COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
EXPRESSION_NODES: frozenset[type[ast.AST]] = frozenset(
    {
        ast.Expression,
        ast.Constant,
        ast.Name,
        ast.Load,
        ast.Store,
        ast.Subscript,
        ast.Slice,
        ast.Tuple,
        ast.List,
        ast.Dict,
        ast.Set,
        *COMPREHENSIONS,
        ast.comprehension,
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.BinOp,
        ast.UnaryOp,
        ast.Not,
        ast.Compare,
        ast.IfExp,
        ast.Call,
        ast.keyword,
        ast.JoinedStr,
        ast.FormattedValue,
        *BINARY,
        *UNARY,
        *COMPARE,
    }
)
SCRIPT_NODES = EXPRESSION_NODES | frozenset(
    {ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Pass, ast.Expr}
)
_CONSTANTS = (type(None), bool, int, float, str)
# A format spec without nesting: fill and align, sign, width and precision of two digits at most.
_FORMAT_SPEC = re.compile(r"(.?[<>=^])?[+\- ]?#?0?\d{0,2}[,_]?(\.\d{1,2})?[bdeEfFgGnosxX%]?")


@functools.lru_cache(maxsize=2048)
def parse(source: str, mode: str) -> ast.AST:
    if len(source) > MAX_SOURCE:
        raise SandboxError(f"longer than {MAX_SOURCE} characters")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise SandboxError(f"not valid Python: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SandboxError("not valid Python: nested too deeply") from None
    allowed = EXPRESSION_NODES if mode == "eval" else SCRIPT_NODES
    for node in ast.walk(tree):
        if type(node) not in allowed:
            raise SandboxError(f"'{type(node).__name__}' is not allowed in diagrams")
        _check_node(node)
    if _depth(tree) > MAX_SYNTAX_DEPTH:
        raise SandboxError(f"nested more than {MAX_SYNTAX_DEPTH} levels deep")
    return tree


def _check_node(node: ast.AST) -> None:
    """The rules beyond the node's type (names, calls, constants, targets, format specs)."""
    if isinstance(node, ast.Name) and node.id.startswith("_"):
        raise SandboxError(f"the name '{node.id}' is not allowed")
    elif isinstance(node, ast.Constant):
        if type(node.value) not in _CONSTANTS:
            raise SandboxError(f"constants of type {type(node.value).__name__} are not allowed")
        if type(node.value) is int and node.value.bit_length() > LIMITS.int_bits:
            over(LIMITS.int_bits, "bits in an integer")
    elif isinstance(node, ast.Call):
        _check_call(node)
    elif isinstance(node, ast.Dict) and any(key is None for key in node.keys):
        raise SandboxError("'**' is not allowed in diagrams")
    elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
        if isinstance(node.left, ast.JoinedStr) or (
            isinstance(node.left, ast.Constant) and isinstance(node.left.value, str)
        ):
            raise SandboxError("'%' formatting is not allowed (use an f-string)")
    elif isinstance(node, ast.FormattedValue):
        _check_format(node)
    elif isinstance(node, ast.comprehension):
        if node.is_async:
            raise SandboxError("'async' is not allowed in diagrams")
        _check_target(node.target, subscripts=False)
    elif isinstance(node, ast.Assign):
        for target in node.targets:
            _check_target(target, subscripts=True)
    elif isinstance(node, (ast.AugAssign, ast.For)):
        _check_target(node.target, subscripts=isinstance(node, ast.AugAssign))
        if isinstance(node, ast.For) and node.orelse:
            raise SandboxError("'for … else' is not allowed in diagrams")


def _check_call(node: ast.Call) -> None:
    name = node.func.id if isinstance(node.func, ast.Name) else None
    if name not in FUNCTIONS:
        shown = f"'{name}'" if name else "this call"
        raise SandboxError(
            f"{shown} is not allowed; the functions are " + ", ".join(sorted(FUNCTIONS))
        )
    keywords = FUNCTIONS[name].keywords
    for keyword in node.keywords:
        if keyword.arg is None or (keywords is not None and keyword.arg not in keywords):
            raise SandboxError(f"'{name}' takes no argument '{keyword.arg or '**'}'")


def _check_format(node: ast.FormattedValue) -> None:
    if node.conversion != -1:
        raise SandboxError("'!r', '!s' and '!a' are not allowed in f-strings")
    text = format_spec(node)
    if text is None or not _FORMAT_SPEC.fullmatch(text):
        raise SandboxError(
            "an f-string format spec may only hold alignment, sign, width and "
            "precision of up to two digits, and a type (no nested fields)"
        )


def format_spec(node: ast.FormattedValue) -> str | None:
    """The f-string field's format spec when it is plain text ("" when there is none)."""
    spec = node.format_spec
    if spec is None:
        return ""
    parts = spec.values if isinstance(spec, ast.JoinedStr) else []
    if len(parts) == 1 and isinstance(parts[0], ast.Constant) and type(parts[0].value) is str:
        return parts[0].value
    return None


def _check_target(target: ast.expr, *, subscripts: bool) -> None:
    if isinstance(target, (ast.Tuple, ast.List)):
        for element in target.elts:
            _check_target(element, subscripts=subscripts)
    elif isinstance(target, ast.Subscript) and subscripts:
        if isinstance(target.slice, ast.Slice):
            raise SandboxError("assigning to a slice is not allowed in diagrams")
    elif not isinstance(target, ast.Name):
        raise SandboxError("only names (and, in scripts, subscripts) can be assigned")


def _depth(tree: ast.AST) -> int:
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest
