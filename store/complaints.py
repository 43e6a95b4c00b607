"""Complaints (CMP-1 … CMP-6): the register, the timeline, messages to the customer, rectifications.

A complaint is the domain record of one complaint process instance. The process (BPMN) decides
what happens next; these rows say what has happened: who handled it, the deadlines, the decision,
the follow-up. Free text a customer or handler writes may hold personal data, so it is sealed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import Enum, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from store.base import Base, Encrypted, Money, UTCDateTime


class Channel(StrEnum):
    HOTLINE = "HOTLINE"
    EMAIL = "EMAIL"
    ONLINE = "ONLINE"
    BRANCH_COUNTER = "BRANCH_COUNTER"
    REGULATOR_REFERRAL = "REGULATOR_REFERRAL"


class Category(StrEnum):
    SERVICE_ATTITUDE = "SERVICE_ATTITUDE"
    FEES_AND_CHARGES = "FEES_AND_CHARGES"
    PRODUCT_MIS_SELLING = "PRODUCT_MIS_SELLING"
    ACCOUNT_AND_PAYMENT = "ACCOUNT_AND_PAYMENT"
    LOANS_AND_CREDIT = "LOANS_AND_CREDIT"
    CARDS = "CARDS"
    DIGITAL_CHANNELS = "DIGITAL_CHANNELS"
    PERSONAL_INFORMATION = "PERSONAL_INFORMATION"
    OTHER = "OTHER"


class ComplaintStatus(StrEnum):
    REGISTERED = "REGISTERED"
    INVESTIGATING = "INVESTIGATING"
    DECIDED = "DECIDED"
    UNDER_REVIEW = "UNDER_REVIEW"
    CLOSED = "CLOSED"
    # Ended without a decision (CMP-7): the customer withdrew it, or it was merged into an
    # earlier complaint of the same customer about the same matter.
    WITHDRAWN = "WITHDRAWN"
    MERGED = "MERGED"


# A complaint in one of these states has ended: no task, timer or message follows.
ENDED_STATUSES = (ComplaintStatus.CLOSED, ComplaintStatus.WITHDRAWN, ComplaintStatus.MERGED)


class PauseReason(StrEnum):
    """Why a complaint's clock stopped: time that does not count (CBIRC 2020 No. 3, art. 26)."""

    APPRAISAL = "APPRAISAL"
    TESTING = "TESTING"
    MEDIATION = "MEDIATION"


class Complexity(StrEnum):
    STANDARD = "STANDARD"
    COMPLEX = "COMPLEX"
    ESPECIALLY_COMPLEX = "ESPECIALLY_COMPLEX"


class SlaState(StrEnum):
    ON_TRACK = "ON_TRACK"
    AT_RISK = "AT_RISK"
    BREACHED = "BREACHED"


class ComplaintEventKind(StrEnum):
    """What one step of a complaint's timeline records (stored as its value)."""

    REGISTERED = "REGISTERED"
    HANDLER_ASSIGNED = "HANDLER_ASSIGNED"
    # A task the diagram gave the person complained about went to someone else (recusal).
    TASK_REROUTED = "TASK_REROUTED"
    TASK_COMPLETED = "TASK_COMPLETED"
    PLAN_MADE = "PLAN_MADE"
    RESOLVED_ON_THE_SPOT = "RESOLVED_ON_THE_SPOT"
    DEADLINE_EXTENDED = "DEADLINE_EXTENDED"
    EXTENSION_APPROVED = "EXTENSION_APPROVED"
    EXTENSION_REFUSED = "EXTENSION_REFUSED"
    DEADLINE_WARNING = "DEADLINE_WARNING"
    DEADLINE_MISSED = "DEADLINE_MISSED"
    REVIEW_DEADLINE_MISSED = "REVIEW_DEADLINE_MISSED"
    DELIVERY_FAILED = "DELIVERY_FAILED"
    DELIVERY_RECORDED = "DELIVERY_RECORDED"
    PROGRESS_UPDATE_SENT = "PROGRESS_UPDATE_SENT"
    DECISION_DELIVERED = "DECISION_DELIVERED"
    CALLED_BACK = "CALLED_BACK"
    REVIEW_REQUESTED = "REVIEW_REQUESTED"
    REVIEWED = "REVIEWED"
    RECTIFICATION_RAISED = "RECTIFICATION_RAISED"
    RECTIFICATION_CLOSED = "RECTIFICATION_CLOSED"
    CLOSED = "CLOSED"
    MAJOR_ESCALATED = "MAJOR_ESCALATED"
    WITHDRAWN = "WITHDRAWN"
    MERGED_INTO = "MERGED_INTO"
    MERGED_FROM = "MERGED_FROM"
    CLOCK_PAUSED = "CLOCK_PAUSED"
    CLOCK_RESUMED = "CLOCK_RESUMED"


class DeadlineStage(StrEnum):
    """Which clock a deadline row is: the decision deadline, or the due time of one stage."""

    DECISION = "DECISION"
    ASSIGNMENT = "ASSIGNMENT"
    CALL_BACK = "CALL_BACK"
    REVIEW_REQUEST = "REVIEW_REQUEST"
    REVIEW_DECISION = "REVIEW_DECISION"
    RECTIFICATION = "RECTIFICATION"
    OTHER_TASK = "OTHER_TASK"
    # A branch supervisor's task to supervise an overdue complaint (escalated to head office).
    SUPERVISION = "SUPERVISION"
    # Not a deadline: when the next progress update to the customer is due.
    PROGRESS = "PROGRESS"


class DeadlineEnd(StrEnum):
    """Why a deadline row stopped running."""

    MET = "MET"
    MISSED = "MISSED"
    EXTENDED = "EXTENDED"
    ENDED = "ENDED"


class CustomerMessageKind(StrEnum):
    """What the bank told the customer (stored as its value)."""

    ACKNOWLEDGEMENT = "ACKNOWLEDGEMENT"
    EXTENSION = "EXTENSION"
    PROGRESS = "PROGRESS"
    DECISION_NOTICE = "DECISION_NOTICE"
    REVIEW_DECISION = "REVIEW_DECISION"
    CLOCK_PAUSED = "CLOCK_PAUSED"
    CLOCK_RESUMED = "CLOCK_RESUMED"
    MERGED = "MERGED"


class CustomerMessageChannel(StrEnum):
    """How a message reached the customer (the decision notice form offers the same list)."""

    SMS = "SMS"
    EMAIL = "EMAIL"
    WECHAT = "WECHAT"
    LETTER = "LETTER"
    PHONE = "PHONE"
    IN_PERSON = "IN_PERSON"
    MOBILE_APP = "MOBILE_APP"


def _enum(kind: type[StrEnum]) -> Enum:
    return Enum(kind, native_enum=False, length=32)


class Complaint(Base):
    __tablename__ = "complaints"
    __table_args__ = (
        UniqueConstraint("submitted_by_id", "idempotency_key"),
        Index("ix_complaints_handler", "handler_id", "status"),
        Index("ix_complaints_customer", "customer_id"),
        Index("ix_complaints_branch", "branch_id", "status"),
        # The complaint of an instance (task guards, operations); complaints about someone
        # (the tasks kept out of their inbox by recusal).
        Index("ix_complaints_instance", "instance_id"),
        Index("ix_complaints_complained_staff", "complained_staff_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(20), unique=True)
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id"))
    branch_id: Mapped[int] = mapped_column(ForeignKey("branches.id"))
    channel: Mapped[Channel] = mapped_column(_enum(Channel))
    category: Mapped[Category] = mapped_column(_enum(Category))
    description: Mapped[str] = mapped_column(Encrypted("complaints.description"))
    requested_remedy: Mapped[str | None] = mapped_column(Encrypted("complaints.requested_remedy"))
    amount_in_dispute: Mapped[Decimal | None] = mapped_column(Money)
    complained_staff_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    complained_branch_id: Mapped[int | None] = mapped_column(ForeignKey("branches.id"))
    idempotency_key: Mapped[str] = mapped_column(String(100))
    submitted_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    accepted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    status: Mapped[ComplaintStatus] = mapped_column(_enum(ComplaintStatus))
    complexity: Mapped[Complexity] = mapped_column(_enum(Complexity))
    sla_state: Mapped[SlaState] = mapped_column(_enum(SlaState))
    decision_due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    handler_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    cause: Mapped[str | None] = mapped_column(String(40))
    systemic: Mapped[bool]
    resolved_on_the_spot: Mapped[bool]
    plan_owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    plan_deadline: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    outcome: Mapped[str | None] = mapped_column(String(40))
    satisfaction_score: Mapped[int | None]
    review_requested_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    review_outcome: Mapped[str | None] = mapped_column(String(40))
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    instance_id: Mapped[int | None] = mapped_column(ForeignKey("process_instances.id"))
    # CMP-7: how many people the complaint speaks for, and whether it is a major one (重大投诉:
    # that many people or that large an amount, as the settings say) — fixed at intake.
    persons_involved: Mapped[int] = mapped_column(default=1)
    major: Mapped[bool] = mapped_column(default=False)
    # The regulator's transfer number (转办编号) of a complaint it referred; null: not referred.
    regulator_reference: Mapped[str | None] = mapped_column(String(64))
    merged_into_id: Mapped[int | None] = mapped_column(ForeignKey("complaints.id"))
    withdrawn_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    withdrawal_reason: Mapped[str | None] = mapped_column(Encrypted("complaints.withdrawal_reason"))
    # Natural days the decision clock stood still in ended pauses (appraisal, testing,
    # mediation); while a pause is open, ``paused_until`` is the latest instant it may reach.
    paused_days: Mapped[int] = mapped_column(default=0)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The earliest running stage deadline (assignment, call-back, review, ...; not the decision
    # deadline), kept by resolvers.complaints.deadlines so "overdue" is one column comparison.
    stage_due_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)


class ComplaintDeadline(Base):
    """One clock of a complaint (CMP-6): the decision deadline in force (a new row for each
    extension, the old one ended as EXTENDED), or the due time of one user task's stage.

    The timers worker warns at ``warn_at`` and escalates at ``due_at``, each once per row.
    """

    __tablename__ = "complaint_deadlines"
    __table_args__ = (
        Index("ix_complaint_deadlines_complaint", "complaint_id", "id"),
        Index("ix_complaint_deadlines_running", "ended_at", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    stage: Mapped[DeadlineStage] = mapped_column(_enum(DeadlineStage))
    task_id: Mapped[int | None] = mapped_column(ForeignKey("process_tasks.id"))
    set_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warn_at: Mapped[datetime] = mapped_column(UTCDateTime)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    warned_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    escalated_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime, default=None)
    end: Mapped[DeadlineEnd | None] = mapped_column(_enum(DeadlineEnd), default=None)


class ComplaintEvent(Base):
    """One step of a complaint's timeline: what happened, who did it, when, and the notes."""

    __tablename__ = "complaint_events"
    __table_args__ = (Index("ix_complaint_events_complaint", "complaint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    kind: Mapped[str] = mapped_column(String(40))
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Form answers and notes: sealed, because handlers write customers' details into them.
    details: Mapped[str | None] = mapped_column(Encrypted("complaint_events.details"))


class CustomerMessage(Base):
    """Something the bank told the customer about their complaint.

    Its delivery (status, the channel's answer as proof) is the outbox row it names; rows
    written before the outbox existed keep their own ``proof_of_delivery``.
    """

    __tablename__ = "complaint_messages"
    __table_args__ = (Index("ix_complaint_messages_complaint", "complaint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    kind: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(32))
    content: Mapped[str] = mapped_column(Encrypted("complaint_messages.content"))
    proof_of_delivery: Mapped[str | None] = mapped_column(
        Encrypted("complaint_messages.proof_of_delivery")
    )
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("outbox_messages.id"))


class Rectification(Base):
    """A systemic or common issue escalated to head office and tracked to closure (CMP-5)."""

    __tablename__ = "rectifications"

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"), unique=True)
    issue: Mapped[str] = mapped_column(String(300))
    # The actions taken, as a JSON list: free text, sealed.
    actions: Mapped[str | None] = mapped_column(Encrypted("rectifications.actions"))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    # Who answers for it and by when (the timer that chases it belongs to the process).
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    due_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What was checked before closing: that the issue did not recur (sealed free text).
    recurrence_check: Mapped[str | None] = mapped_column(
        Encrypted("rectifications.recurrence_check")
    )


class ComplaintPause(Base):
    """A stretch of time that does not count towards the decision deadline (CMP-7)."""

    __tablename__ = "complaint_pauses"
    __table_args__ = (Index("ix_complaint_pauses_complaint", "complaint_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    reason: Mapped[PauseReason] = mapped_column(_enum(PauseReason))
    note: Mapped[str] = mapped_column(Encrypted("complaint_pauses.note"))
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_by_id: Mapped[int] = mapped_column(ForeignKey("staff.id"))
    # The last instant this pause may reach (the allowance left when it started).
    latest_end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    ended_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
    paused_days: Mapped[int | None]


# The kind of alert a major complaint raises for head office.
ALERT_MAJOR = "MAJOR_COMPLAINT"
# A task of the complaint that nobody in the bank may take (its only holders are recused).
ALERT_NO_ELIGIBLE_HOLDER = "NO_ELIGIBLE_HOLDER"


class ComplaintAlert(Base):
    """Work for head office that the rules raise at once, whatever the diagram says: a major
    complaint (CMP-7). Open until a head-office member acknowledges it."""

    __tablename__ = "complaint_alerts"
    __table_args__ = (Index("ix_complaint_alerts_open", "acknowledged_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    complaint_id: Mapped[int] = mapped_column(ForeignKey("complaints.id"))
    kind: Mapped[str] = mapped_column(String(32))
    raised_at: Mapped[datetime] = mapped_column(UTCDateTime)
    acknowledged_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    acknowledged_by_id: Mapped[int | None] = mapped_column(ForeignKey("staff.id"))
