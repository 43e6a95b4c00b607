"""The registry of named operations that service tasks in diagrams may call.

A diagram names an operation (``spiffworkflow:serviceTaskOperator id="compute_deadlines"``). Each
domain lists the Python behind its names in an :class:`OperationSet`; the composition root
installs every domain's set in one place (``kehu.wiring``). Deploying a diagram that names an
unknown operation is refused, so process owners can only wire up what exists.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from store.staff import Staff
from store.workflows import ProcessInstance


@dataclass
class OperationCall:
    """What an operation gets: the unit of work, the instance, who acted, the task and params."""

    session: Session
    instance: ProcessInstance
    actor: Staff | None
    data: dict[str, Any]
    element_id: str
    params: dict[str, Any] = field(default_factory=dict)


Operation = Callable[[OperationCall], dict[str, Any]]
# ``session.info`` key: when a list is there, the names of the operations called are appended
# (the timers worker names a timer step's audit entry after them).
CALLED = "workflow_operations_called"
_REGISTRY: dict[str, tuple[Operation, str]] = {}


@dataclass(frozen=True)
class ServiceOperation:
    name: str
    description: str
    function: Operation


class OperationSet:
    """A domain's service operations, collected by decorating them; installed by ``install``."""

    def __init__(self) -> None:
        self.operations: list[ServiceOperation] = []

    def __call__(self, name: str, description: str) -> Callable[[Operation], Operation]:
        """Add ``function`` under ``name`` to this set (a decorator; registers nothing yet)."""

        def add(function: Operation) -> Operation:
            self.operations.append(ServiceOperation(name, description, function))
            return function

        return add


def install(*sets: OperationSet) -> None:
    """Make the operations of ``sets`` callable from diagrams (idempotent; a name is unique)."""
    for operation_set in sets:
        for op in operation_set.operations:
            if op.name in _REGISTRY and _REGISTRY[op.name][0] is not op.function:
                raise ValueError(f"operation {op.name!r} is registered twice")
            _REGISTRY[op.name] = (op.function, op.description)


def note_called(session: Session, name: str) -> None:
    """Remember that ``name`` ran, for whoever asked (see ``CALLED``)."""
    called = session.info.get(CALLED)
    if called is not None:
        called.append(name)


def get(name: str) -> Operation | None:
    entry = _REGISTRY.get(name)
    return entry[0] if entry else None


def known() -> dict[str, str]:
    """Every registered operation name with its description (for process owners and deploys)."""
    return {name: entry[1] for name, entry in sorted(_REGISTRY.items())}
