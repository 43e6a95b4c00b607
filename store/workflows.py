"""Deployed process versions, running process instances and their user tasks (PLAT-2).

A deploy stores the diagram (and its forms) as a numbered, hashed version; an instance keeps the
version it started on (its serialized SpiffWorkflow state embeds the spec). User tasks are copied
into ``process_tasks`` so that inboxes are SQL queries, not deserialisation of every instance.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Enum, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, UTCDateTime


class InstanceStatus(StrEnum):
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"


class TaskStatus(StrEnum):
    OPEN = "OPEN"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"


class ProcessVersion(Base):
    """One deploy of one process: the BPMN XML and its forms, numbered per process key."""

    __tablename__ = "process_versions"
    __table_args__ = (UniqueConstraint("process_key", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    process_key: Mapped[str] = mapped_column(String(64))
    number: Mapped[int]
    sha256: Mapped[str] = mapped_column(String(64))
    bpmn_xml: Mapped[str] = mapped_column(Text)
    forms: Mapped[dict[str, Any]] = mapped_column(JSON)
    deployed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    deployed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class ProcessInstance(Base):
    """A running (or finished) process; ``state`` is SpiffWorkflow's serialized workflow."""

    __tablename__ = "process_instances"
    __table_args__ = (Index("ix_process_instances_due", "status", "next_due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("process_versions.id"))
    business_key: Mapped[str] = mapped_column(String(64), unique=True)
    status: Mapped[InstanceStatus] = mapped_column(Enum(InstanceStatus, native_enum=False))
    # Form answers live in the state, so it is sealed like every other personal value.
    state: Mapped[str] = mapped_column(Encrypted("process_instances.state"))
    # Optimistic lock: every save bumps it; a save that finds another revision is refused.
    revision: Mapped[int]
    next_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    active_elements: Mapped[list[str]] = mapped_column(JSON)
    completed_elements: Mapped[list[str]] = mapped_column(JSON)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class ProcessTask(Base):
    """A user task of an instance: who may do it, who has it, by when, and what was submitted."""

    __tablename__ = "process_tasks"
    __table_args__ = (
        Index("ix_process_tasks_inbox", "status", "candidate_role", "branch_id"),
        Index("ix_process_tasks_assignee", "status", "assignee_id"),
        Index("ix_process_tasks_instance", "instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(100))
    name: Mapped[str] = mapped_column(String(200))
    candidate_role: Mapped[str] = mapped_column(String(32))
    branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    form_name: Mapped[str] = mapped_column(String(100))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status: Mapped[TaskStatus] = mapped_column(Enum(TaskStatus, native_enum=False))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))


class IncidentStatus(StrEnum):
    OPEN = "OPEN"
    RESOLVED = "RESOLVED"
    # The instance ended early (a withdrawn or merged complaint): nothing left to retry.
    ENDED = "ENDED"


class ProcessIncident(Base):
    """A step of an instance that failed at run time: where, why, and whether a retry fixed it.

    The instance waits at the failed element (its other branches go on) until a process owner
    retries it; one open incident per instance and element, counting the failed attempts.
    ``wake_up``: a timers' wake-up failed as a whole (nothing moved); the worker leaves the
    instance alone until the retry.
    """

    __tablename__ = "process_incidents"
    __table_args__ = (
        Index("ix_process_incidents_status", "status", "id"),
        Index("ix_process_incidents_instance", "instance_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("process_instances.id"))
    element_id: Mapped[str] = mapped_column(String(100))
    element_name: Mapped[str] = mapped_column(String(200))
    # What failed, as the operation or the engine said it (expressions: only the kind of error,
    # since an expression's error may quote process variables).
    error: Mapped[str] = mapped_column(String(500))
    status: Mapped[IncidentStatus] = mapped_column(Enum(IncidentStatus, native_enum=False))
    wake_up: Mapped[bool]
    attempts: Mapped[int]
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime)
    last_failed_at: Mapped[datetime] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
