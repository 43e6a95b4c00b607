"""One breach, one escalation, whatever the diagram version (CMP-6): an instance started on an
older diagram — whose boundary timers opened their own supervise tasks beside the code's clocks
— gets one supervise task for a breach, also when the breach spans the investigation and the
decision."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from tests.complaint_steps import (
    assign,
    bj_customer,
    do,
    fire_timers,
    inbox_of,
    investigation,
    kinds,
    read,
    submit,
)
from tests.conftest import Backend
from tests.test_workflows import ORIGINAL, _deploy, restore_original  # noqa: F401 - a fixture

SECOND = timedelta(seconds=1)
# The diagram of commit 7e6cf70: boundary timers on the investigation and the decision run
# escalate_breach and open a Task_Supervise* user task of their own.
OLD = (Path(__file__).parent / "data" / "complaint_with_diagram_escalation.bpmn").read_text()


def _supervise(backend: Backend, complaint: dict[str, Any]) -> list[str]:
    return [e for _id, e in inbox_of(backend, "SUP0001", complaint) if "Supervise" in e]


@pytest.mark.usefixtures("restore_original")
def test_cmp6_an_older_diagram_escalates_a_breach_once(backend: Backend) -> None:
    assert _deploy(backend, OLD)["errors"] == []
    complaint = submit(backend, bj_customer(backend))
    assert _deploy(backend, ORIGINAL)["errors"] == []  # new complaints start on the current one
    assign(backend, complaint)
    state = read(backend, complaint)
    assert "Timer_InvestigationBreach" in state["process"]["instance"]["activeElementIds"]
    due = datetime.fromisoformat(state["decisionDueAt"])
    fire_timers(backend, due - SECOND)
    assert _supervise(backend, complaint) == []
    fire_timers(backend, due)  # the code's clock: at the instant
    fire_timers(backend, due + SECOND)  # the diagram's timer: just after it
    assert _supervise(backend, complaint) == ["Task_SuperviseOverdue"]
    assert kinds(read(backend, complaint)).count("DEADLINE_MISSED") == 1
    # The breach goes on into the decision: the diagram's decision timer fires at once, still
    # no second escalation.
    do(backend, "SH01CH01", complaint, "Task_Investigate", investigation())
    fire_timers(backend, due + 2 * SECOND)
    assert _supervise(backend, complaint) == ["Task_SuperviseOverdue"]
    assert kinds(read(backend, complaint)).count("DEADLINE_MISSED") == 1
