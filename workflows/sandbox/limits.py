"""What one evaluation may cost (:class:`Limits`), the budget that counts it, and the errors
of the sandbox."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import NoReturn


@dataclass(frozen=True)
class Limits:
    """What one evaluation of an expression or script may cost."""

    steps: int = 100_000  # syntax nodes evaluated, loop rounds, and bulk work (1 per 10 items)
    seconds: float = 1.0  # CPU time of the evaluating thread, checked at every step
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


def over(limit: float, what: str) -> NoReturn:
    raise ExpressionLimit(f"over the sandbox limit of {limit} {what}")


class Budget:
    """Steps and time left: one per evaluation, or one for all the expressions of a deploy."""

    def __init__(self, limits: Limits = LIMITS) -> None:
        self.limits = limits
        self.steps = 0
        # The thread's CPU time, not the wall clock: a machine busy with other work must not
        # make a diagram's expression look costlier than it is (nothing in the sandbox waits).
        self.deadline = time.thread_time() + limits.seconds

    def charge(self, steps: int = 1) -> None:
        self.steps += steps
        if self.steps > self.limits.steps:
            over(self.limits.steps, "evaluation steps")
        if time.thread_time() > self.deadline:
            over(self.limits.seconds, "seconds")


# Kinds of values the interpreter and its functions handle.
NUMBERS = (bool, int, float)
SEQUENCES = (str, list, tuple)
CONTAINERS = (list, tuple, set, dict)
PLAIN = (type(None), *NUMBERS, str, *CONTAINERS)
