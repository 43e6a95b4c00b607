"""Products and suitable recommendations as GraphQL (REL-3): the catalogue, a customer's
recommendations, and ``recommendProduct``."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from datetime import timedelta

import strawberry
from sqlalchemy import select
from sqlalchemy.orm import Session

from authz import rows as row_scopes
from core.ids import pk_of
from resolvers.contacts import recommendations as logic
from schema.contacts.enums import (
    ContactChannelEnum,
    PhoneLineEnum,
    ProductKindEnum,
    ProductRiskLevelEnum,
)
from schema.contacts.types import ContactNode, ContactUserError, contact_errors, present
from schema.customers.enums import RiskToleranceEnum
from schema.shared.base import ContextInfo, node_id
from schema.shared.execution import context_only
from schema.shared.mutations import KEY_DESCRIPTION, Once, created_id, load_row, run_command
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from schema.shared.rights import mutation as guarded_mutation
from schema.staff import StaffNode
from schema.workflows import batched_staff
from store.contacts import Contact, ContactChannel, PhoneLine, Product, Recommendation
from store.customers import RiskTolerance
from store.staff import Staff


@strawberry.type(name="Product", description="A product staff may recommend (REL-3). 产品。")
class ProductType:
    code: str
    name: str
    kind: ProductKindEnum  # type: ignore[valid-type]
    risk_level: ProductRiskLevelEnum  # type: ignore[valid-type]
    active: bool = strawberry.field(description="Still on sale (only these may be recommended).")

    @classmethod
    def of(cls, row: Product) -> ProductType:
        return cls(
            code=row.code,
            name=row.name,
            kind=row.kind,
            risk_level=row.risk_level,
            active=row.active,
        )


@strawberry.type(
    name="Recommendation",
    description="A product recommended to a customer, with the disclosure given and what it "
    "was checked against (REL-3). 产品推荐记录。",
)
class RecommendationType:
    _staff_id: strawberry.Private[int]
    _contact_id: strawberry.Private[int]
    id: strawberry.ID
    product: ProductType
    product_risk_level: ProductRiskLevelEnum = strawberry.field(  # type: ignore[valid-type]
        description="The product's risk level when recommended."
    )
    risk_tolerance: RiskToleranceEnum = strawberry.field(  # type: ignore[valid-type]
        description="The customer's risk tolerance it was checked against."
    )
    features: str = strawberry.field(description="Product features disclosed. 产品特点。")
    risks: str = strawberry.field(description="Risks disclosed. 风险揭示。")
    returns: str = strawberry.field(description="Returns disclosed. 收益说明。")
    recommended_at: dt.datetime
    contact_id: strawberry.ID = strawberry.field(
        description="The contact (purpose PRODUCT_RECOMMENDATION) it was made in."
    )

    @classmethod
    def of(cls, row: Recommendation, product: Product) -> RecommendationType:
        return cls(
            _staff_id=row.recommended_by_id,
            _contact_id=row.contact_id,
            id=node_id("Recommendation", row.id),
            product=ProductType.of(product),
            product_risk_level=row.product_risk_level,
            risk_tolerance=RiskTolerance(row.risk_tolerance),
            features=row.features,
            risks=row.risks,
            returns=row.returns,
            recommended_at=row.recommended_at,
            contact_id=node_id("Contact", row.contact_id),
        )

    @strawberry.field(description="Who recommended it.")
    @context_only
    def recommended_by(self, info: ContextInfo) -> StaffNode | None:
        return batched_staff(info, self._staff_id, "Recommendation", "recommendedBy")


def recommendations_of(
    session: Session, customer_ids: Sequence[int]
) -> dict[int, list[RecommendationType]]:
    """Every recommendation of these customers, newest first, in one statement."""
    found: dict[int, list[RecommendationType]] = {pk: [] for pk in customer_ids}
    rows = session.execute(
        select(Recommendation, Product)
        .join(Product, Product.id == Recommendation.product_id)
        .where(Recommendation.customer_id.in_(list(customer_ids)))
        .order_by(Recommendation.customer_id, Recommendation.id.desc())
    )
    for recommendation, product in rows:
        found[recommendation.customer_id].append(RecommendationType.of(recommendation, product))
    return found


def customer_recommendations(info: ContextInfo, customer_id: int) -> list[RecommendationType]:
    """``Customer.recommendations``: every customer of the answer's, one statement."""
    ctx = info.context
    found = ctx.batched("customer_recommendations", customer_id, recommendations_of)
    for item in found or []:
        ctx.pending("staff").append(item._staff_id)
    return found or []


@strawberry.input(description="A product recommendation (REL-3). 产品推荐。")
class RecommendProductInput:
    customer_id: strawberry.ID
    product_code: str
    channel: ContactChannelEnum  # type: ignore[valid-type]
    phone_line: PhoneLineEnum | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Required for `PHONE`, else omitted."
    )
    features: str = strawberry.field(description="Features disclosed (required). 产品特点。")
    risks: str = strawberry.field(description="Risks disclosed (required). 风险揭示。")
    returns: str = strawberry.field(description="Returns disclosed (required). 收益说明。")
    idempotency_key: str | None = strawberry.field(default=None, description=KEY_DESCRIPTION)


@strawberry.type
class RecommendProductPayload:
    errors: list[ContactUserError]
    recommendation: RecommendationType | None = None
    contact: ContactNode | None = None


@strawberry.type
class RecommendationQuery:
    @guarded_field(
        "Products staff may recommend, lowest risk first (REL-3). 可推荐产品。", Authenticated()
    )
    def products(self, info: ContextInfo) -> list[ProductType]:
        rows = info.context.session.scalars(
            select(Product).order_by(Product.risk_level, Product.code)
        )
        return [ProductType.of(row) for row in rows]


@strawberry.type
class RecommendationMutation:
    @guarded_mutation(
        "Recommend a product to a customer you may change (REL-3), over the customer's "
        "recorded contact method, with the disclosure given (features, risks, returns). Refused "
        "when the product is above the customer's risk tolerance, the customer has not opted in "
        "to marketing, or has no risk assessment in force. Logged as a contact of purpose "
        "PRODUCT_RECOMMENDATION. 产品推荐（适当性）。",
        HasRight("contact:recommend", purpose=True),
    )
    def recommend_product(
        self, info: ContextInfo, input: RecommendProductInput
    ) -> RecommendProductPayload:
        ctx = info.context
        leeway = timedelta(seconds=ctx.settings.token_leeway_seconds)
        given = logic.NewRecommendation(
            product_code=input.product_code,
            channel=ContactChannel(input.channel),
            phone_line=PhoneLine(input.phone_line) if input.phone_line else None,
            features=input.features,
            risks=input.risks,
            returns=input.returns,
        )

        def command(session: Session, actor: Staff) -> Recommendation:
            customer_id = row_scopes.require_writable(
                session,
                pk_of(input.customer_id, "Customer", "customerId"),
                ctx.access.visible,
                ctx.access.writable,
            )
            return logic.recommend(session, actor, customer_id, given, leeway)

        def answer(row: Recommendation) -> RecommendProductPayload:
            session = ctx.session
            product = session.get_one(Product, row.product_id)
            contact = session.get_one(Contact, row.contact_id)
            return RecommendProductPayload(
                errors=[],
                recommendation=RecommendationType.of(row, product),
                contact=present(info, [contact])[0],
            )

        return run_command(
            info,
            RecommendProductPayload,
            command,
            answer,
            errors=contact_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(Recommendation)),
        )
