"""SpiffWorkflow set up the Kehu way (DESIGN: workflows).

- ``SpiffBpmnParser`` with its schema validator; parsed specs cached by content hash.
- Scripts and conditions run in :mod:`workflows.sandbox`; service tasks call
  :mod:`workflows.operations`.
- Timers read :mod:`kehu.clock`: SpiffWorkflow's timer module reads ``datetime.now`` directly,
  so its ``datetime`` is replaced (once, at import) by one whose ``now`` is our clock.
- One serializer; the script engine is not part of the serialized state and is reattached on
  every load.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

import SpiffWorkflow.bpmn.specs.event_definitions.timer as spiff_timer
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.specs.bpmn_process_spec import BpmnProcessSpec
from SpiffWorkflow.spiff.parser import VALIDATOR, SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task as SpiffTask
from sqlalchemy.orm import Session

from kehu import clock
from store.staff import Staff
from store.workflows import ProcessInstance
from workflows import operations, sandbox


class _ClockDatetime(datetime):
    """``datetime`` whose ``now`` is Kehu's clock (SpiffWorkflow's timers call ``now``)."""

    @classmethod
    def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
        moment = clock.now()
        return moment if tz is None else moment.astimezone(tz)


spiff_timer.datetime = _ClockDatetime  # type: ignore[misc]

SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))


@dataclass
class Run:
    """One unit of work on one instance: what service tasks need, and the first error raised."""

    session: Session
    instance: ProcessInstance
    actor: Staff | None
    error: BaseException | None = None
    calls: list[str] = field(default_factory=list)


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

    def call_service(self, task: SpiffTask, **kwargs: Any) -> str:
        # SpiffWorkflow 3.2.0 turns an error here into a misleading NameError, so the original
        # is kept on the run and raised again by the caller (see workflows.runtime).
        name = kwargs["operation_name"]
        params = {key: value["value"] for key, value in kwargs["operation_params"].items()}
        try:
            function = operations.get(name)
            if function is None:
                raise LookupError(f"unknown operation {name!r}")
            if self.run is None:
                raise RuntimeError("service tasks run only inside a unit of work")
            self.run.calls.append(name)
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
        except BaseException as exc:
            if self.run is not None and self.run.error is None:
                self.run.error = exc
            raise
        return json.dumps(result, default=str)


@dataclass(frozen=True)
class ParsedProcess:
    key: str
    spec: BpmnProcessSpec
    subprocess_specs: dict[str, BpmnProcessSpec]


def new_parser() -> SpiffBpmnParser:
    return SpiffBpmnParser(validator=VALIDATOR)


@functools.lru_cache(maxsize=64)
def parse(bpmn_xml: str) -> ParsedProcess:
    """The one executable process of a diagram (cached by content; raises the parser's errors)."""
    parser = new_parser()
    parser.add_bpmn_str(bpmn_xml.encode())
    keys = parser.get_process_ids()
    if len(keys) != 1:
        raise ValueError(f"a diagram must hold exactly one executable process, found {len(keys)}")
    key = keys[0]
    return ParsedProcess(key, parser.get_spec(key), parser.get_subprocess_specs(key))


def new_workflow(parsed: ParsedProcess, run: Run) -> BpmnWorkflow:
    return BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=KehuScriptEngine(run))


@functools.lru_cache(maxsize=64)
def _spec_dicts(bpmn_xml: str) -> tuple[str, str]:
    parsed = parse(bpmn_xml)
    spec = SERIALIZER.to_dict(parsed.spec)
    subprocesses = {name: SERIALIZER.to_dict(s) for name, s in parsed.subprocess_specs.items()}
    return json.dumps(spec), json.dumps(subprocesses)


def load(state: str, bpmn_xml: str, run: Run) -> BpmnWorkflow:
    """Rebuild a workflow from its stored state and the diagram of its version."""
    data = json.loads(state)
    spec, subprocesses = _spec_dicts(bpmn_xml)
    data["spec"], data["subprocess_specs"] = json.loads(spec), json.loads(subprocesses)
    workflow = SERIALIZER.from_dict(data)
    workflow.script_engine = KehuScriptEngine(run)
    return workflow


def dump(workflow: BpmnWorkflow) -> str:
    """The workflow's state without its spec: the instance's version row holds the diagram.

    SpiffWorkflow embeds the whole spec in every state (about 45 KB for the complaint
    process); leaving it out keeps a closed complaint's state small.
    """
    data = SERIALIZER.to_dict(workflow)
    data.pop("spec", None)
    data.pop("subprocess_specs", None)
    return json.dumps(data, separators=(",", ":"), default=str)
