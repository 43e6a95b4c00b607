"""Field-level decisions, the one place where personal values are revealed, masked or withheld.

Every GraphQL type that carries personal data builds its values through :func:`present`, so the
policy decides per field without any resolver knowing about it. ``PERSONAL_FIELDS`` lists every
personal-data field of every type; the Casbin policy (``authz/policy.csv``) gives each an effect
per role, computed once per request (``authz.policy``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from enum import StrEnum
from typing import Any

from authz import masking


class Effect(StrEnum):
    FULL = "FULL"
    MASKED = "MASKED"
    DENIED = "DENIED"


# GraphQL type → {python attribute: GraphQL field} of every personal-data field.
PERSONAL_FIELDS: dict[str, dict[str, str]] = {
    "Customer": {
        "name": "name",
        "gender": "gender",
        "birth_date": "birthDate",
        "age": "age",
        "id_number": "idNumber",
        "occupation": "occupation",
        "employer": "employer",
        "phone": "phone",
        "email": "email",
        "address": "address",
    },
    "FinancialSnapshot": {
        "annual_income": "annualIncome",
        "total_assets": "totalAssets",
        "total_liabilities": "totalLiabilities",
        "assets_under_management": "assetsUnderManagement",
        "net_worth": "netWorth",
    },
    "Account": {"account_no": "accountNo", "balance": "balance"},
    "Transaction": {"amount": "amount"},
    "TransactionSummary": {"inflow": "inflow", "outflow": "outflow"},
    "RiskAssessment": {
        "risk_tolerance": "riskTolerance",
        "questionnaire_score": "questionnaireScore",
        "credit_score": "creditScore",
        "credit_status": "creditStatus",
    },
    "Complaint": {
        "description": "description",
        "requested_remedy": "requestedRemedy",
        "amount_in_dispute": "amountInDispute",
    },
    "Preferences": {
        "products": "products",
        "service_channels": "serviceChannels",
        "contact_method": "contactMethod",
        "contact_time": "contactTime",
        "marketing_opt_in": "marketingOptIn",
    },
    # Where a customer stands with the bank (SEG-1): group ``segment``; no masks, so MASKED
    # withholds it.
    "CustomerSegment": {
        "tier": "tier",
        "score": "score",
        "private_banking": "privateBanking",
        "inputs": "inputs",
        "needs": "needs",
        # The risk grade and its causes (SEG-3): group ``segment_risk``.
        "risk_grade": "riskGrade",
        "risk_signals": "riskSignals",
        "risk_rule_set": "riskRuleSet",
    },
    # What staff wrote about a contact with the customer (REL-1): group ``contacts``; no masks,
    # so MASKED withholds it.
    "Contact": {"summary": "summary", "outcome": "outcome", "next_step": "nextStep"},
    # What a customer wrote in a survey (REL-5): group ``survey_text``; no mask, so MASKED
    # withholds it.
    "SurveyAnswer": {"text": "text"},
}


# Where a customer belongs (their branch and relationship manager): not personal data, but written
# like it — who may change it is a write rule of its own group (``placement``), so a role that may
# write some customer field on every row (a risk officer) cannot move customers between rows.
PLACEMENT_FIELDS: dict[str, dict[str, str]] = {
    "Customer": {"branch": "branch", "relationship_manager": "relationshipManager"},
}
# Sealed notes of assessment records (KPI-2), read in spot checks and evaluation lists rather than
# in a customer's own views: grouped and decided by the live policy for the caller's roles
# (``spot_check_notes``, ``evaluation_text``), never revealed by a share grant or a consent.
POLICY_NOTE_FIELDS: dict[str, dict[str, str]] = {
    "SpotCheckFinding": {"note": "note"},
    "SpotCheckRectification": {"note": "note"},
    "StaffEvaluation": {"comment": "comment"},
}
# Every field a customer write may set: {type: {python attribute: GraphQL field}}.
WRITTEN_FIELDS: dict[str, dict[str, str]] = {
    type_name: {**names, **PLACEMENT_FIELDS.get(type_name, {})}
    for type_name, names in PERSONAL_FIELDS.items()
}


class PolicyAccess:
    """The field effects of one request: the policy's, downgraded when no purpose allows FULL."""

    def __init__(self, effects: Mapping[str, Mapping[str, Effect]], downgrade: bool) -> None:
        # Every personal field gets an effect; one the policy did not decide is DENIED.
        self.effects: dict[str, dict[str, Effect]] = {}
        # (type, GraphQL field) FULL by the policy but masked or withheld by the downgrade.
        self._downgraded: set[tuple[str, str]] = set()
        for type_name, names in PERSONAL_FIELDS.items():
            decided = effects.get(type_name, {})
            self.effects[type_name] = {}
            for field in names.values():
                effect = decided.get(field, Effect.DENIED)
                if downgrade and effect is Effect.FULL:
                    effect = _downgraded(f"{type_name}.{field}", effect)
                    self._downgraded.add((type_name, field))
                self.effects[type_name][field] = effect
        self._restricted = {
            type_name: {
                python: self.effects[type_name][graphql]
                for python, graphql in names.items()
                if self.effects[type_name][graphql] is not Effect.FULL
            }
            for type_name, names in PERSONAL_FIELDS.items()
        }
        # (type, GraphQL field) pairs withheld from at least one object in this request.
        self.withheld: set[tuple[str, str]] = set()
        # Downgraded pairs actually masked or withheld for at least one object (the answer then
        # says so in ``extensions.access``; an answer without such a value does not).
        self.downgrades_applied: set[tuple[str, str]] = set()

    @classmethod
    def reveal_all(cls) -> PolicyAccess:
        """Every personal field FULL (authorization switched off: benchmarks, trusted tools)."""
        effects = {
            type_name: dict.fromkeys(names.values(), Effect.FULL)
            for type_name, names in PERSONAL_FIELDS.items()
        }
        return cls(effects, downgrade=False)

    def effect(self, type_name: str, graphql_field: str) -> Effect:
        """FULL for fields that are not personal data."""
        return self.effects.get(type_name, {}).get(graphql_field, Effect.FULL)

    def restricted(self, type_name: str) -> Mapping[str, Effect]:
        return self._restricted.get(type_name, {})

    def apply(self, type_name: str, field: str, effect: Effect, value: Any) -> Any:
        graphql = PERSONAL_FIELDS[type_name][field]
        if (type_name, graphql) in self._downgraded:
            self.downgrades_applied.add((type_name, graphql))
        if effect is Effect.DENIED:
            self.withheld.add((type_name, graphql))
            return None
        return masking.mask(f"{type_name}.{graphql}", value)


def _downgraded(field: str, effect: Effect) -> Effect:
    if effect is not Effect.FULL:
        return effect
    return Effect.MASKED if field in masking.MASKS else Effect.DENIED


def present(type_name: str, values: dict[str, Any], access: PolicyAccess) -> dict[str, Any]:
    """Apply the request's field effects to the values of one object of ``type_name``."""
    for field, effect in access.restricted(type_name).items():
        if field in values:
            values[field] = access.apply(type_name, field, effect, values[field])
    return values


def reveal(type_name: str, field: str, access: PolicyAccess, read: Callable[[], Any]) -> Any:
    """One personal value served at resolve time, as :func:`present` would show it; ``read``
    (e.g. decrypting a sealed column) runs only when the effect shows the value — never for a
    withheld field, and never for a field the answer does not select."""
    effect = access.restricted(type_name).get(field)
    if effect is None:
        return read()
    if effect is Effect.DENIED:
        return access.apply(type_name, field, effect, None)
    return access.apply(type_name, field, effect, read())
