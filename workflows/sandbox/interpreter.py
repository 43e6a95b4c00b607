"""The interpreter: it walks the syntax tree of an allowed text, paying for each step and for
the size of every value it builds."""

from __future__ import annotations

import ast
import math
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from workflows.sandbox.functions import FUNCTIONS
from workflows.sandbox.limits import (
    CONTAINERS,
    LIMITS,
    NUMBERS,
    PLAIN,
    SEQUENCES,
    Budget,
    Limits,
    SandboxError,
    over,
)
from workflows.sandbox.syntax import (
    BINARY,
    COMPARE,
    COMPREHENSIONS,
    UNARY,
    format_spec,
    parse,
)


def evaluate(expression: str, data: dict[str, Any], limits: Limits = LIMITS) -> Any:
    """The value of ``expression`` over the task data."""
    tree = parse(expression, "eval")
    assert isinstance(tree, ast.Expression)
    run = Run(dict(data), limits)
    value = run.eval(tree.body)
    run.weigh(value, strict=False)  # what leaves the sandbox can be stored and sent
    return value


def execute(script: str, data: dict[str, Any], limits: Limits = LIMITS) -> None:
    """Run ``script`` over the task data; new and changed values are kept in ``data``.

    Variables are set in ``data`` only when the whole script has run within its limits.
    """
    tree = parse(script, "exec")
    assert isinstance(tree, ast.Module)
    namespace = dict(data)
    run = Run(namespace, limits)
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

    Called after :meth:`Run.weigh`, which bounds the walk.
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


class Run:
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
            over(self.limits.length, "characters or items in a value")
        self.charge(length // 10 + 1)

    def bits(self, value: Any) -> Any:
        if type(value) is int and value.bit_length() > self.limits.int_bits:
            over(self.limits.int_bits, "bits in an integer")
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
            elif kind in CONTAINERS:
                if weight + len(item) > limit:
                    break
                if depth >= self.limits.nesting:
                    over(self.limits.nesting, "levels of nesting in a value")
                if kind in (set, dict):
                    self.hashed(item)  # comparing two of them looks each member up
                stack.extend((part, depth + 1) for part in (item.items() if kind is dict else item))
                weight += 1
            elif kind in PLAIN or not strict:
                weight += 1
            else:
                raise SandboxError(f"values of type {kind.__name__} are not supported here")
            if weight > limit:
                break
        else:
            self.charge(weight // 10 + 1)
            return weight
        over(limit, "characters or items in a value")

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
        if type(value) not in (*SEQUENCES, set, dict):
            raise SandboxError(f"{type(value).__name__} values cannot be iterated here")
        self.charge(len(value) // 10 + 1)
        return list(value)

    def truth(self, value: Any) -> bool:
        if type(value) not in PLAIN:
            raise SandboxError(f"values of type {type(value).__name__} are not supported here")
        return bool(value)

    # -- expressions

    def eval(self, node: ast.AST) -> Any:
        self.charge()
        method: Callable[[Run, Any], Any] = _EVALUATORS[type(node)]
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
            if type(container) not in SEQUENCES:
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
        if type(container) in SEQUENCES:
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
        if type(value) not in NUMBERS:
            raise SandboxError(f"unary operators apply to numbers, not to {type(value).__name__}")
        return self.bits(UNARY[type(node.op)](value))

    def _binary(self, node: ast.BinOp) -> Any:
        return self.binary(node.op, self.eval(node.left), self.eval(node.right))

    def binary(self, op: ast.operator, left: Any, right: Any) -> Any:
        kind, left_type, right_type = type(op), type(left), type(right)
        if left_type in NUMBERS and right_type in NUMBERS:
            self.number_cost(kind, left, right)
            result = BINARY[kind](left, right)
            if type(result) is complex:  # (-8.0) ** 0.5
                raise ValueError("the result is not a real number")
            return self.bits(result)
        if kind is ast.Add and left_type is right_type and left_type in SEQUENCES:
            self.sized(len(left) + len(right))
            return left + right
        if kind is ast.Mult and {left_type, right_type} & {int, bool}:
            sequence, times = (left, right) if right_type in (int, bool) else (right, left)
            if type(sequence) in SEQUENCES:
                self.sized(len(sequence) * max(times, 0))
                return sequence * times
        if left_type is right_type and (
            (left_type is set and kind in (ast.BitOr, ast.BitAnd, ast.BitXor, ast.Sub))
            or (left_type is dict and kind is ast.BitOr)
        ):
            self.sized(len(left) + len(right))
            self.weigh([left, right])
            self.hashed([*left, *right])
            return BINARY[kind](left, right)
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
            over(limit, "bits in an integer")

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
            if kind in (ast.In, ast.NotIn) and type(right) not in (*SEQUENCES, set, dict):
                raise SandboxError(f"'in' needs a string or collection, not {type(right).__name__}")
            if not (kind in (ast.In, ast.NotIn) and type(right) in (set, dict)):
                self.weigh(right)
        return COMPARE[kind](left, right)

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
        formatted = format(value, format_spec(node) or "")
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
                over(self.limits.length, "characters or items in a value")

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


_EVALUATORS: dict[type[ast.AST], Callable[[Run, Any], Any]] = {
    ast.Constant: Run._constant,
    ast.Name: Run._name,
    ast.Subscript: Run._subscript,
    ast.Tuple: Run._tuple,
    ast.List: Run._list,
    ast.Set: Run._set,
    ast.Dict: Run._dict,
    ast.BoolOp: Run._bool_op,
    ast.UnaryOp: Run._unary,
    ast.BinOp: Run._binary,
    ast.Compare: Run._compare,
    ast.IfExp: Run._if_exp,
    ast.Call: Run._call,
    ast.JoinedStr: Run._joined_str,
    ast.FormattedValue: Run._formatted_value,
    **{kind: Run._comprehension for kind in COMPREHENSIONS},
}
