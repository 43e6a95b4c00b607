"""Validation of customer information (INFO-3).

Each function returns the normalised value or raises ``UserInputError`` naming the field and a
stable code. Messages describe the rule, never echo the rejected personal value.

Identifiers (ID number, mobile, e-mail, account number) go through :func:`canonical` first —
NFKC, so the full-width forms Chinese input methods type become ASCII, then surrounding
whitespace stripped — and then through their own validator, whose result is the one form that
is stored, hashed for search and searched for: registration, update, import and ``where``
filters all call the same function, so two spellings of one identifier can never be two rows.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation

from stdnum.cn import ric
from stdnum.exceptions import ValidationError

from core import clock, regions
from core.errors import FieldError, UserInputError
from core.text import blank

# ASCII classes only: Python's \d also matches Arabic-Indic and other digits NFKC keeps.
RESIDENT_ID = re.compile(r"[0-9]{17}[0-9X]")
MOBILE = re.compile(r"(?:\+?86|0086)?(1[3-9][0-9]{9})")
ACCOUNT_NO = re.compile(r"[!-~]{1,32}")
# Practical e-mail shape: one @, a dotted domain, no spaces; full RFC 5322 is not useful here.
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]{1,64}@(?:[A-Za-z0-9\-]{1,63}\.)+[A-Za-z]{2,24}$")
MAX_MONEY = Decimal("9999999999999999.99")
CENT = Decimal("0.01")
# NUL, or any UTF-16 surrogate: in a Python str one is always unpaired (not encodable as UTF-8).
BAD_TEXT = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` is text no database holds, or None: a NUL character (PostgreSQL text cannot
    hold one; refused on SQLite too) or a lone UTF-16 surrogate (JSON's ``"\\ud800"``, not
    encodable as UTF-8)."""
    if BAD_TEXT.search(value) is None:
        return None
    if "\x00" in value:
        return "must not contain a NUL character"
    return "must be valid Unicode text (no lone surrogate)"


def _fail(field: str | tuple[str, ...], code: str, message: str) -> UserInputError:
    path = (field,) if isinstance(field, str) else field
    return UserInputError([FieldError(path, code, message)])


@dataclass(frozen=True)
class ResidentId:
    """A valid 18-digit resident ID number and what it encodes."""

    number: str
    birth_date: date
    gender: str  # "MALE" or "FEMALE"


def canonical(value: str) -> str:
    """The first step of every identifier's normalisation: NFKC, surrounding whitespace off."""
    return unicodedata.normalize("NFKC", value).strip()


def employee_number(value: object) -> str:
    """A staff member's number as stored (``BJ01RM02``): NFKC, stripped, upper-cased."""
    return canonical(str(value)).upper()


def resident_id(value: str, field: str = "idNumber") -> ResidentId:
    """Check a GB 11643 resident ID number; full-width and lower-case ``x`` forms are accepted.

    The area code (first six digits) must be a division of python-stdnum's GB/T 2260 table,
    current or historic (:mod:`core.regions` says why historic codes count).
    """
    number = canonical(value).upper()
    if not RESIDENT_ID.fullmatch(number):
        raise _fail(field, "INVALID_ID_NUMBER", "must be 18 characters: 17 digits and a digit or X")
    try:
        birth = ric.get_birth_date(number)
    except ValidationError as exc:
        raise _fail(field, "INVALID_ID_NUMBER", "encodes an impossible birth date") from exc
    if ric.calc_check_digit(number) != number[17]:
        raise _fail(field, "INVALID_ID_NUMBER", "check character does not match (GB 11643)")
    if not regions.is_division(number[:6]):
        raise _fail(
            field,
            "INVALID_ID_NUMBER",
            "area code (first 6 digits) is not an administrative division (GB/T 2260)",
        )
    if birth > clock.today():
        raise _fail(field, "INVALID_ID_NUMBER", "encodes a birth date in the future")
    if birth.year < 1900:
        raise _fail(field, "INVALID_ID_NUMBER", "encodes a birth date before 1900")
    gender = "MALE" if int(number[16]) % 2 == 1 else "FEMALE"
    return ResidentId(number, birth, gender)


def mobile(value: str, field: str = "phone") -> str:
    """A mainland mobile number, returned as its 11 digits (+86 / 0086 prefix dropped)."""
    compact = re.sub(r"[\s\-]", "", canonical(value))
    match = MOBILE.fullmatch(compact)
    if not match:
        raise _fail(field, "INVALID_PHONE", "must be a mainland mobile number (11 digits, 13x–19x)")
    return match.group(1)


def email(value: str, field: str = "email") -> str:
    """An e-mail address, lower-cased whole.

    RFC 5321 lets a local part be case-sensitive, but no mail provider customers use treats it
    so; keeping its case made a search typed in another case miss the customer.
    """
    candidate = canonical(value)
    if len(candidate) > 254 or not EMAIL.fullmatch(candidate):
        raise _fail(field, "INVALID_EMAIL", "must be an e-mail address like name@example.com")
    return candidate.lower()


def account_number(value: str, field: str | tuple[str, ...] = "accountNo") -> str:
    """An account number as the core banking system issues it: 1–32 visible ASCII characters.

    Whitespace inside is dropped too (``6222 0212 …`` as printed on a card); letters keep their
    case, since the number is the source system's key and is compared exactly.
    """
    number = re.sub(r"\s", "", canonical(value))
    if not ACCOUNT_NO.fullmatch(number):
        raise _fail(field, "INVALID", "must be 1–32 characters: digits, letters, punctuation")
    return number


def money(value: Decimal | str, field: str | tuple[str, ...]) -> Decimal:
    """A non-negative CNY amount with at most 2 decimal places."""
    try:
        amount = Decimal(value)
    except (InvalidOperation, TypeError, ValueError) as exc:
        raise _fail(field, "INVALID_AMOUNT", "must be a decimal number like 1234.50") from exc
    if not amount.is_finite():
        raise _fail(field, "INVALID_AMOUNT", "must be a finite decimal number")
    if amount < 0:
        raise _fail(field, "NEGATIVE_AMOUNT", "must not be negative")
    # Before quantize: 1e400 or 30 digits would overflow its 28-digit context (InvalidOperation).
    if amount > MAX_MONEY:
        raise _fail(field, "INVALID_AMOUNT", "is larger than the largest amount the bank stores")
    if amount != amount.quantize(CENT):
        raise _fail(field, "INVALID_AMOUNT", "must have at most 2 decimal places (fen)")
    return amount.quantize(CENT)


def positive_money(value: Decimal | str, field: str | tuple[str, ...]) -> Decimal:
    amount = money(value, field)
    if amount == 0:
        raise _fail(field, "INVALID_AMOUNT", "must be greater than zero")
    return amount


def not_future_date(value: date, field: str | tuple[str, ...]) -> date:
    if value > clock.today():
        raise _fail(field, "DATE_IN_FUTURE", "must not be in the future")
    return value


def instant_problem(value: datetime) -> str | None:
    """Why ``value`` names no instant a database stores, or None: no offset, or an offset that
    moves it out of the calendar (``0001-01-01T00:00:00+05:00``) once converted to UTC."""
    if value.tzinfo is None or value.utcoffset() is None:
        return "must include a time zone (UTC recommended)"
    try:
        value.astimezone(UTC)
    except OverflowError:
        return "is outside the calendar once converted to UTC"
    return None


def not_future_time(value: datetime, field: str | tuple[str, ...]) -> datetime:
    problem = instant_problem(value)
    if problem is not None:
        raise _fail(field, "INVALID", problem)
    if value > clock.now():
        raise _fail(field, "DATE_IN_FUTURE", "must not be in the future")
    return value


def text(
    value: str, field: str | tuple[str, ...], *, max_length: int, required: bool = True
) -> str:
    cleaned = "" if blank(value) else value.strip()
    if required and not cleaned:
        raise _fail(field, "REQUIRED", "must not be empty")
    if len(cleaned) > max_length:
        raise _fail(field, "TOO_LONG", f"must be at most {max_length} characters")
    return cleaned
