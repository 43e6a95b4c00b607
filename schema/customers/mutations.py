"""Customer mutations: register, change and record information, follow a customer."""

from __future__ import annotations

from typing import Any

import strawberry
from sqlalchemy.orm import Session, joinedload

from authz import rows as row_scopes
from authz.fields import PERSONAL_FIELDS, WRITTEN_FIELDS
from core.errors import UserInputError
from core.ids import pk_of
from resolvers.customers import commands, information
from schema.customers.inputs import (
    CreateCustomerInput,
    CustomerPayload,
    ImportTransactionsInput,
    ImportTransactionsPayload,
    RecordFinancialSnapshotInput,
    RecordFinancialSnapshotPayload,
    RecordPreferencesInput,
    RecordPreferencesPayload,
    RecordRiskAssessmentInput,
    RecordRiskAssessmentPayload,
    RecordVerificationInput,
    RecordVerificationPayload,
    UnwatchCustomerInput,
    UpdateCustomerInput,
    WatchCustomerInput,
)
from schema.customers.types import (
    FinancialSnapshot,
    Preferences,
    RiskAssessment,
    Verification,
    customer_errors,
)
from schema.shared.base import ContextInfo
from schema.shared.customers import load_customer
from schema.shared.mutations import Once, created_id, load_row, run_command
from schema.shared.rights import HasRight, WritesCustomer
from schema.shared.rights import mutation as guarded_mutation
from store import customers as rows
from store.staff import Staff


def _basic_values(given: Any) -> dict[str, Any]:
    """The fields actually given in a create/changes input, with IDs decoded."""
    values: dict[str, Any] = {}
    for key in commands.BASIC_FIELDS:
        value = getattr(given, key.removesuffix("_id"), strawberry.UNSET)
        if value is strawberry.UNSET:
            continue
        if key == "branch_id" and value is not None:
            value = pk_of(value, "Branch", "branch")
        elif key == "relationship_manager_id" and value is not None:
            value = pk_of(value, "Staff", "relationshipManager")
        values[key] = value
    return values


def _seen(info: ContextInfo, session: Session, value: str, field: str = "customerId") -> int:
    """The customer a mutation refers to: a valid ID of a customer the caller may see."""
    return row_scopes.require_visible(
        session, pk_of(value, "Customer", field), info.context.access.visible
    )


def _target(info: ContextInfo, session: Session, value: str, field: str = "customerId") -> int:
    """The customer a mutation changes: one in the caller's write rows (NOT_FOUND if unseen)."""
    ctx = info.context
    return row_scopes.require_writable(
        session, pk_of(value, "Customer", field), ctx.access.visible, ctx.access.writable
    )


def _written(type_name: str, given: Any, *, null_clears: bool = False) -> list[str]:
    """``Type.field`` of every field an input sets (``null_clears``: null is a change): personal
    fields and a customer's placement (branch, relationship manager).

    A new ID number also sets the birth date, gender and age it contains.
    """
    written = []
    for python, graphql in WRITTEN_FIELDS[type_name].items():
        value = getattr(given, python, strawberry.UNSET)
        if value is strawberry.UNSET or (value is None and not null_clears):
            continue
        written.append(f"{type_name}.{graphql}")
        if python == "id_number":
            written += [f"{type_name}.{f}" for f in ("birthDate", "gender", "age")]
    return written


def _all(*type_names: str) -> list[str]:
    return [f"{t}.{f}" for t in type_names for f in PERSONAL_FIELDS[t].values()]


# What confirming each kind of information vouches for: its fields (INFO-4).
VERIFIED_FIELDS = {
    rows.InformationKind.BASIC: _all("Customer"),
    rows.InformationKind.FINANCIAL: _all("FinancialSnapshot"),
    rows.InformationKind.TRANSACTIONS: ["Account.accountNo", "Transaction.amount"],
    rows.InformationKind.PREFERENCES: _all("Preferences"),
    rows.InformationKind.RISK: _all("RiskAssessment"),
}


def _imported(input: Any) -> list[str]:
    balances = any(a.balance is not None for a in input.accounts)
    return ["Transaction.amount", "Account.accountNo"] + (["Account.balance"] if balances else [])


def _write_scopes(info: ContextInfo) -> frozenset[str]:
    decisions = info.context.access.decisions
    return decisions.write_scopes if decisions else frozenset()


def _saved_import(done: tuple[int, information.ImportResult]) -> dict[str, int]:
    customer_id, result = done
    return {
        "customer": customer_id,
        "imported": result.imported,
        "skipped_duplicates": result.skipped_duplicates,
        "accounts_created": result.accounts_created,
    }


def _loaded_import(_session: Session, saved: Any) -> tuple[int, information.ImportResult]:
    return saved["customer"], information.ImportResult(
        imported=saved["imported"],
        skipped_duplicates=saved["skipped_duplicates"],
        accounts_created=saved["accounts_created"],
    )


@strawberry.type
class CustomerMutation:
    @guarded_mutation(
        "Register a customer (INFO-2, INFO-3, INFO-5). 新建客户。",
        WritesCustomer(
            lambda a: _written("Customer", a["input"]),
            "the fields given",
            right="customer:create",
        ),
    )
    def create_customer(self, info: ContextInfo, input: CreateCustomerInput) -> CustomerPayload:
        scopes = _write_scopes(info)
        return run_command(
            info,
            CustomerPayload,
            lambda s, actor: commands.create_customer(
                s,
                actor,
                _basic_values(input),
                input.source.draft(),
                info.context.access.visible,
                scopes,
            ),
            lambda created: CustomerPayload(customer=load_customer(info, created.id), errors=[]),
            errors=customer_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(rows.Customer)),
        )

    @guarded_mutation(
        "Change basic information; a stale `expectedVersion` fails with CONFLICT.",
        WritesCustomer(
            lambda a: _written("Customer", a["input"].changes, null_clears=True),
            "the fields changed",
        ),
    )
    def update_customer(self, info: ContextInfo, input: UpdateCustomerInput) -> CustomerPayload:
        scopes = _write_scopes(info)
        return run_command(
            info,
            CustomerPayload,
            lambda s, actor: commands.update_customer(
                s,
                actor,
                _target(info, s, input.id, "id"),
                input.expected_version,
                _basic_values(input.changes),
                input.source.draft(),
                info.context.access.visible,
                scopes,
            ),
            lambda changed: CustomerPayload(customer=load_customer(info, changed.id), errors=[]),
            errors=customer_errors,
        )

    @guarded_mutation(
        "Record a dated financial snapshot. 记录财务状况。",
        WritesCustomer(lambda a: _all("FinancialSnapshot"), "financial snapshots"),
    )
    def record_financial_snapshot(
        self, info: ContextInfo, input: RecordFinancialSnapshotInput
    ) -> RecordFinancialSnapshotPayload:
        amounts = {
            "annual_income": input.annual_income,
            "total_assets": input.total_assets,
            "total_liabilities": input.total_liabilities,
            "assets_under_management": input.assets_under_management,
        }
        return run_command(
            info,
            RecordFinancialSnapshotPayload,
            lambda s, actor: information.record_financial_snapshot(
                s,
                actor,
                _target(info, s, input.customer_id),
                input.as_of,
                amounts,
                input.source.draft(),
            ),
            lambda snapshot: RecordFinancialSnapshotPayload(
                financial_snapshot=FinancialSnapshot.present(snapshot, info.context),
                customer=load_customer(info, snapshot.customer_id),
                errors=[],
            ),
            errors=customer_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(rows.FinancialSnapshot)),
        )

    @guarded_mutation(
        "Import accounts and transactions in bulk. 批量导入交易。",
        WritesCustomer(lambda a: _imported(a["input"]), "accounts and transactions"),
    )
    def import_transactions(
        self, info: ContextInfo, input: ImportTransactionsInput
    ) -> ImportTransactionsPayload:
        accounts = [
            information.AccountDraft(
                a.account_no,
                a.kind,
                a.opened_on,
                a.balance,
                a.days_past_due,
                a.product_risk_level,
                a.closed_on,
            )
            for a in input.accounts
        ]
        transactions = [
            information.TransactionDraft(
                t.account_no, t.external_ref, t.occurred_at, t.amount, t.type, t.channel
            )
            for t in input.transactions
        ]

        def command(s: Session, actor: Staff) -> tuple[int, information.ImportResult]:
            customer_id = _target(info, s, input.customer_id)
            result = information.import_transactions(
                s, actor, customer_id, accounts, transactions, input.source.draft()
            )
            return customer_id, result

        return run_command(
            info,
            ImportTransactionsPayload,
            command,
            lambda done: ImportTransactionsPayload(
                imported=done[1].imported,
                skipped_duplicates=done[1].skipped_duplicates,
                accounts_created=done[1].accounts_created,
                customer=load_customer(info, done[0]),
                errors=[],
            ),
            errors=customer_errors,
            once=Once(input.idempotency_key, input, _saved_import, _loaded_import),
        )

    @guarded_mutation(
        "Record preferences and marketing consent. 记录偏好。",
        # Even with no field given it creates the preferences and replaces their source (INFO-1).
        WritesCustomer(
            lambda a: _written("Preferences", a["input"], null_clears=True) or _all("Preferences"),
            "the preferences",
        ),
    )
    def record_preferences(
        self, info: ContextInfo, input: RecordPreferencesInput
    ) -> RecordPreferencesPayload:
        fields = ("products", "service_channels", "contact_method", "contact_time")
        values = {
            key: getattr(input, key)
            for key in (*fields, "marketing_opt_in")
            if getattr(input, key) is not strawberry.UNSET
        }

        def command(s: Session, actor: Staff) -> Any:
            if "marketing_opt_in" in values and values["marketing_opt_in"] is None:
                raise UserInputError.one(("marketingOptIn",), "REQUIRED", "must be true or false")
            return information.record_preferences(
                s, actor, _target(info, s, input.customer_id), values, input.source.draft()
            )

        return run_command(
            info,
            RecordPreferencesPayload,
            command,
            lambda prefs: RecordPreferencesPayload(
                preferences=Preferences.present(prefs, info.context),
                customer=load_customer(info, prefs.customer_id),
                errors=[],
            ),
            errors=customer_errors,
        )

    @guarded_mutation(
        "Record a risk assessment. 记录风险评估。",
        WritesCustomer(lambda a: _written("RiskAssessment", a["input"]), "risk assessments"),
    )
    def record_risk_assessment(
        self, info: ContextInfo, input: RecordRiskAssessmentInput
    ) -> RecordRiskAssessmentPayload:
        return run_command(
            info,
            RecordRiskAssessmentPayload,
            lambda s, actor: information.record_risk_assessment(
                s,
                actor,
                _target(info, s, input.customer_id),
                risk_tolerance=input.risk_tolerance,
                credit_status=input.credit_status,
                questionnaire_score=input.questionnaire_score,
                credit_score=input.credit_score,
                assessed_at=input.assessed_at,
                source=input.source.draft(),
            ),
            lambda assessment: RecordRiskAssessmentPayload(
                risk_assessment=RiskAssessment.present(assessment, info.context),
                customer=load_customer(info, assessment.customer_id),
                errors=[],
            ),
            errors=customer_errors,
            once=Once(input.idempotency_key, input, created_id, load_row(rows.RiskAssessment)),
        )

    @guarded_mutation(
        "Record a re-verification (INFO-4). 记录信息核实。",
        WritesCustomer(
            lambda a: VERIFIED_FIELDS.get(a["input"].information_kind, []),
            "the kind of information",
        ),
    )
    def record_verification(
        self, info: ContextInfo, input: RecordVerificationInput
    ) -> RecordVerificationPayload:
        return run_command(
            info,
            RecordVerificationPayload,
            lambda s, actor: information.record_verification(
                s,
                actor,
                _target(info, s, input.customer_id),
                input.information_kind,
                input.result,
                input.note,
            ),
            lambda verification: RecordVerificationPayload(
                verification=Verification.present(verification),
                customer=load_customer(info, verification.customer_id),
                errors=[],
            ),
            errors=customer_errors,
            once=Once(
                input.idempotency_key,
                input,
                created_id,
                load_row(rows.Verification, joinedload(rows.Verification.verified_by)),
            ),
        )

    @guarded_mutation(
        "Follow a customer's changes (INFO-6). 关注客户变更。", HasRight("customer:watch")
    )
    def watch_customer(self, info: ContextInfo, input: WatchCustomerInput) -> CustomerPayload:
        def command(s: Session, actor: Staff) -> int:
            customer_id = _seen(info, s, input.customer_id)
            information.watch_customer(s, actor, customer_id, input.reason)
            return customer_id

        return run_command(
            info,
            CustomerPayload,
            command,
            lambda customer_id: CustomerPayload(
                customer=load_customer(info, customer_id), errors=[]
            ),
            errors=customer_errors,
        )

    @guarded_mutation("Stop following a customer's changes. 取消关注。", HasRight("customer:watch"))
    def unwatch_customer(self, info: ContextInfo, input: UnwatchCustomerInput) -> CustomerPayload:
        def command(s: Session, actor: Staff) -> int:
            customer_id = _seen(info, s, input.customer_id)
            information.unwatch_customer(s, actor, customer_id)
            return customer_id

        return run_command(
            info,
            CustomerPayload,
            command,
            lambda customer_id: CustomerPayload(
                customer=load_customer(info, customer_id), errors=[]
            ),
            errors=customer_errors,
        )
