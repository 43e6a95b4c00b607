"""Club mutations (REL-4): create an event, invite a segment, register a customer, record
attendance, set which tiers are members."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import strawberry
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from core.ids import pk_of
from resolvers.club import commands
from resolvers.club import queries as logic
from schema.club.enums import ClubEventKindEnum
from schema.club.types import (
    ClubEventPayload,
    ClubInvitationPayload,
    ClubMembershipPayload,
    ClubMembershipTier,
    ClubRegistrationPayload,
    club_errors,
    present_events,
    present_registration,
)
from schema.segments.enums import NeedEnum, RiskGradeEnum, ValueTierEnum
from schema.shared.base import ContextInfo
from schema.shared.mutations import KEY_DESCRIPTION, Once, created_id, load_row, run_command
from schema.shared.rights import HasRight
from schema.shared.rights import mutation as guarded_mutation
from store.club import ClubEvent, ClubEventKind, ClubRegistration
from store.segments import Need, RiskGrade, ValueTier
from store.staff import Staff


@strawberry.input(description="A customer-club event (REL-4). 新建客户俱乐部活动。")
class CreateClubEventInput:
    kind: ClubEventKindEnum  # type: ignore[valid-type]
    title: str = strawberry.field(description="At most 200 characters.")
    starts_at: dt.datetime = strawberry.field(
        description="When it begins (UTC offset required): in the future, within a year."
    )
    capacity: int = strawberry.field(description="Seats, 1 … 10,000.")
    branch_id: strawberry.ID | None = strawberry.field(
        default=None, description="Your branch when omitted; another branch: head office only."
    )
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input(
    description="Invite a segment of the event branch's club members (REL-4): every given "
    "condition must hold. 按客户分群邀请。"
)
class InviteToClubEventInput:
    event_id: strawberry.ID
    tiers: list[ValueTierEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Member tiers to invite; every member tier when omitted."
    )
    needs: list[NeedEnum] = strawberry.field(  # type: ignore[valid-type]
        default_factory=list, description="Needs the customers must all have (SEG-2)."
    )
    risk_grades: list[RiskGradeEnum] | None = strawberry.field(  # type: ignore[valid-type]
        default=None,
        description="Risk grades (SEG-3) to invite; customers without a grade are then left out.",
    )


@strawberry.input(description="Register a customer for a club event. 活动报名。")
class RegisterForClubEventInput:
    event_id: strawberry.ID
    customer_id: strawberry.ID
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.input(description="Whether a registered customer came. 登记到场。")
class RecordClubAttendanceInput:
    event_id: strawberry.ID
    customer_id: strawberry.ID
    attended: bool = True


@strawberry.input(description="Cancel a club event before it begins. 取消活动。")
class CancelClubEventInput:
    event_id: strawberry.ID
    reason: str = strawberry.field(description="Why (kept for the record, not sent); ≤ 500.")


@strawberry.input(
    description="Change a club event before it begins; omitted fields stay. 修改活动。"
)
class UpdateClubEventInput:
    event_id: strawberry.ID
    title: str | None = strawberry.field(default=None, description="At most 200 characters.")
    capacity: int | None = strawberry.field(
        default=None, description="Seats, 1 … 10,000, and not below the seats taken."
    )
    starts_at: dt.datetime | None = strawberry.field(
        default=None,
        description="A new start (UTC offset required): in the future, within a year; the "
        "registrants are told.",
    )


@strawberry.input(description="Withdraw a customer's registration. 取消报名。")
class WithdrawClubRegistrationInput:
    event_id: strawberry.ID
    customer_id: strawberry.ID


@strawberry.input(description="Which tiers are club members, at which level. 会员等级设置。")
class SetClubMembershipInput:
    tier: ValueTierEnum  # type: ignore[valid-type]
    level: str | None = strawberry.field(
        description="The level (e.g. `GOLD`; letters, digits, _); null: the tier is no longer "
        "a member tier."
    )
    label: str | None = strawberry.field(
        default=None, description="The level as customers read it (e.g. 金卡会员)."
    )


def _event(session: Session, info: ContextInfo, global_id: strawberry.ID) -> ClubEvent:
    reach = commands.events_in_reach(info.context.actor, info.context.access.row_scopes)
    return commands.event_in_reach(session, pk_of(global_id, "ClubEvent", "eventId"), reach)


def _customer(session: Session, info: ContextInfo, global_id: strawberry.ID) -> int:
    access = info.context.access
    return row_scopes.require_writable(
        session, pk_of(global_id, "Customer", "customerId"), access.visible, access.writable
    )


def _registration_answer(
    info: ContextInfo,
) -> Callable[[ClubRegistration], ClubRegistrationPayload]:
    return lambda row: ClubRegistrationPayload(
        errors=[], registration=present_registration(info, row)
    )


def _event_answer(info: ContextInfo) -> Callable[[ClubEvent], ClubEventPayload]:
    return lambda event: ClubEventPayload(errors=[], event=present_events(info, [event])[0])


@strawberry.type
class ClubMutation:
    @guarded_mutation(
        "Create a club event of your branch (REL-4): kind, title, start, capacity. "
        "新建客户俱乐部活动。",
        HasRight("club:event"),
    )
    def create_club_event(self, info: ContextInfo, input: CreateClubEventInput) -> ClubEventPayload:
        ctx = info.context

        def command(session: Session, actor: Staff) -> ClubEvent:
            branch = (
                None if input.branch_id is None else pk_of(input.branch_id, "Branch", "branchId")
            )
            given = commands.NewEvent(
                kind=ClubEventKind(input.kind),
                title=input.title,
                branch_id=branch,
                starts_at=input.starts_at,
                capacity=input.capacity,
            )
            return commands.create_event(session, actor, ctx.access.row_scopes, given)

        return run_command(
            info,
            ClubEventPayload,
            command,
            lambda event: ClubEventPayload(errors=[], event=present_events(info, [event])[0]),
            errors=club_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(ClubEvent)),
        )

    @guarded_mutation(
        "Invite the club members of the event's branch in a segment — tiers, needs, risk "
        "grades — that you see, in one statement; inviting again adds only new members. "
        "按客户分群邀请参加活动。",
        HasRight("club:event"),
    )
    def invite_to_club_event(
        self, info: ContextInfo, input: InviteToClubEventInput
    ) -> ClubInvitationPayload:
        ctx = info.context
        segment = commands.Segment(
            tiers=None if input.tiers is None else [ValueTier(t) for t in input.tiers],
            needs=[Need(n) for n in input.needs],
            risk_grades=(
                None if input.risk_grades is None else [RiskGrade(g) for g in input.risk_grades]
            ),
        )

        def command(session: Session, actor: Staff) -> tuple[ClubEvent, int]:
            event = _event(session, info, input.event_id)
            return event, commands.invite(session, actor, event, segment, ctx.access.visible)

        def answer(result: tuple[ClubEvent, int]) -> ClubInvitationPayload:
            event, count = result
            return ClubInvitationPayload(
                errors=[], event=present_events(info, [event])[0], invited=count
            )

        return run_command(info, ClubInvitationPayload, command, answer, errors=club_errors)

    @guarded_mutation(
        "Register a club member you may change for an event of your branch with a free seat; "
        "a full event or a second registration is refused (`FULL`, `ALREADY_REGISTERED`). "
        "客户活动报名。",
        HasRight("club:register", purpose=True),
    )
    def register_for_club_event(
        self, info: ContextInfo, input: RegisterForClubEventInput
    ) -> ClubRegistrationPayload:
        def command(session: Session, actor: Staff) -> ClubRegistration:
            event = _event(session, info, input.event_id)
            customer_id = _customer(session, info, input.customer_id)
            return commands.register(session, actor, event, customer_id)

        return run_command(
            info,
            ClubRegistrationPayload,
            command,
            _registration_answer(info),
            errors=club_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(ClubRegistration)),
        )

    @guarded_mutation(
        "Record whether a registered customer came to an event (from its start on). "
        "登记活动到场情况。",
        HasRight("club:register", purpose=True),
    )
    def record_club_attendance(
        self, info: ContextInfo, input: RecordClubAttendanceInput
    ) -> ClubRegistrationPayload:
        def command(session: Session, actor: Staff) -> ClubRegistration:
            event = _event(session, info, input.event_id)
            customer_id = _customer(session, info, input.customer_id)
            return commands.record_attendance(session, actor, event, customer_id, input.attended)

        return run_command(
            info,
            ClubRegistrationPayload,
            command,
            _registration_answer(info),
            errors=club_errors,
        )

    @guarded_mutation(
        "Cancel a club event of your branch before it begins, with a reason: every registrant "
        "is told through the outbox over their preferred channel; later invitations, "
        "registrations and changes are refused (`EVENT_CANCELLED`). 取消俱乐部活动。",
        HasRight("club:event"),
    )
    def cancel_club_event(self, info: ContextInfo, input: CancelClubEventInput) -> ClubEventPayload:
        def command(session: Session, actor: Staff) -> ClubEvent:
            event = _event(session, info, input.event_id)
            return commands.cancel_event(session, actor, event, input.reason)

        return run_command(info, ClubEventPayload, command, _event_answer(info), errors=club_errors)

    @guarded_mutation(
        "Change the title, capacity or start of a club event of your branch before it begins; a "
        "capacity below the seats taken is `BELOW_REGISTERED`; a new start is told to the "
        "registrants. 修改俱乐部活动。",
        HasRight("club:event"),
    )
    def update_club_event(self, info: ContextInfo, input: UpdateClubEventInput) -> ClubEventPayload:
        change = commands.EventChange(
            title=input.title, capacity=input.capacity, starts_at=input.starts_at
        )

        def command(session: Session, actor: Staff) -> ClubEvent:
            return commands.update_event(session, _event(session, info, input.event_id), change)

        return run_command(info, ClubEventPayload, command, _event_answer(info), errors=club_errors)

    @guarded_mutation(
        "Withdraw a customer's registration before the event begins: the seat is free again "
        "(`NOT_REGISTERED`, `EVENT_STARTED`, `EVENT_CANCELLED`). 取消活动报名。",
        HasRight("club:register", purpose=True),
    )
    def withdraw_club_registration(
        self, info: ContextInfo, input: WithdrawClubRegistrationInput
    ) -> ClubEventPayload:
        def command(session: Session, actor: Staff) -> ClubEvent:
            event = _event(session, info, input.event_id)
            customer_id = _customer(session, info, input.customer_id)
            return commands.withdraw_registration(session, actor, event, customer_id)

        return run_command(info, ClubEventPayload, command, _event_answer(info), errors=club_errors)

    @guarded_mutation(
        "Make a value tier's customers club members at a level, or no longer members. "
        "设置俱乐部会员等级。",
        HasRight("club:membership"),
    )
    def set_club_membership(
        self, info: ContextInfo, input: SetClubMembershipInput
    ) -> ClubMembershipPayload:
        def command(session: Session, actor: Staff) -> None:
            commands.set_membership(session, ValueTier(input.tier), input.level, input.label)

        return run_command(
            info,
            ClubMembershipPayload,
            command,
            lambda _: ClubMembershipPayload(
                errors=[],
                tiers=[ClubMembershipTier.of(t) for t in logic.tiers(info.context.session)],
            ),
            errors=club_errors,
        )
