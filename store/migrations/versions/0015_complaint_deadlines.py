"""A clock at every stage of a complaint (issue 11): deadline rows and the earliest stage due.

Complaints already running get their clocks: the decision deadline (warned 3 days before,
escalated at the deadline) and the next progress update while undecided, and a clock for each
open step of their process, so the timers worker keeps them from now on.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from alembic import op

from core import clock

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STAGES = (
    "DECISION",
    "ASSIGNMENT",
    "CALL_BACK",
    "REVIEW_REQUEST",
    "REVIEW_DECISION",
    "RECTIFICATION",
    "OTHER_TASK",
    "SUPERVISION",
    "PROGRESS",
)
ENDS = ("MET", "MISSED", "EXTENDED", "ENDED")


def upgrade() -> None:
    deadlines = op.create_table(
        "complaint_deadlines",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("complaint_id", sa.Integer(), nullable=False),
        sa.Column(
            "stage",
            sa.Enum(*STAGES, name="deadlinestage", native_enum=False, length=32),
            nullable=False,
        ),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("set_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("warned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("escalated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column(
            "end",
            sa.Enum(*ENDS, name="deadlineend", native_enum=False, length=32),
            nullable=True,
        ),
        sa.ForeignKeyConstraint(
            ["complaint_id"],
            ["complaints.id"],
            name=op.f("fk_complaint_deadlines_complaint_id_complaints"),
        ),
        sa.ForeignKeyConstraint(
            ["task_id"],
            ["process_tasks.id"],
            name=op.f("fk_complaint_deadlines_task_id_process_tasks"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_complaint_deadlines")),
    )
    with op.batch_alter_table("complaint_deadlines", schema=None) as batch_op:
        batch_op.create_index(
            "ix_complaint_deadlines_complaint", ["complaint_id", "id"], unique=False
        )
        batch_op.create_index(
            "ix_complaint_deadlines_running", ["ended_at", "due_at"], unique=False
        )
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("stage_due_at", sa.DateTime(timezone=True), nullable=True))
    _start_clocks(deadlines)


def _start_clocks(deadlines: sa.Table) -> None:
    """The clocks of the complaints already running: the decision deadline and the next progress
    update of those waiting for a decision, and a clock for each open step of their process."""
    complaints = sa.table(
        "complaints",
        sa.column("id", sa.Integer()),
        sa.column("accepted_at", sa.DateTime(timezone=True)),
        sa.column("decision_due_at", sa.DateTime(timezone=True)),
        sa.column("decided_at", sa.DateTime(timezone=True)),
        sa.column("review_due_at", sa.DateTime(timezone=True)),
        sa.column("instance_id", sa.Integer()),
        sa.column("stage_due_at", sa.DateTime(timezone=True)),
    )
    tasks = sa.table(
        "process_tasks",
        sa.column("id", sa.Integer()),
        sa.column("instance_id", sa.Integer()),
        sa.column("form_name", sa.String()),
        sa.column("status", sa.String()),
        sa.column("created_at", sa.DateTime(timezone=True)),
        sa.column("due_at", sa.DateTime(timezone=True)),
    )
    rectifications = sa.table(
        "rectifications",
        sa.column("complaint_id", sa.Integer()),
        sa.column("raised_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    now = clock.now()
    raised: dict[int, datetime] = {
        pk: at
        for pk, at in bind.execute(
            sa.select(rectifications.c.complaint_id, rectifications.c.raised_at)
        )
    }
    open_tasks: dict[int, list[sa.Row[Any]]] = {}
    for task in bind.execute(sa.select(tasks).where(tasks.c.status == "OPEN")):
        open_tasks.setdefault(task.instance_id, []).append(task)
    rows: list[dict[str, object]] = []
    for complaint in bind.execute(sa.select(complaints)):
        accepted, due = _aware(complaint.accepted_at), _aware(complaint.decision_due_at)
        if complaint.decided_at is None:
            rows.append(_row(complaint.id, "DECISION", None, accepted, due))
            step = accepted + timedelta(days=5)
            while step <= now:
                step += timedelta(days=5)
            rows.append({**_row(complaint.id, "PROGRESS", None, step, step), "warn_at": step})
        stage_due = []
        for task in open_tasks.get(complaint.instance_id, []):
            stage, task_due = _stage_due(complaint, task, raised.get(complaint.id), now)
            bind.execute(sa.update(tasks).where(tasks.c.id == task.id).values(due_at=task_due))
            if stage is not None:
                rows.append(_row(complaint.id, stage, task.id, _aware(task.created_at), task_due))
                stage_due.append(task_due)
        if stage_due:
            bind.execute(
                sa.update(complaints)
                .where(complaints.c.id == complaint.id)
                .values(stage_due_at=min(stage_due))
            )
    if rows:
        op.bulk_insert(deadlines, [{**row, "set_at": now} for row in rows])


def _stage_due(
    complaint: sa.Row[Any], task: sa.Row[Any], raised: datetime | None, now: datetime
) -> tuple[str | None, datetime]:
    """As resolvers.complaints.deadlines.task_due (a migration keeps its own copy of a rule)."""
    decided = _aware(complaint.decided_at) if complaint.decided_at else now
    due = _aware(complaint.decision_due_at)
    form = task.form_name
    if form == "assign_handler":
        return "ASSIGNMENT", min(_days_after(_aware(complaint.accepted_at), 1), due)
    if form == "call_back":
        return "CALL_BACK", _days_after(decided, 7)
    if form == "review_request":
        return "REVIEW_REQUEST", _days_after(decided, 30)
    if form == "review":
        review = complaint.review_due_at
        return "REVIEW_DECISION", _aware(review) if review else _days_after(now, 30)
    if form == "rectify":
        return "RECTIFICATION", _days_after(_aware(raised) if raised else now, 30)
    if form == "supervise_overdue":
        return None, _days_after(now, 1)
    if form in ("investigate", "approve_extension", "decision_notice") or not complaint.decided_at:
        return None, due
    return "OTHER_TASK", _days_after(now, 7)


def _days_after(start: datetime, days: int) -> datetime:
    return clock.end_of_business_day(clock.business_date(start) + timedelta(days=days))


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(
    pk: int, stage: str, task_id: int | None, start: datetime, due: datetime
) -> dict[str, object]:
    warn = max(due - timedelta(days=3), start + (due - start) / 2)
    return {"complaint_id": pk, "stage": stage, "task_id": task_id, "warn_at": warn, "due_at": due}


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("stage_due_at")
    op.drop_table("complaint_deadlines")
