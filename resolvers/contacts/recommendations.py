"""Suitable recommendations (REL-3): the product catalogue from its reviewed file, and a
recommendation that is made only when it suits the customer.

A recommendation is a contact of purpose PRODUCT_RECOMMENDATION (it counts for the cadence and
shows in the history) plus a row with the disclosure given and what it was checked against.
It is refused — with nothing written — when the product's risk level is above the customer's
risk tolerance (R``n`` suits C``n`` and above), when the customer has not opted in to
marketing, when the channel is not the customer's recorded contact method, or when the
customer's latest risk assessment has expired (valid through the Beijing day ``valid_until``).
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core import clock
from core.errors import Problems, UserInputError
from resolvers.contacts import commands
from resolvers.shared import unit_of_work, validation
from store.contacts import (
    ContactChannel,
    ContactPurpose,
    PhoneLine,
    Product,
    ProductKind,
    ProductRiskLevel,
    Recommendation,
)
from store.customers import Preferences, RiskAssessment
from store.staff import Staff

PRODUCTS_FILE = Path(__file__).parent / "products.toml"
MAX_DISCLOSURE = 2000


def load_products(path: Path = PRODUCTS_FILE) -> list[dict[str, object]]:
    """The reviewed catalogue, checked: unique codes, known risk levels."""
    rows = tomllib.loads(path.read_text(encoding="utf-8")).get("product", [])
    codes = [row["code"] for row in rows]
    if len(codes) != len(set(codes)):
        raise ValueError(f"{path.name}: a product code is listed twice")
    for row in rows:
        ProductRiskLevel(row["risk_level"])
    return [
        {
            "code": row["code"],
            "name": row["name"],
            "kind": ProductKind(row["kind"]),
            "risk_level": ProductRiskLevel(row["risk_level"]),
            "active": bool(row.get("active", True)),
        }
        for row in rows
    ]


def sync_products(session: Session, path: Path = PRODUCTS_FILE) -> None:
    """Bring the stored catalogue in line with the file (insert new codes, update changed
    ones); a recommendation keeps the risk level it was checked against."""
    stored = {row.code: row for row in session.scalars(select(Product))}
    for given in load_products(path):
        row = stored.get(str(given["code"]))
        if row is None:
            session.add(Product(**given))
            continue
        for key, value in given.items():
            if getattr(row, key) != value:
                setattr(row, key, value)
    session.flush()


def tolerance_rank(tolerance: str) -> int:
    """C1_CONSERVATIVE → 1 … C5_AGGRESSIVE → 5."""
    return int(tolerance[1])


def suits(level: ProductRiskLevel, tolerance: str) -> bool:
    """R``n`` suits a customer of tolerance C``n`` or above."""
    return int(level.value[1]) <= tolerance_rank(tolerance)


@dataclass(frozen=True)
class NewRecommendation:
    product_code: str
    channel: ContactChannel
    phone_line: PhoneLine | None
    features: str
    risks: str
    returns: str


def current_assessment(session: Session, customer_id: int) -> RiskAssessment | None:
    """The customer's latest risk assessment (by when it was made), valid or not."""
    return session.scalar(
        select(RiskAssessment)
        .where(RiskAssessment.customer_id == customer_id)
        .order_by(RiskAssessment.assessed_at.desc(), RiskAssessment.id.desc())
        .limit(1)
    )


def recommend(
    session: Session, actor: Staff, customer_id: int, given: NewRecommendation, leeway: timedelta
) -> Recommendation:
    """Record a suitable recommendation and its contact, or refuse it naming every field."""
    problems = Problems()
    texts: dict[str, str] = {}
    for name, value in (
        ("features", given.features),
        ("risks", given.risks),
        ("returns", given.returns),
    ):
        try:
            texts[name] = validation.text(value, name, max_length=MAX_DISCLOSURE, required=True)
        except UserInputError as exc:
            problems.extend(exc)
    product = session.scalar(select(Product).where(Product.code == given.product_code.strip()))
    if product is None or not product.active:
        problems.add(("productCode",), "NOT_FOUND", "no product on sale with this code")
    preferences = session.get(Preferences, customer_id)
    if preferences is None or not preferences.marketing_opt_in:
        problems.add(
            ("customerId",), "MARKETING_OPT_OUT", "the customer has not agreed to marketing"
        )
    elif preferences.contact_method is None or (
        preferences.contact_method.value != given.channel.value
    ):
        problems.add(
            ("channel",),
            "CHANNEL_NOT_CONSENTED",
            "the customer has not agreed to be contacted over this channel",
        )
    assessment = current_assessment(session, customer_id)
    now = clock.now()
    if assessment is None or now >= clock.end_of_business_day(assessment.valid_until):
        problems.add(
            ("customerId",),
            "NO_VALID_RISK_ASSESSMENT",
            "the customer has no risk assessment in force; assess first",
        )
    elif product is not None and not suits(product.risk_level, assessment.risk_tolerance):
        problems.add(
            ("productCode",),
            "ABOVE_RISK_TOLERANCE",
            "the product's risk level is above the customer's risk tolerance",
        )
    problems.raise_if_any()
    assert product is not None and assessment is not None
    contact = commands.log_contact(
        session,
        actor,
        customer_id,
        commands.NewContact(
            channel=given.channel,
            phone_line=given.phone_line,
            purpose=ContactPurpose.PRODUCT_RECOMMENDATION,
            contacted_at=now,
            summary=f"推荐产品：{product.name}（{product.code}，风险等级{product.risk_level.value}）",
            outcome=None,
            next_step=None,
            next_step_due_on=None,
        ),
        leeway,
    )
    recommendation = Recommendation(
        customer_id=customer_id,
        product_id=product.id,
        contact_id=contact.id,
        risk_assessment_id=assessment.id,
        product_risk_level=product.risk_level,
        risk_tolerance=assessment.risk_tolerance.value,
        features=texts["features"],
        risks=texts["risks"],
        returns=texts["returns"],
        recommended_by_id=actor.id,
        recommended_at=now,
    )
    session.add(recommendation)
    session.flush()
    unit_of_work.note(
        session,
        f"product recommended: {product.code} ({product.risk_level.value}) to a customer of "
        f"{assessment.risk_tolerance.value}",
        customer_ids=[customer_id],
    )
    return recommendation
