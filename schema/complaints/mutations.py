"""Complaint mutations: registering a complaint (CMP-1); withdrawing, merging, pausing its
clock and taking up head office's alerts (CMP-7); recording a delivery (CMP-3)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

import strawberry
from sqlalchemy import ColumnElement
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from core.errors import UserInputError
from core.ids import pk_of
from resolvers.complaints import cases
from resolvers.complaints import commands as logic
from resolvers.outbox import commands as outbox
from schema.complaints.enums import (
    CategoryEnum,
    ChannelEnum,
    ComplaintErrorCode,
    CustomerMessageKind,
    PauseReasonEnum,
)
from schema.complaints.types import (
    ComplaintAlertNode,
    ComplaintNode,
    ComplaintUserError,
    present,
    present_alerts,
)
from schema.shared.base import ContextInfo, user_errors
from schema.shared.mutations import mutate
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store import complaints as rows
from store.complaints import Complaint, PauseReason
from store.staff import Staff


@strawberry.input(description="A complaint as the customer made it (CMP-1). 投诉登记。")
class SubmitComplaintInput:
    customer_id: strawberry.ID
    channel: ChannelEnum  # type: ignore[valid-type]
    category: CategoryEnum  # type: ignore[valid-type]
    description: str
    requested_remedy: str | None = None
    amount_in_dispute: Decimal | None = None
    complained_staff: str | None = strawberry.field(
        default=None, description="Employee number of the person complained about."
    )
    complained_branch: strawberry.ID | None = strawberry.field(
        default=None, description="The unit complained about (default: that person's branch)."
    )
    idempotency_key: str = strawberry.field(
        description="Your key for this submission: a retry with the same key returns the same "
        "complaint instead of registering it twice."
    )
    persons_involved: int = strawberry.field(
        default=1,
        description="How many people the complaint speaks for (a collective complaint: all of "
        "them). From the settings' number on it is a major complaint (重大投诉).",
    )
    regulator_reference: str | None = strawberry.field(
        default=None,
        description="A regulator's transfer number (转办编号): marks the complaint as referred "
        "by the regulator. Required with the REGULATOR_REFERRAL channel.",
    )


@strawberry.type
class SubmitComplaintPayload:
    errors: list[ComplaintUserError]
    complaint: ComplaintNode | None = None
    created: bool = strawberry.field(default=False, description="False for a retried submission.")


@strawberry.input(
    description="How staff delivered a message the outbox could not (CMP-3). 登记送达。"
)
class RecordMessageDeliveryInput:
    complaint: strawberry.ID
    kind: CustomerMessageKind = strawberry.field(  # type: ignore[valid-type]
        description="The message: the latest one of this kind not yet delivered."
    )
    proof: str = strawberry.field(
        description="The proof: a registered letter's number, the customer's signed receipt."
    )


@strawberry.type
class RecordMessageDeliveryPayload:
    errors: list[ComplaintUserError]
    complaint: ComplaintNode | None = None


def _complaint_errors(exc: UserInputError) -> list[ComplaintUserError]:
    return user_errors(exc, ComplaintUserError, ComplaintErrorCode)


@strawberry.input(description="The customer withdraws their complaint (CMP-7). 撤回投诉。")
class WithdrawComplaintInput:
    id: strawberry.ID
    reason: str = strawberry.field(description="Why, as the customer said (required).")


@strawberry.input(
    description="Merge a customer's repeated complaint about the same matter into their "
    "earlier one (CMP-7). 合并重复投诉。"
)
class MergeComplaintsInput:
    into: strawberry.ID = strawberry.field(description="The complaint kept: accepted first.")
    duplicate: strawberry.ID = strawberry.field(
        description="The repeated complaint: it ends, its timeline and messages are kept."
    )
    reason: str = strawberry.field(description="Why they are the same matter (required).")


@strawberry.input(
    description="Stop the decision clock for an external appraisal, testing or mediation "
    "(CMP-7). 中止计时。"
)
class PauseComplaintClockInput:
    id: strawberry.ID
    reason: PauseReasonEnum  # type: ignore[valid-type]
    note: str = strawberry.field(description="Who appraises, tests or mediates (required).")


@strawberry.input(
    description="The customer asks for a review by the superior unit, at any stage within 30 "
    "natural days of receiving the decision notice (CMP-4). 申请复核。"
)
class RequestComplaintReviewInput:
    id: strawberry.ID
    reason: str | None = strawberry.field(default=None, description="Why, as the customer said.")


@strawberry.input(description="Start the decision clock again. 恢复计时。")
class ResumeComplaintClockInput:
    id: strawberry.ID


@strawberry.input(
    description="Close the rectification item of a withdrawn or merged complaint, whose process "
    "(and rectification task) ended with it. 整改销项。"
)
class CloseRectificationInput:
    complaint_id: strawberry.ID
    actions: list[str] = strawberry.field(description="The actions taken (at least one).")
    completed_on: dt.date = strawberry.field(description="The day they were completed.")
    recurrence_check: str = strawberry.field(
        description="How it was checked that the issue did not recur (required)."
    )


@strawberry.input(description="Head office takes up an alert. 签收提示。")
class AcknowledgeComplaintAlertInput:
    id: strawberry.ID


@strawberry.type
class ComplaintPayload:
    errors: list[ComplaintUserError]
    complaint: ComplaintNode | None = None


@strawberry.type
class ComplaintAlertPayload:
    errors: list[ComplaintUserError]
    alert: ComplaintAlertNode | None = None


def _complaint_change(
    info: ContextInfo, command: Callable[[Session, Staff, ColumnElement[bool]], Complaint]
) -> ComplaintPayload:
    """Run a command on a complaint in the caller's own rows, as one unit of work."""
    ctx = info.context
    visible = ctx.access.complaints_in_rows
    try:
        complaint = mutate(info, lambda session: command(session, ctx.actor, visible))
    except UserInputError as exc:
        return ComplaintPayload(errors=_complaint_errors(exc))
    return ComplaintPayload(errors=[], complaint=present(info, [complaint])[0])


@strawberry.type
class ComplaintMutation:
    @guarded_mutation(
        "Register a complaint and start its process. 投诉登记。",
        HasRight("admin:complaint_intake", purpose=True),
    )
    def submit_complaint(
        self, info: ContextInfo, input: SubmitComplaintInput
    ) -> SubmitComplaintPayload:
        ctx = info.context
        try:
            draft = logic.ComplaintDraft(
                customer_id=pk_of(input.customer_id, "Customer", "customerId"),
                channel=input.channel,
                category=input.category,
                description=input.description,
                idempotency_key=input.idempotency_key,
                persons_involved=input.persons_involved,
                regulator_reference=input.regulator_reference,
                requested_remedy=input.requested_remedy,
                amount_in_dispute=input.amount_in_dispute,
                complained_staff=input.complained_staff,
                complained_branch_id=pk_of(input.complained_branch, "Branch", "complainedBranch")
                if input.complained_branch
                else None,
            )
            # A retried submission answers from a read: no unit of work, no second CHANGE
            # entry; the same key with a different request is refused.
            key = draft.idempotency_key.strip()
            found = logic.find_retry(ctx.session, ctx.actor, draft) if key else None
            if found is not None:
                return SubmitComplaintPayload(
                    errors=[], complaint=present(info, [found])[0], created=False
                )
            thresholds = logic.MajorThresholds(
                ctx.settings.major_complaint_persons, ctx.settings.major_complaint_amount
            )
            try:
                complaint, created = mutate(
                    info,
                    lambda session: logic.submit(
                        session, ctx.actor, draft, ctx.access.in_rows, thresholds
                    ),
                )
            except IntegrityError:
                # A concurrent retry with the same key won the race: answer with its complaint.
                found = logic.find_retry(ctx.session, ctx.actor, draft)
                if found is None:
                    raise
                complaint, created = found, False
        except UserInputError as exc:
            return SubmitComplaintPayload(errors=_complaint_errors(exc))
        return SubmitComplaintPayload(
            errors=[], complaint=present(info, [complaint])[0], created=created
        )

    @guarded_mutation(
        "Record that the customer withdrew the complaint: the reason is kept, the process "
        "ends (no further task, timer or message). 撤回投诉。",
        HasRight("complaint:withdraw", purpose=True),
    )
    def withdraw_complaint(
        self, info: ContextInfo, input: WithdrawComplaintInput
    ) -> ComplaintPayload:
        return _complaint_change(
            info,
            lambda session, actor, visible: cases.withdraw(
                session, actor, pk_of(input.id, "Complaint", "id"), input.reason, visible
            ),
        )

    @guarded_mutation(
        "Merge a customer's repeated complaint about the same matter into the one accepted "
        "first; refused across customers. 合并重复投诉。",
        HasRight("complaint:merge", purpose=True),
    )
    def merge_complaints(self, info: ContextInfo, input: MergeComplaintsInput) -> ComplaintPayload:
        return _complaint_change(
            info,
            lambda session, actor, visible: cases.merge(
                session,
                actor,
                pk_of(input.into, "Complaint", "into"),
                pk_of(input.duplicate, "Complaint", "duplicate"),
                input.reason,
                visible,
            ),
        )

    @guarded_mutation(
        "Pause the decision clock of an undecided complaint before its deadline for an "
        "external appraisal, testing or mediation (at most 60 natural days in all). 中止计时。",
        HasRight("complaint:pause", purpose=True),
    )
    def pause_complaint_clock(
        self, info: ContextInfo, input: PauseComplaintClockInput
    ) -> ComplaintPayload:
        reason = PauseReason(input.reason.value)  # type: ignore[attr-defined]
        return _complaint_change(
            info,
            lambda session, actor, visible: cases.pause(
                session, actor, pk_of(input.id, "Complaint", "id"), reason, input.note, visible
            ),
        )

    @guarded_mutation(
        "Record the customer's request for a review by the superior unit: at any stage after "
        "the decision notice reached them (before or after the call-back, satisfied or not), "
        "refused from the end of the 30 natural days (REVIEW_WINDOW_CLOSED). 申请复核。",
        HasRight("complaint:request_review", purpose=True),
    )
    def request_complaint_review(
        self, info: ContextInfo, input: RequestComplaintReviewInput
    ) -> ComplaintPayload:
        return _complaint_change(
            info,
            lambda session, actor, visible: cases.request_review(
                session, actor, pk_of(input.id, "Complaint", "id"), input.reason, visible
            ),
        )

    @guarded_mutation(
        "Start the decision clock again: the deadline moves by the natural days paused. 恢复计时。",
        HasRight("complaint:pause", purpose=True),
    )
    def resume_complaint_clock(
        self, info: ContextInfo, input: ResumeComplaintClockInput
    ) -> ComplaintPayload:
        return _complaint_change(
            info,
            lambda session, actor, visible: cases.resume(
                session, actor, pk_of(input.id, "Complaint", "id"), visible
            ),
        )

    @guarded_mutation(
        "Close the rectification item of a withdrawn or merged complaint: refused (RECURRED) "
        "while a complaint of the same category, cause and unit came in after the actions "
        "were completed. 整改销项。",
        HasRight("complaint:oversee"),
    )
    def close_rectification(
        self, info: ContextInfo, input: CloseRectificationInput
    ) -> ComplaintPayload:
        return _complaint_change(
            info,
            lambda session, actor, visible: cases.close_rectification(
                session,
                actor,
                pk_of(input.complaint_id, "Complaint", "complaintId"),
                input.actions,
                input.completed_on,
                input.recurrence_check,
                visible,
            ),
        )

    @guarded_mutation(
        "Take up an alert (a major complaint): who and when are recorded. 签收提示。",
        HasRight("complaint:oversee"),
    )
    def acknowledge_complaint_alert(
        self, info: ContextInfo, input: AcknowledgeComplaintAlertInput
    ) -> ComplaintAlertPayload:
        try:
            alert = mutate(
                info,
                lambda session: cases.acknowledge_alert(
                    session, info.context.actor, pk_of(input.id, "ComplaintAlert", "id")
                ),
            )
        except UserInputError as exc:
            return ComplaintAlertPayload(errors=_complaint_errors(exc))
        return ComplaintAlertPayload(errors=[], alert=present_alerts(info, [alert])[0])

    @guarded_mutation(
        "Record how a message reached the customer when its channel has no gateway yet (a "
        "registered letter, a notice handed over) or its automatic sending failed for good; the "
        "record is its proof of delivery. Refused (PROOF_FROM_CHANNEL on proof) while an "
        "automatic sender owns the message (retrying it, or awaiting its receipt). 登记送达。",
        HasRight("admin:complaint_intake", purpose=True),
    )
    def record_message_delivery(
        self, info: ContextInfo, input: RecordMessageDeliveryInput
    ) -> RecordMessageDeliveryPayload:
        ctx = info.context

        def command(session: Session) -> Complaint:
            return logic.record_delivery(
                session,
                ctx.actor,
                pk_of(input.complaint, "Complaint", "complaint"),
                rows.CustomerMessageKind(input.kind),
                input.proof,
                ctx.access.complaints_in_rows,
                outbox.automatic_channels(ctx.settings.smtp is not None),
            )

        try:
            complaint = mutate(info, command)
        except UserInputError as exc:
            return RecordMessageDeliveryPayload(errors=_complaint_errors(exc))
        return RecordMessageDeliveryPayload(errors=[], complaint=present(info, [complaint])[0])
