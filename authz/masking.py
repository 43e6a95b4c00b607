"""The masking table: what a MASKED personal value looks like.

ID number keeps the first 3 and last 4 characters, a mobile number the first 3 and last 4, a
name its surname, an address its leading province/city/district names, an e-mail its first
character and domain; money becomes a band ``"<low>-<high>"`` in CNY (``"10000000+"`` at the
top, ``"<0"`` below zero). A field with no mask here cannot be MASKED: the policy treats MASKED
as DENIED for it.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from core import regions

# Upper bounds of the amount bands, CNY.
BANDS = [10_000, 50_000, 100_000, 500_000, 1_000_000, 5_000_000, 10_000_000]


def id_number(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 7, 0) + value[-4:]


def mobile(value: str) -> str:
    return value[:3] + "****" + value[-4:]


def name(value: str) -> str:
    """Keep the surname (first character; compound surnames lose their second character)."""
    return value[:1] + "*" * max(len(value) - 1, 1)


def address(value: str) -> str:
    """Keep the leading division names the GB/T 2260 table knows, mask everything after them.

    An allow-list: what is kept must be a real province, a city in it and a district in that
    city; with no district, everything after the city (or province) is masked; with neither
    province nor city, everything is. A street is never kept, whatever it is called.
    """
    return regions.division_prefix(value) + "****"


def email(value: str) -> str:
    local, _, domain = value.partition("@")
    return f"{local[:1]}***@{domain}"


def text(value: str) -> str:
    return value[:1] + "***"


def account_number(value: str) -> str:
    return "****" + value[-4:]


def amount(value: Decimal) -> str:
    """The band of ``value``; a negative amount (a net worth below zero) is ``"<0"``."""
    if value < 0:
        return "<0"
    low = 0
    for high in BANDS:
        if value < high:
            return f"{low}-{high}"
        low = high
    return f"{BANDS[-1]}+"


MASKS: dict[str, Callable[[Any], Any]] = {
    "Customer.idNumber": id_number,
    "Customer.phone": mobile,
    "Customer.name": name,
    "Customer.address": address,
    "Customer.email": email,
    "Customer.occupation": text,
    "Customer.employer": text,
    "Account.accountNo": account_number,
    "Account.balance": amount,
    "FinancialSnapshot.annualIncome": amount,
    "FinancialSnapshot.totalAssets": amount,
    "FinancialSnapshot.totalLiabilities": amount,
    "FinancialSnapshot.assetsUnderManagement": amount,
    "FinancialSnapshot.netWorth": amount,
    "Transaction.amount": amount,
    "TransactionSummary.inflow": amount,
    "TransactionSummary.outflow": amount,
    "Complaint.amountInDispute": amount,
}


def mask(field: str, value: Any) -> Any:
    """The MASKED form of ``value`` of ``field`` ("Type.field"); None stays None."""
    return None if value is None else MASKS[field](value)
