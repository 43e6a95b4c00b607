"""A clock at every stage of a complaint (issue 11): deadline rows and the earliest stage due.

Undecided complaints get their decision deadline row (warned 3 days before, escalated at the
deadline) and their next progress update, so the timers worker keeps their clocks from now on.

Revision ID: 0015
Revises: 0014
"""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

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
    """Decision deadline and progress rows for the complaints still waiting for a decision."""
    complaints = sa.table(
        "complaints",
        sa.column("id", sa.Integer()),
        sa.column("accepted_at", sa.DateTime(timezone=True)),
        sa.column("decision_due_at", sa.DateTime(timezone=True)),
        sa.column("decided_at", sa.DateTime(timezone=True)),
    )
    bind = op.get_bind()
    now = clock.now()
    rows = []
    for pk, accepted, due in bind.execute(
        sa.select(complaints.c.id, complaints.c.accepted_at, complaints.c.decision_due_at).where(
            complaints.c.decided_at.is_(None)
        )
    ):
        accepted, due = (_aware(accepted), _aware(due))
        rows.append(_row(pk, "DECISION", now, max(accepted, due - timedelta(days=3)), due))
        step = accepted + timedelta(days=5)
        while step <= now:
            step += timedelta(days=5)
        rows.append(_row(pk, "PROGRESS", now, step, step))
    if rows:
        op.bulk_insert(deadlines, rows)


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _row(pk: int, stage: str, now: datetime, warn: datetime, due: datetime) -> dict[str, object]:
    return {"complaint_id": pk, "stage": stage, "set_at": now, "warn_at": warn, "due_at": due}


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_column("stage_due_at")
    op.drop_table("complaint_deadlines")
