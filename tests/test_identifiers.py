"""One person, one customer: identifiers are normalised (NFKC, stripped, upper-cased) before
validation, hashing, storage and search; unknown area codes are refused (INFO-3)."""

from __future__ import annotations

import unicodedata
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select
from stdnum.cn import ric

from core.errors import UserInputError
from resolvers.shared import validation
from store import crypto
from store.customers import Customer
from tests.conftest import (
    SEEDED_CUSTOMERS,
    SOURCE,
    Backend,
    create_customer,
    create_errors,
    new_id_number,
)

UPDATE = """
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) { customer { id idNumber phone } errors { field code message } }
}
"""
SEARCH = """
query($where: CustomerWhere) { customers(first: 5, where: $where) { edges { node { id } } } }
"""


def full_width(value: str) -> str:
    """The form Chinese input methods type: every ASCII character as its full-width twin."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in value)


def id_number_ending_in_x() -> str:
    while not (number := new_id_number(male=False)).endswith("X"):
        pass
    return number


def _equivalents(number: str) -> list[str]:
    return [
        full_width(number),
        full_width(number.lower()),
        f" {number} ",
        f"\u3000{full_width(number)}\u3000",
        f"\t{number.lower()}\n",
        number.lower(),
    ]


def test_equivalent_forms_of_a_registered_id_number_are_duplicates_INFO_3(
    backend: Backend,
) -> None:
    number = id_number_ending_in_x()
    create_customer(backend, idNumber=number)
    for form in _equivalents(number):
        errors = create_errors(backend, idNumber=form)
        assert [(e["field"], e["code"]) for e in errors] == [(["idNumber"], "DUPLICATE_ID_NUMBER")]


def test_changing_an_id_number_to_an_equivalent_form_of_anothers_is_a_duplicate_INFO_3(
    backend: Backend,
) -> None:
    number = id_number_ending_in_x()
    create_customer(backend, idNumber=number)
    other = create_customer(backend)
    payload = backend.gql(
        UPDATE,
        {
            "input": {
                "id": other["id"],
                "expectedVersion": 1,
                "changes": {"idNumber": full_width(number.lower())},
                "source": SOURCE,
            }
        },
    )["updateCustomer"]
    assert [(e["field"], e["code"]) for e in payload["errors"]] == [
        (["idNumber"], "DUPLICATE_ID_NUMBER")
    ]


def test_identifiers_are_stored_in_their_normal_form_INFO_3(backend: Backend) -> None:
    number = id_number_ending_in_x()
    customer = create_customer(
        backend,
        idNumber=f"\u3000{full_width(number.lower())} ",
        phone=full_width("+86 139 0013 9000"),
        email=" " + full_width("Wang.Fang@Example.CN") + "\u3000",
    )
    assert customer["idNumber"] == number
    assert customer["phone"] == "13900139000"
    assert customer["email"] == "wang.fang@example.cn"


def test_search_normalises_like_registration_INFO_3(backend: Backend) -> None:
    number = id_number_ending_in_x()
    customer = create_customer(backend, idNumber=number, phone="13700137999")
    for where in (
        {"idNumber": {"eq": full_width(number)}},
        {"idNumber": {"eq": f"\u3000{full_width(number.lower())} "}},
        {"phone": {"eq": full_width("+86 137-0013-7999")}},
    ):
        edges = backend.gql(SEARCH, {"where": where})["customers"]["edges"]
        assert [e["node"]["id"] for e in edges] == [customer["id"]], where


@pytest.mark.parametrize(
    "number",
    [
        "999999199001010016",  # the reported one: no such division
        "110199" + "19900101001",  # Beijing exists, its district 99 does not
        "000000" + "19900101001",
    ],
)
def test_unknown_area_codes_are_refused_naming_the_field_INFO_3(
    backend: Backend, number: str
) -> None:
    if len(number) == 17:
        number += ric.calc_check_digit(number + "0")
    errors = create_errors(backend, idNumber=number)
    assert [(e["field"], e["code"]) for e in errors] == [(["idNumber"], "INVALID_ID_NUMBER")]
    assert "area" in errors[0]["message"]
    assert number not in errors[0]["message"]


def test_historic_area_codes_are_accepted_INFO_3(backend: Backend) -> None:
    """崇文区 (110103) merged into 东城区 in 2010; numbers issued before keep its code."""
    body = "110103" + "19800101" + "043"
    customer = create_customer(backend, idNumber=body + ric.calc_check_digit(body + "0"))
    assert customer["birthDate"] == "1980-01-01"


def test_account_numbers_are_normalised_for_import_INFO_3(backend: Backend) -> None:
    customer = create_customer(backend)
    account_no = "6217" + new_id_number()[6:17]  # digits no other test uses
    mutation = """
    mutation($input: ImportTransactionsInput!) {
      importTransactions(input: $input) {
        imported accountsCreated customer { accounts { accountNo } } errors { field code }
      }
    }"""
    source = {"kind": "BUSINESS_TRANSACTION", "detail": "core banking nightly extract"}

    def run(accounts: list[str], transactions: list[tuple[str, str]]) -> dict[str, Any]:
        when = "2024-01-02T03:04:05+00:00"
        return dict(
            backend.gql(
                mutation,
                {
                    "input": {
                        "customerId": customer["id"],
                        "accounts": [
                            {"accountNo": n, "kind": "DEMAND_DEPOSIT", "openedOn": "2020-03-01"}
                            for n in accounts
                        ],
                        "transactions": [
                            {
                                "accountNo": n,
                                "externalRef": ref,
                                "occurredAt": when,
                                "amount": "10.00",
                                "type": "DEPOSIT",
                                "channel": "ATM",
                            }
                            for n, ref in transactions
                        ],
                        "source": source,
                    }
                },
            )["importTransactions"]
        )

    first = run([f" {full_width(account_no)}\u3000"], [(account_no, "A")])
    assert first["errors"] == []
    assert (first["imported"], first["accountsCreated"]) == (1, 1)
    assert first["customer"]["accounts"] == [{"accountNo": account_no}]
    again = run([account_no], [(full_width(account_no), "B"), (f"{account_no} ", "A")])
    assert again["errors"] == []
    assert (again["imported"], again["accountsCreated"]) == (1, 0)
    assert again["customer"]["accounts"] == [{"accountNo": account_no}]


# --- properties ------------------------------------------------------------------------------

_cipher = crypto.FieldCipher([("p", b"k" * 32)], [("h", b"h" * 32)])
_spaces = st.text(alphabet=" \t\n\u3000\u00a0\u2002", max_size=3)
_birth = st.dates(min_value=date(1920, 1, 1), max_value=date(2010, 12, 31))


def _widen(value: str, mask: list[bool]) -> str:
    return "".join(full_width(c) if wide else c for c, wide in zip(value, mask, strict=False))


@given(
    area=st.sampled_from(["110105", "310104", "440305", "650102", "110103"]),
    birth=_birth,
    sequence=st.integers(0, 999),
    wide=st.lists(st.booleans(), min_size=18, max_size=18),
    lower=st.booleans(),
    before=_spaces,
    after=_spaces,
)
def test_every_equivalent_id_number_hashes_the_same(
    area: str, birth: date, sequence: int, wide: list[bool], lower: bool, before: str, after: str
) -> None:
    body = f"{area}{birth:%Y%m%d}{sequence:03d}"
    number = body + ric.calc_check_digit(body + "0")
    form = before + _widen(number.lower() if lower else number, wide) + after
    assert unicodedata.normalize("NFKC", form).strip().upper() == number
    normal = validation.resident_id(form).number
    assert normal == number
    assert _cipher.blind_index(normal) == _cipher.blind_index(number)


@given(
    prefix=st.sampled_from(["", "+86", "0086", "86"]),
    digits=st.integers(13_000_000_000, 19_999_999_999),
    wide=st.lists(st.booleans(), min_size=20, max_size=20),
    before=_spaces,
    after=_spaces,
)
def test_every_equivalent_mobile_number_hashes_the_same(
    prefix: str, digits: int, wide: list[bool], before: str, after: str
) -> None:
    number = str(digits)
    form = before + _widen(prefix + number, wide) + after
    assert _cipher.blind_index(validation.mobile(form)) == _cipher.blind_index(number)


@given(
    local=st.from_regex(r"[A-Za-z0-9._%+-]{1,20}", fullmatch=True),
    domain=st.from_regex(r"[a-z0-9]{1,12}\.(cn|com|net)", fullmatch=True),
    upper=st.lists(st.booleans(), min_size=16, max_size=16),
    wide=st.lists(st.booleans(), min_size=40, max_size=40),
    before=_spaces,
    after=_spaces,
)
def test_every_equivalent_email_hashes_the_same(
    local: str, domain: str, upper: list[bool], wide: list[bool], before: str, after: str
) -> None:
    """Full-width, padded and case variants are one address, stored lower-cased."""
    shouted = "".join(c.upper() if up else c for c, up in zip(domain, upper, strict=False))
    shouted += domain[len(upper) :]
    form = before + _widen(f"{local}@{shouted}", wide) + after
    normal = validation.email(form)
    assert normal == f"{local}@{domain}".lower()
    assert _cipher.blind_index(normal) == _cipher.blind_index(validation.email(f"{local}@{domain}"))


@pytest.mark.parametrize(
    "bad",
    [
        "１１０１０５１９４９１２３１００２Ｙ",
        "11010519491231002X\u200b",  # invisible characters are not stripped into validity
        "١١٠١٠٥١٩٤٩١٢٣١٠٠٢X",  # Arabic-Indic digits are digits to Python, not to GB 11643
    ],
)
def test_non_ascii_digits_that_nfkc_keeps_are_refused(bad: str) -> None:
    with pytest.raises(UserInputError) as refused:
        validation.resident_id(bad)
    assert refused.value.errors[0].code == "INVALID_ID_NUMBER"


def test_generated_id_numbers_pass_the_validator(backend: Backend) -> None:
    """The demo seed and the tests' ``new_id_number`` use real area codes only."""
    with backend.engine.connect() as connection:
        seeded = select(Customer.id_number).order_by(Customer.id).limit(SEEDED_CUSTOMERS)
        numbers = list(connection.scalars(seeded))
    assert len(numbers) == SEEDED_CUSTOMERS
    for number in [*numbers, new_id_number(), new_id_number(male=False)]:
        assert validation.resident_id(number).number == number


def test_employee_numbers_are_normalised_like_other_identifiers_INFO_3(backend: Backend) -> None:
    """Full-width, lower-case and padded staff numbers name the same staff member everywhere."""
    from tests.test_access import EXPLAIN

    for typed in ("ｒｍ０００１", " rm0001\u3000", "Rm0001"):
        asked = backend.gql(
            EXPLAIN, {"type": "Customer", "field": "phone", "staff": typed}, staff="SEC0001"
        )["explainAccess"]
        assert asked["staff"] == {"employeeNo": "RM0001"}, typed
        # About oneself no right is needed, however the number is typed.
        own = backend.gql(
            EXPLAIN, {"type": "Customer", "field": "phone", "staff": typed}, staff="RM0001"
        )["explainAccess"]
        assert own["staff"] == {"employeeNo": "RM0001"}, typed


def test_an_email_is_found_whatever_the_case_it_is_typed_in_INFO_3(backend: Backend) -> None:
    """Mail providers ignore case; a search typed in another case missed the customer."""
    customer = create_customer(backend, email=full_width("Case.Test@Example.COM"))
    assert customer["email"] == "case.test@example.com"
    for form in (
        "case.test@example.com",
        "CASE.TEST@EXAMPLE.COM",
        full_width("Case.Test@example.com"),
    ):
        edges = backend.gql(SEARCH, {"where": {"email": {"eq": form}}})["customers"]["edges"]
        assert [e["node"]["id"] for e in edges] == [customer["id"]], form


def test_migration_0011_lower_cases_emails_stored_before(cli_env: dict[str, str]) -> None:
    """An address stored with its local part's case (before 0011) is found in any case after."""
    from sqlalchemy import text

    from store import migrate
    from store.db import make_engine

    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine, "0010")
    cipher = crypto.cipher()
    stored = "Li.Na@example.com"
    with engine.begin() as connection:
        branch = connection.exec_driver_sql(
            "INSERT INTO branches (code, name, city) VALUES ('BJ', '北京分行', '北京市') RETURNING id"
        ).scalar()
        connection.execute(
            text(
                "INSERT INTO customers (id, version, name, gender, birth_date, id_number, "
                "id_number_hash, email, email_hash, branch_id, created_at, updated_at) VALUES "
                "(7, 1, 'n', 'MALE', '1990-01-01', 'x', 'h', :email, :hash, :branch, "
                "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {
                "email": cipher.seal(stored, "customers", "email", 7),
                "hash": cipher.blind_index(stored),
                "branch": branch,
            },
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        email, hashed = connection.exec_driver_sql(
            "SELECT email, email_hash FROM customers WHERE id = 7"
        ).one()
    engine.dispose()
    assert cipher.open(email, "customers", "email", 7) == "li.na@example.com"
    assert hashed in crypto.cipher().blind_indexes(validation.email("LI.NA@EXAMPLE.COM"))
