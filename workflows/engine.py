"""SpiffWorkflow set up the Kehu way.

- ``SpiffBpmnParser`` with its schema validator; parsed specs cached by content hash.
- Scripts and conditions run in :mod:`workflows.sandbox`; service tasks call
  :mod:`workflows.operations`.
- Timers read :mod:`core.clock`: SpiffWorkflow's timer module reads ``datetime.now`` directly,
  so its ``datetime`` is replaced (once, at import) by one whose ``now`` is our clock.
- One serializer; the script engine is not part of the serialized state and is reattached on
  every load.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any
from uuid import UUID

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition,
    DurationTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task as SpiffTask
from SpiffWorkflow.util.task import TaskState
from sqlalchemy.orm import Session

from core import clock
from store.staff import Staff
from store.workflows import ProcessInstance
from workflows import operations, sandbox
from workflows.errors import ProcessError

# What one unit of work (a start, a completed task, a wake-up) may run before the diagram comes
# to rest: a loop whose condition stays true, or a cycle of automatic tasks, never comes to rest
# by itself, and each of its expressions is within the sandbox's limits.
MAX_TASKS_PER_STEP = 1000
MAX_INSTANCES = 100  # children of one multi-instance activity
STEP_SECONDS = 5.0


class _ClockDatetime(datetime):
    """``datetime`` whose ``now`` is Kehu's clock (SpiffWorkflow's timers call ``now``)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = clock.now()
        return moment if tz is None else moment.astimezone(tz)


spiff_timer.datetime = _ClockDatetime  # type: ignore[misc]

_loading_specs: contextvars.ContextVar[ParsedProcess] = contextvars.ContextVar("kehu_specs")


class _StateWithoutSpec(BpmnWorkflowConverter):  # type: ignore[misc]
    """Workflow state without its spec: the instance's version row holds the diagram.

    SpiffWorkflow embeds the whole spec in every state (about 45 KB for the complaint process)
    and rebuilds it on every load. Kehu stores the version instead and reuses the spec parsed
    once per version, which keeps a closed complaint small and a load cheap.
    """

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        parsed = _loading_specs.get()
        workflow = self.target_class(parsed.spec, parsed.subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


SERIALIZER = BpmnWorkflowSerializer(
    BpmnWorkflowSerializer.configure({**SPIFF_CONFIG, BpmnWorkflow: _StateWithoutSpec})
)


class EngineClock:
    """Seconds spent inside SpiffWorkflow in this process (load, steps, save), for bench/."""

    seconds = 0.0

    @classmethod
    @contextlib.contextmanager
    def measure(cls) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            cls.seconds += time.perf_counter() - started


# Per business-key prefix: forms of user tasks the code opens itself now (a complaint's
# supervise task, opened once per breach by its clocks), which older diagrams still draw.
_superseded: dict[str, frozenset[str]] = {}


def install_superseded_forms(forms: dict[str, frozenset[str]]) -> None:
    _superseded.update(forms)


@dataclass
class Run:
    """One unit of work on one instance: what service tasks need, and the first error raised."""

    session: Session
    instance: ProcessInstance
    actor: Staff | None
    error: BaseException | None = None
    operation: str | None = None  # the operation that raised ``error``
    workflow: BpmnWorkflow | None = None
    tasks_run: int = 0
    # CPU time of this thread (see ``sandbox.Budget``): a loaded machine stretches the wall clock.
    started: float = field(default_factory=time.thread_time)

    def engine_steps(self, workflow: BpmnWorkflow) -> None:
        """Run the engine until the diagram waits, within this unit of work's budget; user
        tasks whose form the code does itself now (see :func:`install_superseded_forms`) pass
        at once, so an older diagram's copy of them opens no second task."""
        workflow.do_engine_steps(will_complete_task=self._count)
        superseded = _superseded.get(self.instance.business_key.partition(":")[0])
        while superseded:
            passing = [
                task
                for task in workflow.get_tasks(state=TaskState.READY, manual=True)
                if (task.task_spec.extensions or {}).get("properties", {}).get("form") in superseded
            ]
            if not passing:
                break
            for task in passing:
                task.data["superseded_by_code"] = True
                task.run()
            workflow.do_engine_steps(will_complete_task=self._count)

    def _count(self, task: SpiffTask) -> None:
        self.tasks_run += 1
        over_time = time.thread_time() - self.started > STEP_SECONDS
        if self.tasks_run > MAX_TASKS_PER_STEP or over_time:
            element = task.task_spec.bpmn_id or task.task_spec.name
            limit = f"{STEP_SECONDS} seconds" if over_time else f"{MAX_TASKS_PER_STEP} tasks"
            # The same code as an expression over its budget: the diagram's cost, not the input.
            raise ProcessError(
                "EXPRESSION_LIMIT",
                f"the diagram did not come to rest within {limit} (at element {element}); "
                "a loop or cycle of automatic tasks never ends",
                element_id=task.task_spec.bpmn_id,
            )


class _SandboxEnvironment(BasePythonScriptEngineEnvironment):
    def evaluate(
        self, expression: str, context: dict[str, Any], external_context: Any = None
    ) -> Any:
        return sandbox.evaluate(expression, {**(external_context or {}), **context})

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        sandbox.execute(script, context)
        return True


class KehuScriptEngine(PythonScriptEngine):  # type: ignore[misc]
    """Sandboxed expressions; service tasks dispatched to registered operations."""

    def __init__(self, run: Run | None = None) -> None:
        super().__init__(environment=_SandboxEnvironment())
        self.run = run

    def validate(self, expression: str) -> None:
        sandbox.check(expression)

    def evaluate(self, task: SpiffTask, expression: str, external_context: Any = None) -> Any:
        value = super().evaluate(task, expression, external_context)
        # A parallel multi-instance activity creates all its children at once, one per count.
        if expression == getattr(task.task_spec, "cardinality", None) and (
            type(value) is not int or value > MAX_INSTANCES
        ):
            limit = sandbox.ExpressionLimit(
                f"over the limit of {MAX_INSTANCES} instances of a multi-instance activity"
            )
            # Raised as SpiffWorkflow raises an expression's error: with the task it belongs to.
            raise WorkflowTaskException(str(limit), task=task, exception=limit) from limit
        timer = getattr(task.task_spec, "event_definition", None)
        if isinstance(timer, TimerEventDefinition) and expression == timer.expression:
            problem = _timer_problem(value, timer)
            if problem is not None:
                error = ValueError(problem)
                raise WorkflowTaskException(problem, task=task, exception=error) from error
        return value

    def call_service(self, task: SpiffTask, **kwargs: Any) -> str:
        # SpiffWorkflow 3.2.0 turns an error here into a misleading NameError, so the original
        # is kept on the run and raised again by the caller (see workflows.runtime).
        name = kwargs["operation_name"]
        params = {key: value["value"] for key, value in kwargs["operation_params"].items()}
        savepoint = None
        try:
            function = operations.get(name)
            if function is None:
                raise LookupError(f"unknown operation {name!r}")
            if self.run is None:
                raise RuntimeError("service tasks run only inside a unit of work")
            # What the diagram computed at run time, checked as deploy checks what it fixes.
            wrong = operations.parameter_problems(name, params, params)
            if wrong:
                raise ValueError("; ".join(why for _parameter, why in wrong))
            operations.note_called(self.run.session, name)
            # A failing operation leaves nothing half-written: its incident is recorded instead.
            savepoint = self.run.session.begin_nested()
            result = function(
                operations.OperationCall(
                    session=self.run.session,
                    instance=self.run.instance,
                    actor=self.run.actor,
                    data=task.data,
                    element_id=task.task_spec.bpmn_id,
                    params=params,
                )
            )
            savepoint.commit()
        except BaseException as exc:
            if savepoint is not None and savepoint.is_active:
                with contextlib.suppress(Exception):  # the unit of work fails as a whole then
                    savepoint.rollback()
            if self.run is not None and self.run.error is None:
                self.run.error = exc
                self.run.operation = name
            raise
        return json.dumps(result, default=str)


MAX_TIMER_MONTHS = 1200  # years and months of one timer's duration (Spiff counts them one by one)


def _timer_problem(value: Any, timer: TimerEventDefinition) -> str | None:
    if isinstance(timer, CycleTimerEventDefinition):
        return timer_problem(value, "timeCycle")
    if isinstance(timer, DurationTimerEventDefinition):
        return timer_problem(value, "timeDuration")
    return timer_problem(value, "timeDate")


def timer_problem(value: Any, kind: str) -> str | None:
    """Why ``value`` cannot be a timer's ISO 8601 date, duration or cycle (None: it can).

    ``kind`` is the BPMN element holding it: ``timeDate``, ``timeDuration`` or ``timeCycle``.
    SpiffWorkflow adds up a duration's months one at a time ("P99999999Y" held a request for
    minutes) and lets a malformed value through as a plain error, so both are checked here.
    """
    if type(value) is not str or len(value) > 100:
        return "a timer's value must be ISO 8601 text"
    for part in value.upper().replace("--", "/").split("/"):
        if part.startswith("P"):
            try:
                parsed = TimerEventDefinition.parse_iso_duration(part)
            except Exception:
                return "a timer's duration is not ISO 8601"
            if parsed.get("years", 0) * 12 + parsed.get("months", 0) > MAX_TIMER_MONTHS:
                return f"a timer's duration is over {MAX_TIMER_MONTHS // 12} years"
    try:
        if kind == "timeCycle":
            TimerEventDefinition.parse_iso_recurring_interval(value)
        elif kind == "timeDuration":
            (
                TimerEventDefinition.get_timedelta_from_start(
                    TimerEventDefinition.parse_iso_duration(value)
                )
                + clock.now()
            )
        elif not isinstance(TimerEventDefinition.parse_time_or_duration(value), datetime):
            return "a timer's date is not an ISO 8601 date"
    except Exception:
        return "a timer's value is not a valid ISO 8601 date, duration or cycle"
    return None


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]


@functools.lru_cache(maxsize=64)
def parse(bpmn_xml: str) -> ParsedProcess:
    """The one executable process of a diagram (cached by content; raises the parser's errors)."""
    parser = SpiffBpmnParser(validator=VALIDATOR)
    parser.add_bpmn_str(bpmn_xml.encode())
    keys = parser.get_process_ids()
    if len(keys) != 1:
        raise ValueError(f"a diagram must hold exactly one executable process, found {len(keys)}")
    key = keys[0]
    return ParsedProcess(key, parser.get_spec(key), parser.get_subprocess_specs(key))


def new_workflow(parsed: ParsedProcess, run: Run) -> BpmnWorkflow:
    workflow = BpmnWorkflow(
        parsed.spec, parsed.subprocess_specs, script_engine=KehuScriptEngine(run)
    )
    run.workflow = workflow
    return workflow


def load(state: str, bpmn_xml: str, run: Run) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state and the diagram of its version."""
    with EngineClock.measure():
        token = _loading_specs.set(parse(bpmn_xml))
        try:
            workflow = SERIALIZER.deserialize_json(state)
        finally:
            _loading_specs.reset(token)
    workflow.script_engine = KehuScriptEngine(run)
    run.workflow = workflow
    return workflow


def dump(workflow: BpmnWorkflow) -> str:
    """The workflow's state as JSON, without its spec (see ``_StateWithoutSpec``)."""
    with EngineClock.measure():
        return str(SERIALIZER.serialize_json(workflow))
