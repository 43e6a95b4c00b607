"""The registry of named operations that service tasks in diagrams may call (DESIGN: workflows).

A diagram names an operation (``spiffworkflow:serviceTaskOperator id="compute_deadlines"``); the
domain modules register the Python behind each name with :func:`operation`. Deploying a diagram
that names an unknown operation is refused, so process owners can only wire up what exists.
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
_REGISTRY: dict[str, tuple[Operation, str]] = {}


def operation(name: str, description: str) -> Callable[[Operation], Operation]:
    """Register ``function`` under ``name`` for service tasks (a decorator)."""

    def register(function: Operation) -> Operation:
        if name in _REGISTRY and _REGISTRY[name][0] is not function:
            raise ValueError(f"operation {name!r} is registered twice")
        _REGISTRY[name] = (function, description)
        return function

    return register


def get(name: str) -> Operation | None:
    entry = _REGISTRY.get(name)
    return entry[0] if entry else None


def known() -> dict[str, str]:
    """Every registered operation name with its description (for process owners and deploys)."""
    return {name: entry[1] for name, entry in sorted(_REGISTRY.items())}
