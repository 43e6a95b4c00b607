"""Every model, imported in one place so that metadata is complete (Alembic, tests)."""

from store.audit import AuditCustomer, AuditEntry, AuditHead
from store.base import Base
from store.customers import (
    Account,
    Customer,
    CustomerChange,
    CustomerWatcher,
    FinancialSnapshot,
    InformationSource,
    Notification,
    Preferences,
    RiskAssessment,
    Transaction,
    Verification,
    VerificationDue,
)
from store.policy import PolicyRule, PolicyVersion
from store.sharing import Consent, ShareGrant, ShareGrantCustomer, ThirdParty
from store.staff import Branch, Staff

__all__ = [
    "Account",
    "AuditCustomer",
    "AuditEntry",
    "AuditHead",
    "Base",
    "Branch",
    "Consent",
    "Customer",
    "CustomerChange",
    "CustomerWatcher",
    "FinancialSnapshot",
    "InformationSource",
    "Notification",
    "PolicyRule",
    "PolicyVersion",
    "Preferences",
    "RiskAssessment",
    "ShareGrant",
    "ShareGrantCustomer",
    "Staff",
    "ThirdParty",
    "Transaction",
    "Verification",
    "VerificationDue",
]
