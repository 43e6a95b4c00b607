"""Change notifications of followed customers (INFO-6): the list, marking read, the live
subscription, and a notification by global ID (its recipient only)."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from collections.abc import AsyncGenerator
from enum import Enum
from typing import Any

import strawberry
from sqlalchemy import case
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from core.errors import ForbiddenError, UserInputError
from core.ids import pk_of
from resolvers import notifications as logic
from resolvers.shared.filters import FilterField, compile_where
from schema.customers.enums import InformationKindEnum
from schema.customers.filters import InformationKindFilter
from schema.customers.types import CustomerNode
from schema.shared.base import (
    BooleanFilter,
    Connection,
    ContextInfo,
    DateTimeFilter,
    Node,
    NodeLoader,
    bilingual_enum,
    node_id,
    page_request,
    user_errors,
)
from schema.shared.context import Context
from schema.shared.customers import nested_customer
from schema.shared.mutations import run_command
from schema.shared.rights import Authenticated, HasRight, declared_right
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from schema.shared.rights import subscription as guarded_subscription
from store.customers import Notification
from store.staff import Staff

log = logging.getLogger("kehu")


@strawberry.type(name="Notification", description="A change to a customer you follow (INFO-6).")
class NotificationNode(Node):
    _customer_id: strawberry.Private[int]
    customer_version: int
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    fields: list[str]
    summary: str
    created_at: dt.datetime
    read_at: dt.datetime | None

    @classmethod
    def present(cls, row: Notification) -> NotificationNode:
        return cls(
            id=node_id("Notification", row.id),
            _customer_id=row.customer_id,
            customer_version=row.customer_version,
            information_kind=row.information_kind,
            fields=list(row.fields),
            summary=row.summary,
            created_at=row.created_at,
            read_at=row.read_at,
        )

    @strawberry.field
    def customer(self, info: ContextInfo) -> CustomerNode | None:
        return nested_customer(info, self._customer_id, "notification_customers")


@strawberry.input(description="Filters of your notifications; all given conditions must hold.")
class NotificationWhere:
    read: BooleanFilter | None = strawberry.field(
        default=None, description="true: marked read; false: not yet read. 是否已读。"
    )
    information_kind: InformationKindFilter | None = None
    created_at: DateTimeFilter | None = None
    and_: list[NotificationWhere] | None = strawberry.field(name="and", default=None)
    or_: list[NotificationWhere] | None = strawberry.field(name="or", default=None)


NOTIFICATION_FILTERS = {
    "read": FilterField(case((Notification.read_at.is_not(None), True), else_=False)),
    "information_kind": FilterField(Notification.information_kind),
    "created_at": FilterField(Notification.created_at),
}


@strawberry.type
class NotificationQuery:
    @guarded_field("Your change notifications, newest first (INFO-6). 变更通知。", Authenticated())
    def notifications(
        self,
        info: ContextInfo,
        where: NotificationWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[NotificationNode]:
        ctx = info.context
        page = logic.notification_page(
            ctx.session,
            ctx.actor,
            compile_where(where, NOTIFICATION_FILTERS),
            page_request(first, after, last, before),
        )
        ctx.pending("notification_customers").extend(r.customer_id for r in page.rows)
        return Connection.of(page, [NotificationNode.present(r) for r in page.rows])


class _NotificationErrorCode(Enum):
    INVALID_ID = "INVALID_ID"
    TOO_MANY = "TOO_MANY"


NotificationErrorCode = bilingual_enum(
    _NotificationErrorCode,
    "Why a notifications input was refused. 通知输入错误代码。",
    {
        "INVALID_ID": "Not the global ID of a notification 通知 ID 无效",
        "TOO_MANY": "Too many notifications in one call 单次数量过多",
    },
)


@strawberry.type(description="A refused notifications input. 通知输入错误。")
class NotificationUserError:
    field: list[str] | None
    code: NotificationErrorCode  # type: ignore[valid-type]
    message: str


def notification_errors(exc: UserInputError) -> list[NotificationUserError]:
    return user_errors(exc, NotificationUserError, lambda code: NotificationErrorCode[code])


@strawberry.input
class MarkNotificationsReadInput:
    ids: list[strawberry.ID]


@strawberry.type
class MarkNotificationsReadPayload:
    errors: list[NotificationUserError]
    marked: int = 0


@strawberry.type
class NotificationMutation:
    @guarded_mutation("Mark your notifications read. 标记通知已读。", HasRight("customer:watch"))
    def mark_notifications_read(
        self, info: ContextInfo, input: MarkNotificationsReadInput
    ) -> MarkNotificationsReadPayload:
        def command(s: Session, actor: Staff) -> int:
            if len(input.ids) > 100:
                raise UserInputError.one(("ids",), "TOO_MANY", "at most 100 per call")
            ids = [pk_of(v, "Notification", ("ids", str(i))) for i, v in enumerate(input.ids)]
            return logic.mark_notifications_read(s, actor, ids)

        return run_command(
            info,
            MarkNotificationsReadPayload,
            command,
            lambda marked: MarkNotificationsReadPayload(marked=marked, errors=[]),
            errors=notification_errors,
        )


@strawberry.type
class NotificationSubscription:
    @guarded_subscription(
        "Changes to customers you follow, as they happen (INFO-6). 客户变更推送。",
        HasRight("customer:watch"),
    )
    async def customer_changes(self, info: ContextInfo) -> AsyncGenerator[NotificationNode, None]:
        ctx = info.context
        staff = ctx.actor
        interval = ctx.settings.notification_poll_seconds
        right = declared_right(info._field)

        def still_allowed(problem: str | None) -> str | None:
            """The caller's check, then this field's declared right under today's policy."""
            if problem is None and right is not None:
                try:
                    right.check(ctx, {})
                except ForbiddenError as exc:
                    return exc.message
            return problem

        def read(after: int) -> list[Any]:
            with ctx.session_factory() as session:
                return logic.notifications_after(session, staff.id, after)

        def latest() -> int:
            with ctx.session_factory() as session:
                return logic.latest_notification_id(session, staff.id)

        # The outbox is the source of truth, so every API process sees every change.
        last_seen = await run_in_threadpool(latest)
        checked_at = time.monotonic()
        while True:
            for row in await run_in_threadpool(read, last_seen):
                last_seen = row.id
                ctx.start_event()
                # The right to see is checked again for every event, not once at connect.
                refused = still_allowed(await run_in_threadpool(ctx.recheck, row.customer_id))
                if refused is not None:
                    await _forbid(ctx, refused)
                checked_at = time.monotonic()
                yield NotificationNode.present(row)
            ctx.start_event()
            # A quiet socket is checked too: a deactivated caller or an expired token loses it
            # within the recheck interval, not at the next event.
            if time.monotonic() - checked_at >= ctx.settings.subscription_recheck_seconds:
                refused = still_allowed(await run_in_threadpool(ctx.recheck_caller))
                ctx.start_event()
                if refused is not None:
                    await _forbid(ctx, refused)
                checked_at = time.monotonic()
            await asyncio.sleep(interval)


async def _forbid(ctx: Context, reason: str) -> None:
    """Close the subscriber's websocket with 4403 Forbidden; wait for the server to end this.

    Closing the socket (not completing the operation) ends every operation of the connection
    at once; the protocol handler then cancels them, so this never returns.
    """
    log.info("subscription of %s closed with 4403: %s", ctx.actor.employee_no, reason)
    await ctx.request.close(code=4403, reason="Forbidden")
    await asyncio.Event().wait()


def _load_notification(info: ContextInfo, pk: int) -> NotificationNode | None:
    """Only its recipient sees a notification, whoever else may see the customer."""
    ctx = info.context
    row = logic.own_notification(ctx.session, ctx.actor.id, pk)
    return NotificationNode.present(row) if row else None


NODE_LOADERS: dict[str, NodeLoader] = {"Notification": _load_notification}
