"""The evaluator for scripts and expressions written in diagrams (DESIGN: workflows).

Process owners upload diagrams through the API, so what their expressions may do is an
allow-list, and the text never reaches Python's ``eval``/``exec``: a small interpreter walks the
syntax tree. Expressions hold names (process variables), constants, subscripts and slices,
arithmetic, comparisons, ``and``/``or``/``not``, conditional expressions, list/tuple/dict/set
literals, comprehensions, f-strings with a plain format spec, and calls of the functions in
:data:`FUNCTIONS`. Scripts add assignments, ``if`` and ``for``. There is no attribute access, no
``:=``, no lambda, import, function or class: the usual ways out of a Python sandbox (frames of
generators, ``__subclasses__``, ``str.format`` walking attributes) have nothing to start from.

Every evaluation also has a budget (:class:`Limits`): steps, wall-clock seconds, integer bits and
the length of strings and collections. Sizes are checked *before* Python builds a value (``'a' *
n``, ``2 ** n``, ``range(n)``, ``int(text)``), and operations whose cost grows with the depth of a
value (comparing, hashing, ``str``, storing) first pay for walking it, so no single call runs long
while holding the interpreter. :func:`check` refuses what is not allowed, and costs that the text
alone shows (``sum(range(10**10))``), at deploy; the rest stops at run time with
:class:`ExpressionLimit`.
"""

from __future__ import annotations

import ast
import functools
import math
import operator
import re
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, NoReturn


@dataclass(frozen=True)
class Limits:
    """What one evaluation of an expression or script may cost."""

    steps: int = 100_000  # syntax nodes evaluated, loop rounds, and bulk work (1 per 10 items)
    seconds: float = 1.0  # wall clock, checked at every step
    int_bits: int = 4096  # about 1,233 decimal digits
    length: int = 100_000  # characters of a string, items of a collection, weight of a value
    nesting: int = 100  # levels of lists in lists (Python hashes and compares them recursively)


LIMITS = Limits()
MAX_SOURCE = 4000
MAX_SYNTAX_DEPTH = 100  # the interpreter recurses once per level of the syntax tree


class SandboxError(ValueError):
    """A script or expression uses something the sandbox does not allow."""


class ExpressionLimit(SandboxError):
    """An expression or script needs more than its :class:`Limits` allow."""


def _over(limit: float, what: str) -> NoReturn:
    raise ExpressionLimit(f"over the sandbox limit of {limit} {what}")


# --- what may be written --------------------------------------------------------------------------

_BINARY: dict[type[ast.operator], Callable[[Any, Any], Any]] = {
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
_UNARY: dict[type[ast.unaryop], Callable[[Any], Any]] = {
    ast.USub: operator.neg,
    ast.UAdd: operator.pos,
    ast.Invert: operator.invert,
}
_COMPARE: dict[type[ast.cmpop], Callable[[Any, Any], Any]] = {
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
_COMPREHENSIONS = (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)
_EXPRESSION_NODES: frozenset[type[ast.AST]] = frozenset(
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
        *_COMPREHENSIONS,
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
        *_BINARY,
        *_UNARY,
        *_COMPARE,
    }
)
_SCRIPT_NODES = _EXPRESSION_NODES | frozenset(
    {ast.Module, ast.Assign, ast.AugAssign, ast.If, ast.For, ast.Pass, ast.Expr}
)
_CONSTANTS = (type(None), bool, int, float, str)
# A format spec without nesting: fill and align, sign, width and precision of two digits at most.
_FORMAT_SPEC = re.compile(r"(.?[<>=^])?[+\- ]?#?0?\d{0,2}[,_]?(\.\d{1,2})?[bdeEfFgGnosxX%]?")


class Budget:
    """Steps and time left: one per evaluation, or one for all the expressions of a deploy."""

    def __init__(self, limits: Limits = LIMITS) -> None:
        self.limits = limits
        self.steps = 0
        self.deadline = time.monotonic() + limits.seconds

    def charge(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > self.limits.steps:
            _over(self.limits.steps, "evaluation steps")
        if time.monotonic() > self.deadline:
            _over(self.limits.seconds, "seconds")


def check(source: str, mode: str = "eval", budget: Budget | None = None) -> None:
    """Raise :class:`SandboxError` when ``source`` is not allowed (or not valid Python).

    Beyond the syntax, every part of the text that depends on no process variable is evaluated
    once under the limits, so a cost visible in the text is refused here, with
    :class:`ExpressionLimit`, rather than when an instance runs. A deploy passes one ``budget``
    for all the expressions of a diagram, so many of them cannot add up to a long deploy.
    """
    tree = _parse(source, mode)
    _fold(tree, _Run({}, LIMITS, budget))


@functools.lru_cache(maxsize=2048)
def _parse(source: str, mode: str) -> ast.AST:
    if len(source) > MAX_SOURCE:
        raise SandboxError(f"longer than {MAX_SOURCE} characters")
    try:
        tree = ast.parse(source.strip() if mode == "eval" else source, mode=mode)
    except SyntaxError as exc:
        raise SandboxError(f"not valid Python: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise SandboxError("not valid Python: nested too deeply") from None
    allowed = _EXPRESSION_NODES if mode == "eval" else _SCRIPT_NODES
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
            _over(LIMITS.int_bits, "bits in an integer")
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
    text = _format_spec(node)
    if text is None or not _FORMAT_SPEC.fullmatch(text):
        raise SandboxError(
            "an f-string format spec may only hold alignment, sign, width and "
            "precision of up to two digits, and a type (no nested fields)"
        )


def _format_spec(node: ast.FormattedValue) -> str | None:
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


def _fold(node: ast.AST, run: _Run) -> None:
    """Evaluate each largest part of ``node`` that reads no process variable (deploy-time cost)."""
    if (
        isinstance(node, ast.expr)
        and not isinstance(node, (ast.Constant, ast.Name, ast.FormattedValue, ast.Slice))
        and not isinstance(getattr(node, "ctx", None), ast.Store)
        and not _free_names(node)
    ):
        try:
            run.eval(node)
        except SandboxError:
            raise
        except Exception:  # an error of the expression itself (1/0): runs report it
            pass
        return
    for child in ast.iter_child_nodes(node):
        _fold(child, run)


def _free_names(node: ast.AST) -> set[str]:
    """The variables ``node`` reads (not the functions it calls, not comprehension variables)."""
    if isinstance(node, ast.Name):
        return {node.id} if isinstance(node.ctx, ast.Load) else set()
    if isinstance(node, ast.Call):
        parts = [*node.args, *(k.value for k in node.keywords)]
        return set().union(*(_free_names(part) for part in parts))
    if isinstance(node, _COMPREHENSIONS):
        free: set[str] = set()
        bound: set[str] = set()
        for generator in node.generators:
            free |= _free_names(generator.iter) - bound
            bound |= {n.id for n in ast.walk(generator.target) if isinstance(n, ast.Name)}
            for condition in generator.ifs:
                free |= _free_names(condition) - bound
        results = [node.key, node.value] if isinstance(node, ast.DictComp) else [node.elt]
        for result in results:
            free |= _free_names(result) - bound
        return free
    return set().union(*(_free_names(child) for child in ast.iter_child_nodes(node)))


# --- running --------------------------------------------------------------------------------------

_NUMBERS = (bool, int, float)
_SEQUENCES = (str, list, tuple)
_CONTAINERS = (list, tuple, set, dict)
_PLAIN = (type(None), *_NUMBERS, str, *_CONTAINERS)


def evaluate(expression: str, data: dict[str, Any], limits: Limits = LIMITS) -> Any:
    """The value of ``expression`` over the task data."""
    tree = _parse(expression, "eval")
    assert isinstance(tree, ast.Expression)
    run = _Run(dict(data), limits)
    value = run.eval(tree.body)
    run.weigh(value, strict=False)  # what leaves the sandbox can be stored and sent
    return value


def execute(script: str, data: dict[str, Any], limits: Limits = LIMITS) -> None:
    """Run ``script`` over the task data; new and changed values are kept in ``data``.

    Variables are set in ``data`` only when the whole script has run within its limits.
    """
    tree = _parse(script, "exec")
    assert isinstance(tree, ast.Module)
    namespace = dict(data)
    run = _Run(namespace, limits)
    for statement in tree.body:
        run.execute(statement)
    for value in namespace.values():
        run.weigh(value, strict=False)  # the task data must stay storable (no cycles, no blow-up)
        _storable(value)
    data.clear()
    data.update(namespace)


_KEYS = (type(None), bool, int, float, str)


def _storable(value: Any) -> None:
    """Refuse what the task data cannot keep: it is stored as JSON (sets, keys of other types).

    Called after :meth:`_Run.weigh`, which bounds the walk.
    """
    stack = [value]
    while stack:
        item = stack.pop()
        if type(item) is set:
            raise SandboxError("a set cannot be kept in a process variable (use a list)")
        if type(item) is dict:
            if any(type(key) not in _KEYS for key in item):
                raise SandboxError(
                    "the keys of a dict kept in a process variable must be text or numbers"
                )
            stack.extend(item.values())
        elif type(item) in (list, tuple):
            stack.extend(item)


class _Run:
    """One evaluation: its variables (innermost comprehension scope last) and its budget."""

    def __init__(
        self, variables: dict[str, Any], limits: Limits, budget: Budget | None = None
    ) -> None:
        self.scopes = [variables]
        self.limits = limits
        self.charge = (budget or Budget(limits)).charge

    def sized(self, length: int) -> None:
        """Pay for building a string or collection of ``length``; refuse it beyond the limit."""
        if length > self.limits.length:
            _over(self.limits.length, "characters or items in a value")
        self.charge(length // 10 + 1)

    def bits(self, value: Any) -> Any:
        if type(value) is int and value.bit_length() > self.limits.int_bits:
            _over(self.limits.int_bits, "bits in an integer")
        return value

    def weigh(self, value: Any, *, strict: bool = True) -> int:
        """Pay for walking ``value`` (characters, items, integer size) and return its weight.

        Shared and nested references count every time they are reached, as comparing, hashing,
        printing or storing the value would; a cycle never ends and so exceeds the limit. With
        ``strict``, only plain values (None, numbers, strings, lists, tuples, dicts, sets) pass.
        """
        limit = self.limits.length
        weight, stack = 0, [(value, 0)]
        while stack:
            item, depth = stack.pop()
            kind = type(item)
            if kind is str:
                weight += max(1, len(item))
            elif kind is int:
                weight += 1 + item.bit_length() // 32
            elif kind in _CONTAINERS:
                if weight + len(item) > limit:
                    break
                if depth >= self.limits.nesting:
                    _over(self.limits.nesting, "levels of nesting in a value")
                if kind in (set, dict):
                    self.hashed(item)  # comparing two of them looks each member up
                stack.extend((part, depth + 1) for part in (item.items() if kind is dict else item))
                weight += 1
            elif kind in _PLAIN or not strict:
                weight += 1
            else:
                raise SandboxError(f"values of type {kind.__name__} are not supported here")
            if weight > limit:
                break
        else:
            self.charge(weight // 10 + 1)
            return weight
        _over(limit, "characters or items in a value")

    def hashed(self, keys: Iterable[Any]) -> None:
        """Pay for putting ``keys`` (already weighed) into one set or dict, collisions included.

        Keys with equal hashes are compared with each other, one by one, inside a single call
        that holds the interpreter: ``{i * (2**61 - 1) for i in range(30000)}`` (every hash 0)
        takes seconds. Each pair of keys sharing a hash costs what comparing them costs.
        """
        shared = Counter(hash(key) for key in keys)
        self.charge(sum(count * (count - 1) // 2 for count in shared.values()) // 10)

    def items(self, value: Any) -> list[Any]:
        """The items of an iterable value (a dict's keys), paid for."""
        if type(value) not in (*_SEQUENCES, set, dict):
            raise SandboxError(f"{type(value).__name__} values cannot be iterated here")
        self.charge(len(value) // 10 + 1)
        return list(value)

    def truth(self, value: Any) -> bool:
        if type(value) not in _PLAIN:
            raise SandboxError(f"values of type {type(value).__name__} are not supported here")
        return bool(value)

    # -- expressions

    def eval(self, node: ast.AST) -> Any:
        self.charge()
        method: Callable[[_Run, Any], Any] = _EVALUATORS[type(node)]
        return method(self, node)

    def _constant(self, node: ast.Constant) -> Any:
        return node.value

    def _name(self, node: ast.Name) -> Any:
        for scope in reversed(self.scopes):
            if node.id in scope:
                return scope[node.id]
        raise NameError(f"name '{node.id}' is not defined")

    def _subscript(self, node: ast.Subscript) -> Any:
        container = self.eval(node.value)
        if isinstance(node.slice, ast.Slice):
            if type(container) not in _SEQUENCES:
                raise SandboxError(f"{type(container).__name__} values cannot be sliced")
            bounds = [
                None if part is None else self.eval(part)
                for part in (node.slice.lower, node.slice.upper, node.slice.step)
            ]
            if any(bound is not None and type(bound) not in (int, bool) for bound in bounds):
                raise TypeError("slice indices must be integers or None")
            self.charge(len(container) // 10 + 1)
            return container[slice(*bounds)]
        return self.index(container, self.eval(node.slice))

    def index(self, container: Any, key: Any) -> Any:
        if type(container) is dict:
            self.weigh(key)
            return container[key]
        if type(container) in _SEQUENCES:
            if type(key) not in (int, bool):
                raise TypeError("indices must be integers")
            return container[key]
        raise SandboxError(f"{type(container).__name__} values cannot be subscripted")

    def _tuple(self, node: ast.Tuple) -> tuple[Any, ...]:
        return tuple(self.eval(element) for element in node.elts)

    def _list(self, node: ast.List) -> list[Any]:
        return [self.eval(element) for element in node.elts]

    def _set(self, node: ast.Set) -> set[Any]:
        elements = [self.eval(element) for element in node.elts]
        self.weigh(elements)
        self.hashed(elements)
        return set(elements)

    def _dict(self, node: ast.Dict) -> dict[Any, Any]:
        keys = [self.eval(key) for key in node.keys if key is not None]
        self.weigh(keys)
        self.hashed(keys)
        return dict(zip(keys, [self.eval(value) for value in node.values], strict=True))

    def _bool_op(self, node: ast.BoolOp) -> Any:
        value: Any = None
        for operand in node.values:
            value = self.eval(operand)
            if self.truth(value) is isinstance(node.op, ast.Or):
                return value
        return value

    def _unary(self, node: ast.UnaryOp) -> Any:
        value = self.eval(node.operand)
        if isinstance(node.op, ast.Not):
            return not self.truth(value)
        if type(value) not in _NUMBERS:
            raise SandboxError(f"unary operators apply to numbers, not to {type(value).__name__}")
        return self.bits(_UNARY[type(node.op)](value))

    def _binary(self, node: ast.BinOp) -> Any:
        return self.binary(node.op, self.eval(node.left), self.eval(node.right))

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        kind, left_type, right_type = type(op), type(left), type(right)
        if left_type in _NUMBERS and right_type in _NUMBERS:
            self.number_cost(kind, left, right)
            result = _BINARY[kind](left, right)
            if type(result) is complex:  # (-8.0) ** 0.5
                raise ValueError("the result is not a real number")
            return self.bits(result)
        if kind is ast.Add and left_type is right_type and left_type in _SEQUENCES:
            self.sized(len(left) + len(right))
            return left + right
        if kind is ast.Mult and {left_type, right_type} & {int, bool}:
            sequence, times = (left, right) if right_type in (int, bool) else (right, left)
            if type(sequence) in _SEQUENCES:
                self.sized(len(sequence) * max(times, 0))
                return sequence * times
        if left_type is right_type and (
            (left_type is set and kind in (ast.BitOr, ast.BitAnd, ast.BitXor, ast.Sub))
            or (left_type is dict and kind is ast.BitOr)
        ):
            self.sized(len(left) + len(right))
            self.weigh([left, right])
            self.hashed([*left, *right])
            return _BINARY[kind](left, right)
        raise SandboxError(
            f"'{type(op).__name__}' does not apply to {left_type.__name__} and "
            f"{right_type.__name__} in diagrams"
        )

    def number_cost(self, kind: type[ast.operator], left: Any, right: Any) -> None:
        """Refuse integer results beyond the bit limit before Python computes them."""
        if float in (type(left), type(right)):
            return  # floats have a fixed size (and raise OverflowError themselves)
        limit = self.limits.int_bits
        if kind is ast.Pow and right > 1 and abs(left) > 1:
            # |left| ** right has about right * log2|left| bits (exactly checked afterwards).
            too_big = right > limit + 1 or right * math.log2(abs(left)) > limit + 1
        elif kind is ast.Mult:
            too_big = left.bit_length() + right.bit_length() > limit + 1
        elif kind is ast.LShift:
            too_big = bool(left) and right > 0 and left.bit_length() + right > limit
        else:
            too_big = False  # the other operators never grow an integer by more than a bit
        if too_big:
            _over(limit, "bits in an integer")

    def _compare(self, node: ast.Compare) -> Any:
        left = self.eval(node.left)
        result: Any = True
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self.eval(comparator)
            result = self.compare(op, left, right)
            if not result:
                return result
            left = right
        return result

    def compare(self, op: ast.cmpop, left: Any, right: Any) -> Any:
        kind = type(op)
        if kind not in (ast.Is, ast.IsNot):
            # Comparing walks both values; a membership test in a dict or set hashes one.
            self.weigh(left)
            if kind in (ast.In, ast.NotIn) and type(right) not in (*_SEQUENCES, set, dict):
                raise SandboxError(f"'in' needs a string or collection, not {type(right).__name__}")
            if not (kind in (ast.In, ast.NotIn) and type(right) in (set, dict)):
                self.weigh(right)
        return _COMPARE[kind](left, right)

    def _if_exp(self, node: ast.IfExp) -> Any:
        return self.eval(node.body if self.truth(self.eval(node.test)) else node.orelse)

    def _call(self, node: ast.Call) -> Any:
        assert isinstance(node.func, ast.Name)
        function = FUNCTIONS[node.func.id]
        args = [self.eval(argument) for argument in node.args]
        kwargs = {k.arg: self.eval(k.value) for k in node.keywords if k.arg is not None}
        return function.call(self, *args, **kwargs)

    def _joined_str(self, node: ast.JoinedStr) -> str:
        parts = [self.eval(value) for value in node.values]
        self.sized(sum(len(part) for part in parts))
        return "".join(parts)

    def _formatted_value(self, node: ast.FormattedValue) -> str:
        value = self.eval(node.value)
        self.weigh(value)
        formatted = format(value, _format_spec(node) or "")
        self.sized(len(formatted))
        return formatted

    def _comprehension(self, node: Any) -> Any:
        produced: list[Any] = []
        self.scopes.append({})
        try:
            self._generate(node, node.generators, produced)
        finally:
            self.scopes.pop()
        if isinstance(node, ast.SetComp):
            self.weigh(produced)
            self.hashed(produced)
            return set(produced)
        if isinstance(node, ast.DictComp):
            keys = [key for key, _value in produced]
            self.weigh(keys)
            self.hashed(keys)
            return dict(produced)
        return produced  # a generator expression is evaluated at once, as a list

    def _generate(self, node: Any, generators: list[ast.comprehension], out: list[Any]) -> None:
        first, rest = generators[0], generators[1:]
        for item in self.items(self.eval(first.iter)):
            self.charge()
            self.assign(first.target, item)
            if not all(self.truth(self.eval(condition)) for condition in first.ifs):
                continue
            if rest:
                self._generate(node, rest, out)
                continue
            if isinstance(node, ast.DictComp):
                out.append((self.eval(node.key), self.eval(node.value)))
            else:
                out.append(self.eval(node.elt))
            if len(out) > self.limits.length:
                _over(self.limits.length, "characters or items in a value")

    # -- statements (scripts)

    def execute(self, node: ast.stmt) -> None:
        self.charge()
        if isinstance(node, ast.Assign):
            value = self.eval(node.value)
            for target in node.targets:
                self.assign(target, value)
        elif isinstance(node, ast.AugAssign):
            current = self.eval(node.target)  # (names and subscripts read whatever their ctx)
            self.assign(node.target, self.binary(node.op, current, self.eval(node.value)))
        elif isinstance(node, ast.If):
            for statement in node.body if self.truth(self.eval(node.test)) else node.orelse:
                self.execute(statement)
        elif isinstance(node, ast.For):
            for item in self.items(self.eval(node.iter)):
                self.charge()
                self.assign(node.target, item)
                for statement in node.body:
                    self.execute(statement)
        elif isinstance(node, ast.Expr):
            self.eval(node.value)

    def assign(self, target: ast.expr, value: Any) -> None:
        if isinstance(target, ast.Name):
            self.scopes[-1][target.id] = value
        elif isinstance(target, (ast.Tuple, ast.List)):
            values = self.items(value)
            if len(values) != len(target.elts):
                raise ValueError(f"expected {len(target.elts)} values to unpack, got {len(values)}")
            for element, item in zip(target.elts, values, strict=True):
                self.assign(element, item)
        elif isinstance(target, ast.Subscript):
            container, key = self.eval(target.value), self.eval(target.slice)
            if type(container) is dict:
                self.weigh(key)
            elif type(container) is not list or type(key) not in (int, bool):
                raise SandboxError("only list items and dict entries can be assigned")
            container[key] = value


_EVALUATORS: dict[type[ast.AST], Callable[[_Run, Any], Any]] = {
    ast.Constant: _Run._constant,
    ast.Name: _Run._name,
    ast.Subscript: _Run._subscript,
    ast.Tuple: _Run._tuple,
    ast.List: _Run._list,
    ast.Set: _Run._set,
    ast.Dict: _Run._dict,
    ast.BoolOp: _Run._bool_op,
    ast.UnaryOp: _Run._unary,
    ast.BinOp: _Run._binary,
    ast.Compare: _Run._compare,
    ast.IfExp: _Run._if_exp,
    ast.Call: _Run._call,
    ast.JoinedStr: _Run._joined_str,
    ast.FormattedValue: _Run._formatted_value,
    **{kind: _Run._comprehension for kind in _COMPREHENSIONS},
}


# --- the functions diagrams may call --------------------------------------------------------------


@dataclass(frozen=True)
class Function:
    """A function diagrams may call: its implementation and the keywords it takes (None: any)."""

    call: Callable[..., Any]
    keywords: frozenset[str] | None = frozenset()


def _numbers(run: _Run, values: Iterable[Any]) -> list[Any]:
    found = list(values)
    if any(type(value) not in _NUMBERS for value in found):
        raise TypeError("expects numbers")
    return found


def _abs(run: _Run, value: Any) -> Any:
    return abs(_numbers(run, [value])[0])


def _all(run: _Run, iterable: Any) -> bool:
    return all(run.truth(item) for item in run.items(iterable))


def _any(run: _Run, iterable: Any) -> bool:
    return any(run.truth(item) for item in run.items(iterable))


def _bool(run: _Run, value: Any = False) -> bool:
    return run.truth(value)


def _dict(run: _Run, pairs: Any = (), /, **entries: Any) -> dict[Any, Any]:
    items = list(dict.items(pairs)) if type(pairs) is dict else run.items(pairs)
    if any(type(item) not in (list, tuple) or len(item) != 2 for item in items):
        raise TypeError("dict() takes pairs of a key and a value")
    run.weigh([items, list(entries)])
    run.hashed([key for key, _value in items] + list(entries))
    result = dict(items, **entries)
    run.sized(len(result))
    return result


def _float(run: _Run, value: Any = 0.0) -> float:
    if type(value) not in (*_NUMBERS, str):
        raise TypeError(f"float() of a {type(value).__name__}")
    run.weigh(value)
    return float(value)


def _int(run: _Run, value: Any = 0, base: Any = None) -> int:
    if type(value) is str:
        # Converting text to int takes time that grows faster than the text: refuse long text.
        digits = math.ceil(run.limits.int_bits * math.log10(2))
        if len(value) > digits + 64:
            _over(run.limits.int_bits, "bits in an integer")
        return run.bits(int(value) if base is None else int(value, base))
    if type(value) not in _NUMBERS or base is not None:
        raise TypeError(f"int() of a {type(value).__name__}")
    return run.bits(int(value))


def _len(run: _Run, value: Any) -> int:
    if type(value) not in (*_SEQUENCES, set, dict):
        raise TypeError(f"{type(value).__name__} values have no length")
    return len(value)


def _list(run: _Run, iterable: Any = ()) -> list[Any]:
    return run.items(iterable)


def _tuple(run: _Run, iterable: Any = ()) -> tuple[Any, ...]:
    return tuple(run.items(iterable))


def _set(run: _Run, iterable: Any = ()) -> set[Any]:
    items = run.items(iterable)
    run.weigh(items)
    run.hashed(items)
    return set(items)


def _extreme(choose: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(run: _Run, *args: Any) -> Any:
        items = run.items(args[0]) if len(args) == 1 else list(args)
        run.weigh(items)
        return choose(items)

    return extreme


def _range(run: _Run, *args: Any) -> list[int]:
    if any(type(arg) not in (int, bool) for arg in args):
        raise TypeError("range() takes integers")
    numbers = range(*args)
    run.sized(len(numbers))
    return list(numbers)


def _round(run: _Run, value: Any, ndigits: Any = None) -> Any:
    _numbers(run, [value])
    if ndigits is None:
        return round(value)
    if type(ndigits) not in (int, bool):
        raise TypeError("round() takes an integer number of digits")
    # round(n, -k) computes 10 ** k: keep k within the digits of the largest integer allowed.
    if abs(ndigits) > math.ceil(run.limits.int_bits * math.log10(2)):
        _over(run.limits.int_bits, "bits in an integer")
    return round(value, ndigits)


def _sorted(run: _Run, iterable: Any, reverse: Any = False) -> list[Any]:
    items = run.items(iterable)
    run.weigh(items)
    run.charge(len(items) * max(1, len(items).bit_length()) // 10)
    return sorted(items, reverse=run.truth(reverse))


def _str(run: _Run, value: Any = "") -> str:
    run.weigh(value)
    text = str(value)
    run.sized(len(text))
    return text


def _sum(run: _Run, iterable: Any, start: Any = 0) -> Any:
    return run.bits(sum(_numbers(run, run.items(iterable)), _numbers(run, [start])[0]))


FUNCTIONS: dict[str, Function] = {
    "abs": Function(_abs),
    "all": Function(_all),
    "any": Function(_any),
    "bool": Function(_bool),
    "dict": Function(_dict, keywords=None),
    "float": Function(_float),
    "int": Function(_int),
    "len": Function(_len),
    "list": Function(_list),
    "max": Function(_extreme(max)),
    "min": Function(_extreme(min)),
    "range": Function(_range),
    "round": Function(_round, keywords=frozenset({"ndigits"})),
    "set": Function(_set),
    "sorted": Function(_sorted, keywords=frozenset({"reverse"})),
    "str": Function(_str),
    "sum": Function(_sum),
    "tuple": Function(_tuple),
}
