"""Every model, imported in one place so that metadata is complete (Alembic, tests)."""

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
from store.staff import Branch, Staff

__all__ = [
    "Account",
    "Base",
    "Branch",
    "Customer",
    "CustomerChange",
    "CustomerWatcher",
    "FinancialSnapshot",
    "InformationSource",
    "Notification",
    "Preferences",
    "RiskAssessment",
    "Staff",
    "Transaction",
    "Verification",
    "VerificationDue",
]
