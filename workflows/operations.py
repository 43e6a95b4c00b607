"""The registry of named operations that service tasks in diagrams may call.

A diagram names an operation (``spiffworkflow:serviceTaskOperator id="compute_deadlines"``). Each
domain lists the Python behind its names in an :class:`OperationSet`; the composition root
installs every domain's set in one place (``kehu.wiring``). Deploying a diagram that names an
unknown operation is refused, so process owners can only wire up what exists.

Each operation also declares the parameters a diagram may give it (:class:`Parameter`: the
name, whether it is required, its type and the values or range allowed). This registry is the one
place both checks read: deploy refuses a constant parameter out of range, naming the element, and
a value computed at run time is checked again before the operation runs.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
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
class Parameter:
    """A parameter an operation takes from a diagram, and the values it accepts."""

    name: str
    kind: type = object  # bool, int or str; object: any value
    required: bool = True
    choices: tuple[Any, ...] = ()  # the only values allowed (empty: any of its kind)
    minimum: int | None = None
    maximum: int | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not allowed (None when it is); never quotes the value."""
        if self.kind is not object and type(value) is not self.kind:
            return (
                f"parameter {self.name!r} must be {_KIND_NAMES.get(self.kind, self.kind.__name__)}"
            )
        if self.choices and value not in self.choices:
            allowed = ", ".join(str(choice) for choice in self.choices)
            return f"parameter {self.name!r} must be one of {allowed}"
        if self.minimum is not None and value < self.minimum:
            return f"parameter {self.name!r} must be at least {self.minimum}"
        if self.maximum is not None and value > self.maximum:
            return f"parameter {self.name!r} must be at most {self.maximum}"
        return None


_KIND_NAMES = {bool: "true or false", int: "a whole number", str: "text"}
_PARAMETERS: dict[str, tuple[Parameter, ...]] = {}


@dataclass(frozen=True)
class ServiceOperation:
    name: str
    description: str
    function: Operation
    parameters: tuple[Parameter, ...] = ()


@dataclass(frozen=True)
class ProcessRules:
    """What a domain requires of every version of its process, whatever a process owner draws.

    ``start_variables``: the data the domain starts an instance with (what expressions may read
    besides form fields and operation results). ``stages``: (stage, operation recording it), in
    the order the process must reach them — each after the one before it, or after the stage a
    third item names (stages that run side by side); a diagram without one is refused at deploy.
    """

    key: str
    start_variables: tuple[str, ...] = ()
    stages: tuple[tuple[str, str] | tuple[str, str, str], ...] = ()


_RULES: dict[str, ProcessRules] = {}


class OperationSet:
    """A domain's service operations, collected by decorating them; installed by ``install``."""

    def __init__(self, rules: ProcessRules | None = None) -> None:
        self.operations: list[ServiceOperation] = []
        self.rules = rules

    def __call__(
        self, name: str, description: str, parameters: Sequence[Parameter] = ()
    ) -> Callable[[Operation], Operation]:
        """Add ``function`` under ``name``, taking ``parameters``, to this set (a decorator;
        registers nothing yet)."""

        def add(function: Operation) -> Operation:
            self.operations.append(ServiceOperation(name, description, function, tuple(parameters)))
            return function

        return add


def install(*sets: OperationSet) -> None:
    """Make the operations of ``sets`` callable from diagrams (idempotent; a name is unique)."""
    for operation_set in sets:
        if operation_set.rules is not None:
            _RULES[operation_set.rules.key] = operation_set.rules
        for op in operation_set.operations:
            if op.name in _REGISTRY and _REGISTRY[op.name][0] is not op.function:
                raise ValueError(f"operation {op.name!r} is registered twice")
            _REGISTRY[op.name] = (op.function, op.description)
            _PARAMETERS[op.name] = op.parameters


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


def parameters(name: str) -> tuple[Parameter, ...]:
    """The parameters operation ``name`` declares (empty for an unknown one)."""
    return _PARAMETERS.get(name, ())


def parameter_problems(
    name: str, given: Iterable[str], values: dict[str, Any]
) -> list[tuple[str, str]]:
    """(parameter, why) for each parameter named in ``given`` that operation ``name`` does not
    take, each required one missing, and each of ``values`` it does not accept. A deploy passes
    the values its text fixes; the rest are checked with ``values`` when the operation runs."""
    declared = {p.name: p for p in parameters(name)}
    names = set(given)
    found = [(key, f"{name} takes no parameter {key!r}") for key in sorted(names - set(declared))]
    for parameter in declared.values():
        if parameter.name not in names:
            if parameter.required:
                found.append((parameter.name, f"{name} needs parameter {parameter.name!r}"))
        elif parameter.name in values:
            problem = parameter.problem(values[parameter.name])
            if problem is not None:
                found.append((parameter.name, problem))
    return found


def rules(process_key: str) -> ProcessRules:
    """What the domain behind ``process_key`` requires of its diagrams (nothing for others)."""
    return _RULES.get(process_key) or ProcessRules(process_key)
