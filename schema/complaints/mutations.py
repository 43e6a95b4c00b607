"""Complaint mutations: registering a complaint (CMP-1), recording a delivery (CMP-3)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import strawberry
from sqlalchemy.exc import IntegrityError

from authz.rows import complaints_visible_to
from core.errors import UserInputError
from core.ids import pk_of
from resolvers.complaints import commands as logic
from schema.complaints.enums import (
    CategoryEnum,
    ChannelEnum,
    ComplaintErrorCode,
    CustomerMessageKind,
)
from schema.complaints.types import ComplaintNode, ComplaintUserError, present
from schema.shared.base import ContextInfo, user_errors
from schema.shared.mutations import mutate
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store import complaints as rows
from store.complaints import Complaint


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

        def command(session: Any) -> tuple[Complaint, bool]:
            draft = logic.ComplaintDraft(
                customer_id=pk_of(input.customer_id, "Customer", "customerId"),
                channel=input.channel,
                category=input.category,
                description=input.description,
                idempotency_key=input.idempotency_key,
                requested_remedy=input.requested_remedy,
                amount_in_dispute=input.amount_in_dispute,
                complained_staff=input.complained_staff,
                complained_branch_id=pk_of(input.complained_branch, "Branch", "complainedBranch")
                if input.complained_branch
                else None,
            )
            return logic.submit(session, ctx.actor, draft, ctx.access.visible)

        # A retried submission answers from a read: no unit of work, no second CHANGE entry.
        key = input.idempotency_key.strip()
        found = logic.find_submission(ctx.session, ctx.actor, key) if key else None
        if found is not None:
            return SubmitComplaintPayload(
                errors=[], complaint=present(info, [found])[0], created=False
            )
        try:
            try:
                complaint, created = mutate(info, command)
            except IntegrityError:
                # A concurrent retry with the same key won the race: answer with its complaint.
                found = logic.find_submission(ctx.session, ctx.actor, input.idempotency_key.strip())
                if found is None:
                    raise
                complaint, created = found, False
        except UserInputError as exc:
            return SubmitComplaintPayload(errors=_complaint_errors(exc))
        return SubmitComplaintPayload(
            errors=[], complaint=present(info, [complaint])[0], created=created
        )

    @guarded_mutation(
        "Record how a message reached the customer when its channel has no gateway yet (a "
        "registered letter, a notice handed over); the record is its proof of delivery. 登记送达。",
        HasRight("admin:complaint_intake", purpose=True),
    )
    def record_message_delivery(
        self, info: ContextInfo, input: RecordMessageDeliveryInput
    ) -> RecordMessageDeliveryPayload:
        ctx = info.context

        def command(session: Any) -> Complaint:
            return logic.record_delivery(
                session,
                ctx.actor,
                pk_of(input.complaint, "Complaint", "complaint"),
                rows.CustomerMessageKind(input.kind),
                input.proof,
                complaints_visible_to(ctx.actor, ctx.access.visible),
            )

        try:
            complaint = mutate(info, command)
        except UserInputError as exc:
            return RecordMessageDeliveryPayload(errors=_complaint_errors(exc))
        return RecordMessageDeliveryPayload(errors=[], complaint=present(info, [complaint])[0])
