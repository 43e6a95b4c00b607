"""The assembled GraphQL schema: one Query, Mutation and Subscription from every domain."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncGenerator, Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
from starlette.concurrency import run_in_threadpool
from strawberry.extensions import (
    AddValidationRules,
    DisableIntrospection,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    SchemaExtension,
    ValidationCache,
)
from strawberry.schema.schema import StreamResult
from strawberry.types import ExecutionContext
from strawberry.types.graphql import OperationType

from core.errors import ForbiddenError
from core.ids import parse_global_id
from core.settings import Settings
from resolvers import customers as customer_logic
from schema.access import AccessReport
from schema.audit import AuditQuery
from schema.complaints import NODE_LOADERS as COMPLAINT_NODES
from schema.complaints import ComplaintMutation, ComplaintNode, ComplaintQuery
from schema.customers import (
    AccountNode,
    CustomerMutation,
    CustomerNode,
    CustomerQuery,
    NotificationNode,
    load_customer,
)
from schema.policy import PolicyMutation, PolicyQuery
from schema.shared.base import ContextInfo, Node
from schema.shared.context import Context
from schema.shared.execution import LeafFastPathExecutionContext
from schema.shared.limits import CostLimit, ErrorCodes, log_internal_errors
from schema.shared.rights import Authenticated, HasRight, declared_right
from schema.shared.rights import field as guarded_field
from schema.shared.rights import subscription as guarded_subscription
from schema.sharing import NODE_LOADERS as SHARING_NODES
from schema.sharing import (
    ConsentNode,
    ShareGrantNode,
    ShareRequestNode,
    SharingMutation,
    SharingQuery,
    ThirdPartyNode,
)
from schema.staff import BranchNode, StaffNode, StaffQuery
from schema.workflows import NODE_LOADERS as WORKFLOW_NODES
from schema.workflows import (
    ProcessInstanceNode,
    ProcessVersionNode,
    TaskNode,
    WorkflowMutation,
    WorkflowQuery,
)
from store.customers import Account
from store.staff import Branch, Staff

log = logging.getLogger("kehu")

# Type name -> loader with the row scopes of that type's list (None: missing or invisible).
NODE_LOADERS: dict[str, Callable[[ContextInfo, int], Node | None]] = {
    **COMPLAINT_NODES,
    **WORKFLOW_NODES,
    **SHARING_NODES,
}


@strawberry.type
class Query(
    CustomerQuery,
    ComplaintQuery,
    WorkflowQuery,
    SharingQuery,
    AuditQuery,
    PolicyQuery,
    StaffQuery,
):
    @guarded_field("Any object by its global ID (Relay). 按全局 ID 查询对象。", Authenticated())
    def node(self, info: ContextInfo, id: strawberry.ID) -> Node | None:
        ctx = info.context
        parsed = parse_global_id(id)
        if parsed is None:
            return None
        type_name, pk = parsed
        if type_name == "Customer":
            return load_customer(info, pk)
        if type_name == "Staff":
            if ctx.actor.third_party_id is not None and pk != ctx.actor.id:
                return None  # a third party sees no staff directory, only its own principal
            staff = ctx.session.get(Staff, pk)
            return StaffNode.of(staff) if staff else None
        if type_name == "Branch":
            branch = ctx.session.get(Branch, pk)
            return BranchNode.of(branch) if branch else None
        if type_name == "Account":
            account = ctx.session.get(Account, pk)
            if account is None or load_customer(info, account.customer_id) is None:
                return None  # an account is visible exactly when its customer is
            return AccountNode.present(account, ctx)
        loader = NODE_LOADERS.get(type_name)
        if loader is not None:
            return loader(info, pk)
        return None


@strawberry.type
class Mutation(
    CustomerMutation, ComplaintMutation, WorkflowMutation, SharingMutation, PolicyMutation
):
    pass


@strawberry.type
class Subscription:
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
                return customer_logic.notifications_after(session, staff.id, after)

        def latest() -> int:
            with ctx.session_factory() as session:
                return customer_logic.latest_notification_id(session, staff.id)

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


class KehuSchema(strawberry.Schema):
    """Logs internal errors without personal data; streams subscriptions only."""

    async def stream(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        operation_extensions: dict[str, Any] | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
    ) -> StreamResult:
        """Only subscriptions run over a stream (websockets): a socket keeps the credentials
        of its ``connection_init``, so queries and mutations go over HTTP, where every request
        authenticates again (issue 8). Each subscription event re-checks the caller itself."""
        return await super().stream(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            operation_extensions,
            allowed_operation_types=(OperationType.SUBSCRIPTION,),
        )

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        log_internal_errors(errors)


def build_schema(settings: Settings | None = None) -> strawberry.Schema:
    """The schema with the API limits of ``settings`` (defaults when None: for SDL export)."""
    extensions: list[Callable[[], SchemaExtension] | type[SchemaExtension]] = [
        ErrorCodes,
        AccessReport,
    ]
    if settings is not None:
        # The depth and alias limiters are validation rules. Their rule classes are made once
        # here: a new class per request would make every ValidationCache lookup miss.
        rules = [
            *QueryDepthLimiter(max_depth=settings.max_depth).validation_rules,
            *MaxAliasesLimiter(max_alias_count=settings.max_aliases).validation_rules,
        ]
        extensions += [
            lambda: AddValidationRules(rules),
            lambda: MaxTokensLimiter(max_token_count=settings.max_tokens),
            lambda: CostLimit(max_cost=settings.max_cost),
        ]
        if not settings.introspection:
            extensions.append(DisableIntrospection)
    # The caches come last: they must see the validation rules the limiters add.
    extensions += [lambda: ParserCache(maxsize=256), lambda: ValidationCache(maxsize=256)]
    return KehuSchema(
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        types=[
            CustomerNode,
            StaffNode,
            BranchNode,
            AccountNode,
            NotificationNode,
            ShareGrantNode,
            ThirdPartyNode,
            ConsentNode,
            ShareRequestNode,
            ComplaintNode,
            TaskNode,
            ProcessVersionNode,
            ProcessInstanceNode,
        ],
        extensions=extensions,
        execution_context_class=LeafFastPathExecutionContext,
    )
