"""Service measures the system applies by itself (SEG-5), set-based: the supervisors' worklist of
high-value customers without a dedicated manager, and the periodic re-assessment of HIGH-risk
customers in their managers' task inbox.

Worklist: a customer is on it while the tier shown (an override in force, else the computed one)
is HIGH, it has no active relationship manager, and the measure set in force has a measure
applied as ``MANAGER_WORKLIST``; assigning a manager or a lower tier takes it off, no job runs.

Re-assessment:
Each customer under review has one instance of the shipped ``risk_review`` process (business key
``risk_review:<customer id>``); its re-assessment tasks are tasks the code opens beside the
diagram (``runtime.DETACHED``), so classification opens and closes them for any number of
customers in a few statements, and they are listed, claimed and completed like every task
(``myTasks``, ``completeTask`` with the shipped ``risk_review`` form). The rules:

- a HIGH-risk customer without an open re-assessment task gets one — unless one was completed
  less than the risk model's ``reviewPeriodDays`` ago: the next opens that period after the last
  completion (a classification run or the worker opens it; one open task per customer);
- a task still open when the grade drops below HIGH is cancelled (it leaves the inbox).

The task goes to the customer's relationship manager (assigned), or to the relationship managers
of its branch when it has none, due ``DUE_IN`` after it opens; an open one follows the customer
when its manager or branch changes (``follow_manager``, in that change's transaction).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, cast
from uuid import uuid4

from sqlalchemy import (
    ColumnElement,
    Integer,
    String,
    Table,
    and_,
    case,
    exists,
    false,
    func,
    insert,
    literal,
    or_,
    select,
    true,
    update,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.orm import Session

from resolvers.segments.commands import measures_in_force, risk_rule_set_in_force
from resolvers.segments.loaders import effective_tier
from resolvers.segments.measures import MeasureSet
from resolvers.shared import unit_of_work
from store.base import UTCDateTime
from store.customers import Customer
from store.db import take_write_lock
from store.segments import CustomerSegment, MeasureAction, RiskGrade, ValueTier
from store.staff import Role, Staff
from store.workflows import (
    InstanceStatus,
    ProcessInstance,
    ProcessTask,
    ProcessVersion,
    TaskStatus,
)
from workflows import deployment, runtime

PROCESS = "risk_review"
# Detached task ids: "code-rr-<instance id>-<token of the opening call>" (one task per instance
# and call, so unique even when a frozen clock opens two in one instant).
PREFIX = runtime.DETACHED + "rr-"
ELEMENT = "Task_Reassess"
NAME = "Re-assess the customer's risk 客户风险重评"
FORM = "risk_review"
DUE_IN = timedelta(days=15)


def _holder_of(customer_id: Any) -> ColumnElement[bool]:
    """Joins a process instance to the customer it holds the re-assessments of."""
    key = literal(f"{PROCESS}:", String()) + sql_cast(customer_id, String())
    return ProcessInstance.business_key == key  # type: ignore[no-any-return]


def _review_tasks(*conditions: Any) -> Any:
    return select(ProcessTask.id).where(
        ProcessTask.instance_id == ProcessInstance.id,
        ProcessTask.spiff_task_id.like(PREFIX + "%"),
        *conditions,
    )


def worklist_condition(session: Session, now: datetime) -> ColumnElement[bool]:
    """SQL over customers: on the supervisors' worklist as of ``now``."""
    wanted = any(
        m.applied is MeasureAction.MANAGER_WORKLIST for m in measures_in_force(session).measures
    )
    if not wanted:
        return false()
    active_manager = exists(
        select(Staff.id).where(Staff.id == Customer.relationship_manager_id, Staff.active.is_(True))
    )
    return and_(effective_tier(now) == ValueTier.HIGH.value, ~active_manager)


def reviews_wanted(session: Session, measure_set: MeasureSet | None = None) -> bool:
    """Whether the measure set in force (``measure_set`` when the caller has it) applies the
    re-assessment task (SEG-5)."""
    found = measure_set if measure_set is not None else measures_in_force(session)
    return any(m.applied is MeasureAction.REASSESSMENT_TASK for m in found.measures)


def sync_reviews(
    session: Session,
    now: datetime,
    in_scope: Callable[[Any], ColumnElement[bool]],
    period_days: int,
    measure_set: MeasureSet | None = None,
) -> tuple[int, int]:
    """Open and close the re-assessment tasks of the customers in scope as their grades say —
    or, while the measure set in force applies no re-assessment, close them all and open none.
    Returns (opened, cancelled)."""
    if not reviews_wanted(session, measure_set):
        return 0, _cancel_dropped(session, now, in_scope, every_open=True)
    cancelled = _cancel_dropped(session, now, in_scope)
    _ensure_holders(session, now, in_scope)
    opened = _open_due(session, now, in_scope, period_days)
    return opened, cancelled


def _high(in_scope: Callable[[Any], ColumnElement[bool]]) -> ColumnElement[bool]:
    return and_(
        in_scope(CustomerSegment.customer_id),
        CustomerSegment.risk_grade == RiskGrade.HIGH,
    )


def _customer_of_holder() -> Any:
    """The customer an instance holds the re-assessments of (its business key's number; null
    for other processes' instances, whose keys are not numbers after the prefix)."""
    number = sql_cast(func.substr(ProcessInstance.business_key, len(PROCESS) + 2), Integer())
    return case((ProcessInstance.business_key.like(f"{PROCESS}:%"), number), else_=None)


def _cancel_dropped(
    session: Session,
    now: datetime,
    in_scope: Callable[[Any], ColumnElement[bool]],
    every_open: bool = False,
) -> int:
    """Cancel the open re-assessments of customers in scope whose grade is no longer HIGH (with
    ``every_open``: all of them).

    Driven from the open review tasks (few), never from every customer: a ``NOT IN`` over the
    HIGH customers took PostgreSQL minutes on 100,000 customers."""
    customer = _customer_of_holder()
    dropped = (
        select(ProcessTask.id)
        .join(ProcessInstance, ProcessInstance.id == ProcessTask.instance_id)
        .outerjoin(CustomerSegment, CustomerSegment.customer_id == customer)
        .where(
            ProcessTask.status == TaskStatus.OPEN,
            ProcessTask.spiff_task_id.like(PREFIX + "%"),
            in_scope(customer),
            true()
            if every_open
            else or_(
                CustomerSegment.risk_grade.is_(None),
                CustomerSegment.risk_grade != RiskGrade.HIGH,
            ),
        )
    )
    result = session.execute(
        update(ProcessTask)
        .where(ProcessTask.id.in_(dropped.scalar_subquery()))
        .values(status=TaskStatus.CANCELLED, completed_at=now)
        .execution_options(synchronize_session=False)
    )
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def _ensure_holders(
    session: Session, now: datetime, in_scope: Callable[[Any], ColumnElement[bool]]
) -> None:
    """An instance for every HIGH-risk customer in scope that has none (one statement to find
    them, one batch to add them; the state is sealed per row, so the ORM writes them)."""
    missing = session.scalars(
        select(CustomerSegment.customer_id).where(
            _high(in_scope),
            ~exists(select(ProcessInstance.id).where(_holder_of(CustomerSegment.customer_id))),
        )
    ).all()
    if not missing:
        return
    version = runtime.find_latest_version(session, PROCESS) or _deploy(session)
    session.add_all(
        ProcessInstance(
            version_id=version.id,
            business_key=f"{PROCESS}:{customer_id}",
            status=InstanceStatus.RUNNING,
            # Held by the code: the engine never runs it (its tasks are detached), so there is
            # no engine state and no timer.
            state="",
            revision=0,
            next_due_at=None,
            active_elements=[ELEMENT],
            completed_elements=[],
            started_at=now,
            updated_at=now,
        )
        for customer_id in missing
    )
    session.flush()


def _deploy(session: Session) -> ProcessVersion:
    """The shipped diagram, deployed on first use (a server deploys it at its first start;
    ``kehu classify`` on a fresh database may come first)."""
    path = next(p for p in deployment.bundled() if p.stem == PROCESS)
    return deployment.deploy(session, path.read_text(), deployment.read_forms(), None)[0]


def _due(now: datetime, in_scope: Callable[[Any], ColumnElement[bool]], period_days: int) -> Any:
    """The task rows to open: one for each HIGH-risk customer in scope without an open one and
    without one completed within the period (a SELECT for INSERT … SELECT)."""
    recent = now - timedelta(days=period_days)
    return (
        select(
            ProcessInstance.id.label("instance_id"),
            (
                literal(PREFIX, String())
                + sql_cast(ProcessInstance.id, String())
                + literal(f"-{uuid4().hex[:12]}", String())
            ).label("spiff_task_id"),
            literal(ELEMENT, String()).label("element_id"),
            literal(NAME, String()).label("name"),
            literal(Role.RELATIONSHIP_MANAGER.value, String()).label("candidate_role"),
            Customer.branch_id,
            # The customer's manager while active; else the branch's managers may take it.
            case((Staff.active.is_(True), Customer.relationship_manager_id), else_=None).label(
                "assignee_id"
            ),
            literal(FORM, String()).label("form_name"),
            literal(now + DUE_IN, UTCDateTime()).label("due_at"),
            literal(TaskStatus.OPEN.value, String()).label("status"),
            literal(now, UTCDateTime()).label("created_at"),
        )
        .select_from(CustomerSegment)
        .join(Customer, Customer.id == CustomerSegment.customer_id)
        .outerjoin(Staff, Staff.id == Customer.relationship_manager_id)
        .join(ProcessInstance, _holder_of(CustomerSegment.customer_id))
        .where(
            _high(in_scope),
            ~exists(_review_tasks(ProcessTask.status == TaskStatus.OPEN)),
            ~exists(
                _review_tasks(
                    ProcessTask.status == TaskStatus.COMPLETED,
                    ProcessTask.completed_at > literal(recent, UTCDateTime()),
                )
            ),
        )
    )


def _open_due(
    session: Session,
    now: datetime,
    in_scope: Callable[[Any], ColumnElement[bool]],
    period_days: int,
) -> int:
    """Open the due tasks in one INSERT … SELECT; how many, as the driver reports it (0 when it
    does not: the worker has checked that some were due, runs do not need the number)."""
    due = _due(now, in_scope, period_days)
    names = [str(c.key) for c in due.selected_columns]
    result = session.execute(insert(cast(Table, ProcessTask.__table__)).from_select(names, due))
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def follow_manager(session: Session, customer: Customer) -> int:
    """The customer's open re-assessment tasks go to its relationship manager now (while
    active), else to the relationship managers of its branch — called in the transaction that
    changes the manager or the branch. Returns how many tasks moved (as the driver reports)."""
    manager = (
        session.get(Staff, customer.relationship_manager_id)
        if customer.relationship_manager_id is not None
        else None
    )
    holder = select(ProcessInstance.id).where(
        ProcessInstance.business_key == f"{PROCESS}:{customer.id}"
    )
    result = session.execute(
        update(ProcessTask)
        .where(
            ProcessTask.instance_id.in_(holder.scalar_subquery()),
            ProcessTask.status == TaskStatus.OPEN,
            ProcessTask.spiff_task_id.like(PREFIX + "%"),
        )
        .values(
            assignee_id=manager.id if manager is not None and manager.active else None,
            branch_id=customer.branch_id,
        )
        .execution_options(synchronize_session=False)
    )
    return max(int(getattr(result, "rowcount", 0) or 0), 0)


def _bank(column: Any) -> ColumnElement[bool]:
    return true()


def follow_measures(session: Session, now: datetime) -> tuple[int, int]:
    """After a new measure set: the bank's re-assessment tasks as it says (opened where it
    applies them to HIGH-risk customers, cancelled where it no longer does), in the change's
    transaction; the worklist reads the set in force anyway."""
    period = risk_rule_set_in_force(session).review_period_days
    return sync_reviews(session, now, _bank, period)


def reviews_due(session: Session, now: datetime) -> bool:
    """Whether a re-assessment's period has run out somewhere in the bank (a read, so the
    worker takes the write lock only when there is something to open)."""
    if not reviews_wanted(session):
        return False
    period = risk_rule_set_in_force(session).review_period_days
    return bool(session.scalar(select(exists(_due(now, _bank, period)))))


def run_due_reviews(session: Session, now: datetime) -> int:
    """The worker's pass over the bank, once ``reviews_due`` found one due: reopen the
    re-assessments whose period has run out (and close any a change of grade left open), as one
    unit of work of the worker. Returns how many tasks it opened or closed (as far as the driver
    reports it)."""
    take_write_lock(session)
    period = risk_rule_set_in_force(session).review_period_days

    def step(s: Session) -> int:
        opened, cancelled = sync_reviews(s, now, _bank, period)
        unit_of_work.note(s, f"risk re-assessments: {opened} opened, {cancelled} cancelled")
        return max(opened + cancelled, 1)  # reviews_due saw at least one

    return unit_of_work.run(
        session,
        unit_of_work.WORKER,
        unit_of_work.TIMERS,
        "timer:riskReassessments",
        step,
        nested=True,
    )


def on_reassessed(
    session: Session, customer_id: int, task: ProcessTask, actor: Any, data: dict[str, Any]
) -> None:
    """A re-assessment task done: its outcome goes into the unit of work's audit entry, naming
    the customer (the form's free-text note is not kept beyond the task's form check)."""
    unit_of_work.note(
        session,
        f"risk re-assessment done: {data.get('outcome')}",
        customer_ids=[customer_id],
    )


# Listeners of completed tasks, by business-key prefix (installed by kehu.wiring).
TASK_LISTENERS = {PROCESS: on_reassessed}
