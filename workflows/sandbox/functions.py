"""The functions diagrams may call, each paying for the work it does."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from workflows.sandbox.limits import NUMBERS, SEQUENCES, over

if TYPE_CHECKING:
    from workflows.sandbox.interpreter import Run


@dataclass(frozen=True)
class Function:
    """A function diagrams may call: its implementation and the keywords it takes (None: any)."""

    call: Callable[..., Any]
    keywords: frozenset[str] | None = frozenset()


def _numbers(run: Run, values: Iterable[Any]) -> list[Any]:
    found = list(values)
    if any(type(value) not in NUMBERS for value in found):
        raise TypeError("expects numbers")
    return found


def _abs(run: Run, value: Any) -> Any:
    return abs(_numbers(run, [value])[0])


def _all(run: Run, iterable: Any) -> bool:
    return all(run.truth(item) for item in run.items(iterable))


def _any(run: Run, iterable: Any) -> bool:
    return any(run.truth(item) for item in run.items(iterable))


def _bool(run: Run, value: Any = False) -> bool:
    return run.truth(value)


def _dict(run: Run, pairs: Any = (), /, **entries: Any) -> dict[Any, Any]:
    items = list(dict.items(pairs)) if type(pairs) is dict else run.items(pairs)
    if any(type(item) not in (list, tuple) or len(item) != 2 for item in items):
        raise TypeError("dict() takes pairs of a key and a value")
    run.weigh([items, list(entries)])
    run.hashed([key for key, _value in items] + list(entries))
    result = dict(items, **entries)
    run.sized(len(result))
    return result


def _float(run: Run, value: Any = 0.0) -> float:
    if type(value) not in (*NUMBERS, str):
        raise TypeError(f"float() of a {type(value).__name__}")
    run.weigh(value)
    return float(value)


def _int(run: Run, value: Any = 0, base: Any = None) -> int:
    if type(value) is str:
        # Converting text to int takes time that grows faster than the text: refuse long text.
        digits = math.ceil(run.limits.int_bits * math.log10(2))
        if len(value) > digits + 64:
            over(run.limits.int_bits, "bits in an integer")
        return run.bits(int(value) if base is None else int(value, base))
    if type(value) not in NUMBERS or base is not None:
        raise TypeError(f"int() of a {type(value).__name__}")
    return run.bits(int(value))


def _len(run: Run, value: Any) -> int:
    if type(value) not in (*SEQUENCES, set, dict):
        raise TypeError(f"{type(value).__name__} values have no length")
    return len(value)


def _list(run: Run, iterable: Any = ()) -> list[Any]:
    return run.items(iterable)


def _tuple(run: Run, iterable: Any = ()) -> tuple[Any, ...]:
    return tuple(run.items(iterable))


def _set(run: Run, iterable: Any = ()) -> set[Any]:
    items = run.items(iterable)
    run.weigh(items)
    run.hashed(items)
    return set(items)


def _extreme(choose: Callable[..., Any]) -> Callable[..., Any]:
    def extreme(run: Run, *args: Any) -> Any:
        items = run.items(args[0]) if len(args) == 1 else list(args)
        run.weigh(items)
        return choose(items)

    return extreme


def _range(run: Run, *args: Any) -> list[int]:
    if any(type(arg) not in (int, bool) for arg in args):
        raise TypeError("range() takes integers")
    numbers = range(*args)
    run.sized(len(numbers))
    return list(numbers)


def _round(run: Run, value: Any, ndigits: Any = None) -> Any:
    _numbers(run, [value])
    if ndigits is None:
        return round(value)
    if type(ndigits) not in (int, bool):
        raise TypeError("round() takes an integer number of digits")
    # round(n, -k) computes 10 ** k: keep k within the digits of the largest integer allowed.
    if abs(ndigits) > math.ceil(run.limits.int_bits * math.log10(2)):
        over(run.limits.int_bits, "bits in an integer")
    return round(value, ndigits)


def _sorted(run: Run, iterable: Any, reverse: Any = False) -> list[Any]:
    items = run.items(iterable)
    run.weigh(items)
    run.charge(len(items) * max(1, len(items).bit_length()) // 10)
    return sorted(items, reverse=run.truth(reverse))


def _str(run: Run, value: Any = "") -> str:
    run.weigh(value)
    text = str(value)
    run.sized(len(text))
    return text


def _sum(run: Run, iterable: Any, start: Any = 0) -> Any:
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
