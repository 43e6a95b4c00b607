"""Validators of INFO-3, checked as properties over generated input (hypothesis)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from stdnum.cn import ric

from core.errors import UserInputError
from resolvers.shared import validation

birth_dates = st.dates(min_value=date(1900, 1, 1), max_value=date(2025, 12, 31))
areas = st.sampled_from(["110105", "310104", "440305", "510107", "650102"])


def _number(area: str, birth: date, sequence: int) -> str:
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    return body + ric.calc_check_digit(body + "0")


@given(area=areas, birth=birth_dates, sequence=st.integers(0, 999))
def test_valid_id_numbers_are_accepted_with_birth_date_and_gender(
    area: str, birth: date, sequence: int
) -> None:
    number = _number(area, birth, sequence)
    parsed = validation.resident_id(number.lower())
    assert parsed.number == number
    assert parsed.birth_date == birth
    assert parsed.gender == ("MALE" if sequence % 2 else "FEMALE")


@given(
    area=areas,
    birth=birth_dates,
    sequence=st.integers(0, 999),
    position=st.integers(0, 17),
    digit=st.integers(0, 9),
)
def test_any_single_changed_character_is_refused(
    area: str, birth: date, sequence: int, position: int, digit: int
) -> None:
    number = _number(area, birth, sequence)
    changed = number[:position] + str(digit) + number[position + 1 :]
    if changed == number:
        return
    with pytest.raises(UserInputError) as refused:
        validation.resident_id(changed)
    assert refused.value.errors[0].code == "INVALID_ID_NUMBER"


def test_library_notes_examples() -> None:
    assert validation.resident_id("11010519491231002X").gender == "FEMALE"
    assert validation.resident_id("360426199101010071").birth_date == date(1991, 1, 1)
    with pytest.raises(UserInputError):
        validation.resident_id("360426199101010072")


@given(
    prefix=st.sampled_from(["", "+86", "86", "0086"]),
    second=st.sampled_from("3456789"),
    rest=st.integers(0, 10**9 - 1),
)
def test_mainland_mobiles_are_normalised_to_eleven_digits(
    prefix: str, second: str, rest: int
) -> None:
    digits = f"1{second}{rest:09d}"
    assert validation.mobile(prefix + digits) == digits


@pytest.mark.parametrize(
    "bad", ["12812345678", "1381234567", "138123456789", "+1 138 1234 5678", ""]
)
def test_other_numbers_are_refused(bad: str) -> None:
    with pytest.raises(UserInputError):
        validation.mobile(bad)


@given(st.decimals(min_value=0, max_value=Decimal("9999999999999999.99"), places=2))
def test_non_negative_amounts_with_two_places_are_exact(amount: Decimal) -> None:
    assert validation.money(str(amount), "amount") == amount


@given(st.decimals(max_value=Decimal("-0.01"), places=2, allow_nan=False, allow_infinity=False))
def test_negative_amounts_are_refused(amount: Decimal) -> None:
    with pytest.raises(UserInputError) as refused:
        validation.money(amount, "amount")
    assert refused.value.errors[0].code == "NEGATIVE_AMOUNT"


def test_fractions_of_a_fen_are_refused() -> None:
    with pytest.raises(UserInputError) as refused:
        validation.money("1.001", "amount")
    assert refused.value.errors[0].code == "INVALID_AMOUNT"


@pytest.mark.parametrize("good", ["a@b.cn", "Li.Na+bank@Mail.Example.COM"])
def test_email_is_lower_cased_whole(good: str) -> None:
    assert validation.email(good) == good.lower()


@pytest.mark.parametrize("bad", ["plain", "a@b", "a b@c.cn", "@c.cn"])
def test_malformed_email_is_refused(bad: str) -> None:
    with pytest.raises(UserInputError):
        validation.email(bad)
