"""The assembled GraphQL schema: one Query, Mutation and Subscription from every domain."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

import strawberry
from graphql import GraphQLError
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

from core.ids import parse_global_id
from core.settings import Settings
from schema import (
    assessment,
    club,
    complaints,
    contacts,
    customers,
    kpis,
    notifications,
    segments,
    sharing,
    staff,
    surveys,
    workflows,
)
from schema.access import AccessReport
from schema.assessment import AssessmentMutation, AssessmentQuery
from schema.audit import AuditQuery
from schema.care import CareQuery
from schema.club import ClubMutation, ClubQuery
from schema.club.types import ClubEventNode
from schema.complaints import ComplaintMutation, ComplaintNode, ComplaintQuery
from schema.contacts import (
    ContactMutation,
    ContactQuery,
    RecommendationMutation,
    RecommendationQuery,
)
from schema.contacts.types import ContactNode
from schema.customers import (
    AccountNode,
    CustomerMutation,
    CustomerNode,
    CustomerQuery,
    TransactionNode,
)
from schema.kpis import KpiMutation, KpiQuery
from schema.kpis.types import TeamNode
from schema.notifications import (
    NotificationMutation,
    NotificationNode,
    NotificationQuery,
    NotificationSubscription,
)
from schema.policy import PolicyMutation, PolicyQuery
from schema.scorecards import ScorecardMutation, ScorecardQuery
from schema.segments import SegmentMutation, SegmentQuery
from schema.shared.base import ContextInfo, Node, NodeLoader
from schema.shared.execution import LeafFastPathExecutionContext
from schema.shared.input_values import InputCheck
from schema.shared.limits import CostLimit, ErrorCodes, log_internal_errors
from schema.shared.rights import Authenticated
from schema.shared.rights import field as guarded_field
from schema.sharing import (
    ConsentNode,
    ShareGrantNode,
    ShareRequestNode,
    SharingMutation,
    SharingQuery,
    ThirdPartyNode,
)
from schema.staff import BranchNode, StaffNode, StaffQuery
from schema.surveys import SurveyMutation, SurveyQuery
from schema.workflows import (
    ProcessInstanceNode,
    ProcessVersionNode,
    TaskNode,
    WorkflowMutation,
    WorkflowQuery,
)

log = logging.getLogger("kehu")


def merge_loaders(*domains: dict[str, NodeLoader]) -> dict[str, NodeLoader]:
    """One loader per type name across the domains; a name claimed twice is a mistake."""
    merged: dict[str, NodeLoader] = {}
    for loaders in domains:
        twice = merged.keys() & loaders.keys()
        if twice:
            raise ValueError(f"node loaders defined twice: {sorted(twice)}")
        merged.update(loaders)
    return merged


# The type of a global ID → how ``node(id:)`` loads it (with the row scopes of its list).
NODE_LOADERS = merge_loaders(
    customers.NODE_LOADERS,
    notifications.NODE_LOADERS,
    staff.NODE_LOADERS,
    complaints.NODE_LOADERS,
    workflows.NODE_LOADERS,
    sharing.NODE_LOADERS,
    segments.NODE_LOADERS,
    contacts.NODE_LOADERS,
    club.NODE_LOADERS,
    surveys.NODE_LOADERS,
    kpis.NODE_LOADERS,
    assessment.NODE_LOADERS,
)


@strawberry.type
class Query(
    CustomerQuery,
    NotificationQuery,
    ComplaintQuery,
    WorkflowQuery,
    SharingQuery,
    SegmentQuery,
    ContactQuery,
    RecommendationQuery,
    ClubQuery,
    CareQuery,
    SurveyQuery,
    KpiQuery,
    AssessmentQuery,
    ScorecardQuery,
    AuditQuery,
    PolicyQuery,
    StaffQuery,
):
    @guarded_field("Any object by its global ID (Relay). 按全局 ID 查询对象。", Authenticated())
    def node(self, info: ContextInfo, id: strawberry.ID) -> Node | None:
        parsed = parse_global_id(id)
        if parsed is None:
            return None
        type_name, pk = parsed
        load = NODE_LOADERS.get(type_name)
        return load(info, pk) if load is not None else None


@strawberry.type
class Mutation(
    CustomerMutation,
    NotificationMutation,
    ComplaintMutation,
    WorkflowMutation,
    SharingMutation,
    SegmentMutation,
    ContactMutation,
    RecommendationMutation,
    ClubMutation,
    SurveyMutation,
    KpiMutation,
    AssessmentMutation,
    ScorecardMutation,
    PolicyMutation,
):
    pass


@strawberry.type
class Subscription(NotificationSubscription):
    pass


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
        authenticates again. Each subscription event re-checks the caller itself."""
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
        InputCheck,
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
            TransactionNode,
            NotificationNode,
            ShareGrantNode,
            ThirdPartyNode,
            ShareRequestNode,
            ConsentNode,
            ComplaintNode,
            TaskNode,
            ProcessVersionNode,
            ProcessInstanceNode,
            ContactNode,
            ClubEventNode,
            TeamNode,
        ],
        extensions=extensions,
        execution_context_class=LeafFastPathExecutionContext,
    )
