"""Contact mutations: log a contact (REL-1)."""

from __future__ import annotations

import datetime as dt
from datetime import timedelta

import strawberry
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from core.ids import pk_of
from resolvers.contacts import commands
from schema.contacts.enums import ContactChannelEnum, ContactPurposeEnum, PhoneLineEnum
from schema.contacts.types import ContactNode, ContactPayload, contact_errors, present
from schema.shared.base import ContextInfo
from schema.shared.mutations import KEY_DESCRIPTION, Once, created_id, load_row, run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store.contacts import Contact, ContactChannel, ContactPurpose, PhoneLine
from store.staff import Staff


@strawberry.input(description="A contact with a customer (REL-1). 登记客户联系。")
class LogContactInput:
    customer_id: strawberry.ID
    channel: ContactChannelEnum  # type: ignore[valid-type]
    phone_line: PhoneLineEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Required for `PHONE` (hotline or manager), else omitted."
    )
    purpose: ContactPurposeEnum  # type: ignore[valid-type]
    contacted_at: dt.datetime = strawberry.field(
        description="When it took place (UTC offset required); not in the future."
    )
    summary: str = strawberry.field(description="What was said (at most 2,000 characters).")
    outcome: str | None = strawberry.field(default=None, description="At most 1,000 characters.")
    next_step: str | None = strawberry.field(
        default=None, description="What is to happen next (at most 1,000 characters)."
    )
    next_step_due_on: dt.date | None = strawberry.field(
        default=None,
        description="The Beijing date the next step is due (today … a year ahead): it opens a "
        "task in the customer's relationship manager's inbox, due at the end of that day.",
    )
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class ContactMutation:
    @guarded_mutation(
        "Log a contact with a customer you may change (REL-1): phone, visit, e-mail, SMS, "
        "WeChat or Weibo, its purpose, what was said, the outcome and the next step; a next "
        "step with a date becomes a task in the manager's inbox. 登记客户联系。",
        HasRight("contact:log", purpose=True),
    )
    def log_contact(self, info: ContextInfo, input: LogContactInput) -> ContactPayload:
        ctx = info.context
        leeway = timedelta(seconds=ctx.settings.token_leeway_seconds)
        given = commands.NewContact(
            channel=ContactChannel(input.channel),
            phone_line=PhoneLine(input.phone_line) if input.phone_line else None,
            purpose=ContactPurpose(input.purpose),
            contacted_at=input.contacted_at,
            summary=input.summary,
            outcome=input.outcome,
            next_step=input.next_step,
            next_step_due_on=input.next_step_due_on,
        )

        def command(session: Session, actor: Staff) -> Contact:
            customer_id = row_scopes.require_writable(
                session,
                pk_of(input.customer_id, "Customer", "customerId"),
                ctx.access.visible,
                ctx.access.writable,
            )
            return commands.log_contact(session, actor, customer_id, given, leeway)

        def answer(contact: Contact) -> ContactPayload:
            node: ContactNode = present(info, [contact])[0]
            return ContactPayload(errors=[], contact=node)

        return run_command(
            info,
            ContactPayload,
            command,
            answer,
            errors=contact_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(Contact)),
        )
