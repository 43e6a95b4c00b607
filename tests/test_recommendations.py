"""Suitable recommendations (REL-3) over HTTP on SQLite and PostgreSQL: the product catalogue,
each refusal naming its field with nothing written, the exact boundaries (risk level equal to the
tolerance, one above; the assessment's last second and the next), and the recorded disclosure."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import text

from core import clock
from tests.conftest import Backend, create_customer

SOURCE = {"kind": "QUESTIONNAIRE", "detail": "风险测评问卷"}
RECOMMEND = """
mutation($input: RecommendProductInput!) {
  recommendProduct(input: $input) {
    recommendation { id product { code riskLevel } productRiskLevel riskTolerance
                     features risks returns recommendedBy { employeeNo } contactId }
    contact { id purpose channel }
    errors { field code message }
  }
}
"""
HISTORY = """
query($id: ID!) { customer(id: $id) {
  recommendations { product { code } features risks returns riskTolerance }
  contacts(first: 10) { edges { node { purpose } } } } }
"""
DISCLOSURE = {
    "features": "T+1 赎回，起购金额 1 万元",
    "risks": "净值可能波动，本金可能亏损",
    "returns": "业绩比较基准 3.2%，不代表实际收益",
}


def _prepare(
    backend: Backend,
    tolerance: str = "C3_BALANCED",
    opt_in: bool = True,
    method: str = "WECHAT",
    assessed_at: str | None = None,
) -> tuple[str, dict[str, Any]]:
    customer = create_customer(backend, staff="RM0001")
    preferences = backend.gql(
        """mutation($input: RecordPreferencesInput!) {
             recordPreferences(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer["id"],
                "contactMethod": method,
                "contactTime": "WORKDAY_EVENING",
                "marketingOptIn": opt_in,
                "source": SOURCE,
            }
        },
        staff="RM0001",
    )["recordPreferences"]
    assert preferences["errors"] == []
    given: dict[str, Any] = {
        "customerId": customer["id"],
        "riskTolerance": tolerance,
        "creditStatus": "NORMAL",
        "source": SOURCE,
    }
    if assessed_at is not None:
        given["assessedAt"] = assessed_at
    assessment = backend.gql(
        """mutation($input: RecordRiskAssessmentInput!) {
             recordRiskAssessment(input: $input) {
               riskAssessment { validUntil } errors { code } } }""",
        {"input": given},
        staff="RM0001",
    )["recordRiskAssessment"]
    assert assessment["errors"] == []
    return customer["id"], assessment["riskAssessment"]


def _recommend(backend: Backend, customer_id: str, **values: Any) -> dict[str, Any]:
    given = {"customerId": customer_id, "productCode": "FUND-BALANCED", "channel": "WECHAT"}
    given.update(DISCLOSURE)
    given.update(values)
    return dict(backend.gql(RECOMMEND, {"input": given}, staff="RM0001")["recommendProduct"])


def _recommendations(backend: Backend, customer_id: str) -> int:
    with backend.engine.connect() as connection:
        pk = int(customer_id and _pk(backend, customer_id))
        return int(
            connection.execute(
                text("SELECT count(*) FROM recommendations WHERE customer_id = :id"), {"id": pk}
            ).scalar_one()
        )


def _pk(backend: Backend, customer_id: str) -> int:
    from core.ids import pk_of

    return pk_of(customer_id, "Customer", "customerId")


def test_products_are_listed_with_their_risk_levels_rel3(backend: Backend) -> None:
    """REL-3: the reviewed catalogue, lowest risk first."""
    products = backend.gql("{ products { code name riskLevel active } }")["products"]
    levels = [p["riskLevel"] for p in products]
    assert levels == sorted(levels)
    assert {
        "code": "FUND-BALANCED",
        "name": "平衡混合型基金",
        "riskLevel": "R3",
        "active": True,
    } in (products)
    assert {p["riskLevel"] for p in products} == {"R1", "R2", "R3", "R4", "R5"}


def test_a_product_at_the_tolerance_is_recommended_with_its_disclosure_rel3(
    backend: Backend,
) -> None:
    """REL-3: R3 suits C3 (equal is accepted); the disclosure is kept and listed on the
    customer, and the recommendation is a PRODUCT_RECOMMENDATION contact."""
    customer_id, _ = _prepare(backend, tolerance="C3_BALANCED")
    payload = _recommend(backend, customer_id, productCode="FUND-BALANCED")
    assert payload["errors"] == []
    recommendation = payload["recommendation"]
    assert recommendation["product"] == {"code": "FUND-BALANCED", "riskLevel": "R3"}
    assert recommendation["riskTolerance"] == "C3_BALANCED"
    assert recommendation["recommendedBy"] == {"employeeNo": "RM0001"}
    assert payload["contact"]["purpose"] == "PRODUCT_RECOMMENDATION"
    assert recommendation["contactId"] == payload["contact"]["id"]
    customer = backend.gql(HISTORY, {"id": customer_id}, staff="RM0001")["customer"]
    assert customer["recommendations"] == [
        {"product": {"code": "FUND-BALANCED"}, "riskTolerance": "C3_BALANCED", **DISCLOSURE}
    ]
    assert [e["node"]["purpose"] for e in customer["contacts"]["edges"]] == [
        "PRODUCT_RECOMMENDATION"
    ]


def test_a_product_one_level_above_the_tolerance_is_refused_rel3(backend: Backend) -> None:
    """REL-3: R4 is above C3: ABOVE_RISK_TOLERANCE on productCode, nothing written."""
    customer_id, _ = _prepare(backend, tolerance="C3_BALANCED")
    payload = _recommend(backend, customer_id, productCode="FUND-EQUITY")
    assert payload["recommendation"] is None
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["productCode"], "ABOVE_RISK_TOLERANCE")
    ]
    assert "FUND-EQUITY" not in payload["errors"][0]["message"]
    assert _recommendations(backend, customer_id) == 0
    customer = backend.gql(HISTORY, {"id": customer_id}, staff="RM0001")["customer"]
    assert customer["contacts"]["edges"] == []


def test_a_customer_who_opted_out_of_marketing_is_refused_rel3(backend: Backend) -> None:
    """REL-3: no marketing consent, no recommendation (even of an R1 product)."""
    customer_id, _ = _prepare(backend, opt_in=False)
    payload = _recommend(backend, customer_id, productCode="DEP-3M")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["customerId"], "MARKETING_OPT_OUT")
    ]
    assert _recommendations(backend, customer_id) == 0


def test_a_channel_other_than_the_consented_contact_method_is_refused_rel3(
    backend: Backend,
) -> None:
    """REL-3: the customer agreed to WeChat; an SMS recommendation is refused on channel."""
    customer_id, _ = _prepare(backend, method="WECHAT")
    payload = _recommend(backend, customer_id, channel="SMS")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["channel"], "CHANNEL_NOT_CONSENTED")
    ]
    assert _recommendations(backend, customer_id) == 0


def test_a_blank_disclosure_is_refused_naming_each_field_rel3(backend: Backend) -> None:
    """REL-3: features, risks and returns are required and not blank."""
    customer_id, _ = _prepare(backend)
    payload = _recommend(backend, customer_id, features=" ", risks="", returns="\u3000")
    assert sorted((e["field"][0], e["code"]) for e in payload["errors"]) == [
        ("features", "REQUIRED"),
        ("returns", "REQUIRED"),
        ("risks", "REQUIRED"),
    ]
    assert _recommendations(backend, customer_id) == 0


def test_an_unknown_product_is_refused_rel3(backend: Backend) -> None:
    customer_id, _ = _prepare(backend)
    payload = _recommend(backend, customer_id, productCode="NO-SUCH")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [(["productCode"], "NOT_FOUND")]


def test_without_a_risk_assessment_in_force_it_is_refused_at_the_exact_second_rel3(
    backend: Backend,
) -> None:
    """REL-3: an assessment is in force through the Beijing day ``validUntil``: accepted one
    second before the following Beijing midnight, refused at it (NO_VALID_RISK_ASSESSMENT)."""
    customer_id, assessment = _prepare(backend)
    ends = clock.end_of_business_day(date.fromisoformat(assessment["validUntil"]))
    assert ends.astimezone(clock.BUSINESS_TIME).time().isoformat() == "00:00:00"
    with clock.travel_to(ends, all_threads=True):
        refused = _recommend(backend, customer_id)
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [
        (["customerId"], "NO_VALID_RISK_ASSESSMENT")
    ]
    assert _recommendations(backend, customer_id) == 0
    with clock.travel_to(ends - timedelta(seconds=1), all_threads=True):
        accepted = _recommend(backend, customer_id)
    assert accepted["errors"] == []
    assert _recommendations(backend, customer_id) == 1


def test_a_customer_never_assessed_is_refused_rel3(backend: Backend) -> None:
    customer = create_customer(backend, staff="RM0001")
    backend.gql(
        """mutation($input: RecordPreferencesInput!) {
             recordPreferences(input: $input) { errors { code } } }""",
        {
            "input": {
                "customerId": customer["id"],
                "contactMethod": "WECHAT",
                "marketingOptIn": True,
                "source": SOURCE,
            }
        },
        staff="RM0001",
    )
    payload = _recommend(backend, customer["id"], productCode="DEP-3M")
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["customerId"], "NO_VALID_RISK_ASSESSMENT")
    ]
