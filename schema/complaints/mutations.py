"""Complaint mutations: registering a complaint (CMP-1)."""

from __future__ import annotations

from decimal import Decimal

import strawberry
from sqlalchemy.exc import IntegrityError

from core.errors import UserInputError
from core.ids import pk_of
from resolvers.complaints import commands as logic
from schema.complaints.enums import CategoryEnum, ChannelEnum, ComplaintErrorCode
from schema.complaints.types import ComplaintNode, ComplaintUserError, present
from schema.shared.base import ContextInfo, user_errors
from schema.shared.mutations import mutate
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation


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
        try:
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
            # A retried submission answers from a read: no unit of work, no second CHANGE
            # entry; the same key with a different request is refused.
            key = draft.idempotency_key.strip()
            found = logic.find_retry(ctx.session, ctx.actor, draft) if key else None
            if found is not None:
                return SubmitComplaintPayload(
                    errors=[], complaint=present(info, [found])[0], created=False
                )
            try:
                complaint, created = mutate(
                    info,
                    lambda session: logic.submit(session, ctx.actor, draft, ctx.access.in_rows),
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
