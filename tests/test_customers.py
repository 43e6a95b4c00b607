"""Customer information over GraphQL (INFO-1 … INFO-5): create, validate, update, search, list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from core.ids import global_id
from store.customers import Customer, InformationSource
from tests.conftest import (
    CREATE,
    SOURCE,
    Backend,
    branch_id,
    create_customer,
    new_id_number,
)
from tests.conftest import (
    create_errors as _create_errors,
)


def _count(backend: Backend, model: Any) -> int:
    with backend.engine.connect() as connection:
        return int(connection.scalar(select(func.count()).select_from(model)))


def test_create_derives_birth_date_and_gender_from_the_id_number_INFO_3(backend: Backend) -> None:
    number = new_id_number(male=False)
    customer = create_customer(
        backend,
        idNumber=number,
        phone="+86 138-0013-8000",
        email="Li.Na@Example.COM",
        address="新疆维吾尔自治区乌鲁木齐市天山区解放南路1号",
    )
    assert customer["idNumber"] == number
    assert customer["gender"] == "FEMALE"
    assert customer["birthDate"] == f"{number[6:10]}-{number[10:12]}-{number[12:14]}"
    assert customer["phone"] == "13800138000"
    assert customer["email"] == "li.na@example.com"
    assert customer["version"] == 1
    assert customer["branch"]["code"] == "HO"  # the creator's branch by default


def test_lower_case_x_check_character_is_accepted_and_normalised_INFO_3(backend: Backend) -> None:
    customer = create_customer(backend, idNumber="11010519491231002x")
    assert customer["idNumber"] == "11010519491231002X"
    assert customer["gender"] == "FEMALE"
    assert customer["birthDate"] == "1949-12-31"


def test_invalid_input_is_refused_field_by_field_and_nothing_is_written_INFO_3(
    backend: Backend,
) -> None:
    before = (_count(backend, Customer), _count(backend, InformationSource))
    valid = new_id_number()  # one number: its check character, changed, must be refused
    bad_check = valid[:17] + ("0" if valid[17] != "0" else "1")
    errors = _create_errors(
        backend,
        idNumber="360426199101010072",
        phone="12345",
        email="not-an-email",
        name="  ",
    )
    codes = {tuple(e["field"]): e["code"] for e in errors}
    assert codes[("idNumber",)] == "INVALID_ID_NUMBER"
    assert codes[("phone",)] == "INVALID_PHONE"
    assert codes[("email",)] == "INVALID_EMAIL"
    assert codes[("name",)] == "REQUIRED"
    assert _create_errors(backend, idNumber=bad_check)[0]["code"] == "INVALID_ID_NUMBER"
    assert (_count(backend, Customer), _count(backend, InformationSource)) == before


def test_error_messages_never_echo_the_personal_value(backend: Backend) -> None:
    errors = _create_errors(backend, idNumber="360426199101010072", phone="19912")
    for error in errors:
        assert "360426199101010072" not in error["message"]
        assert "19912" not in error["message"]


def test_given_birth_date_and_gender_must_agree_with_the_id_number_INFO_3(backend: Backend) -> None:
    number = new_id_number(male=True)
    errors = _create_errors(backend, idNumber=number, gender="FEMALE", birthDate="2000-01-01")
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("gender",), "ID_NUMBER_MISMATCH"),
        (("birthDate",), "ID_NUMBER_MISMATCH"),
    }


def test_future_birth_date_in_id_number_is_refused(backend: Backend) -> None:
    body = "65010220990101001"
    from stdnum.cn import ric

    errors = _create_errors(backend, idNumber=body + ric.calc_check_digit(body + "0"))
    assert errors[0]["code"] == "INVALID_ID_NUMBER"
    assert "future" in errors[0]["message"]


def test_duplicate_id_number_points_at_the_existing_customer_INFO_5(backend: Backend) -> None:
    number = new_id_number()
    first = create_customer(backend, idNumber=number)
    values = {"name": "错误输入", "idNumber": number.lower(), "source": SOURCE}
    payload = backend.gql(
        CREATE.replace("errors { field code message }", "errors { code existingCustomerId }"),
        {"input": values},
    )["createCustomer"]
    # The ID is a structured field (never in the message): see tests/test_existence_leaks.py.
    assert payload["errors"] == [{"code": "DUPLICATE_ID_NUMBER", "existingCustomerId": first["id"]}]


def test_third_party_data_needs_a_named_source_and_legal_basis_INFO_1(backend: Backend) -> None:
    before = _count(backend, Customer)
    errors = _create_errors(
        backend, phone="123", source={"kind": "THIRD_PARTY", "detail": "credit bureau"}
    )
    assert {(tuple(e["field"]), e["code"]) for e in errors} == {
        (("phone",), "INVALID_PHONE"),
        (("source", "thirdPartyName"), "THIRD_PARTY_NAME_REQUIRED"),
        (("source", "legalBasis"), "LEGAL_BASIS_REQUIRED"),
    }
    assert _count(backend, Customer) == before
    customer = create_customer(
        backend,
        source={
            "kind": "THIRD_PARTY",
            "detail": "credit report",
            "thirdPartyName": "中国人民银行征信中心",
            "legalBasis": "征信业管理条例 art. 14; authorisation form 2026-118",
        },
    )
    sources = backend.gql(
        "query($id: ID!) { customer(id: $id) { sources { informationKind kind thirdPartyName legalBasis } } }",
        {"id": customer["id"]},
    )["customer"]["sources"]
    assert sources == [
        {
            "informationKind": "BASIC",
            "kind": "THIRD_PARTY",
            "thirdPartyName": "中国人民银行征信中心",
            "legalBasis": "征信业管理条例 art. 14; authorisation form 2026-118",
        }
    ]


UPDATE = """
mutation Update($input: UpdateCustomerInput!) {
  updateCustomer(input: $input) {
    customer { id version phone occupation }
    errors { field code message }
  }
}
"""


def test_update_with_the_current_version_then_a_stale_one_is_a_conflict_INFO_5(
    backend: Backend,
) -> None:
    customer = create_customer(backend, phone="13900000001")
    update = {
        "id": customer["id"],
        "expectedVersion": 1,
        "changes": {"phone": "13900000002", "occupation": "教师"},
        "source": {"kind": "PROACTIVE_CONTACT", "detail": "phone call-back"},
    }
    changed = backend.gql(UPDATE, {"input": update})["updateCustomer"]["customer"]
    assert changed["version"] == 2
    assert changed["phone"] == "13900000002"
    update["changes"] = {"occupation": "工程师"}
    response = backend.post(UPDATE, {"input": update})
    body = response.json()
    assert body["errors"][0]["extensions"]["code"] == "CONFLICT"
    assert body["data"] is None
    # The answer names the current version, never the one submitted (no value is echoed).
    update["expectedVersion"] = 987654
    refused = backend.post(UPDATE, {"input": update}).json()["errors"][0]
    assert refused["extensions"]["code"] == "CONFLICT"
    assert "current version is 2" in refused["message"]
    assert "987654" not in refused["message"]
    latest = backend.gql(
        "query($id: ID!) { customer(id: $id) { version occupation } }", {"id": customer["id"]}
    )
    assert latest["customer"] == {"version": 2, "occupation": "教师"}


def test_change_history_keeps_who_when_old_and_new_INFO_5(backend: Backend) -> None:
    customer = create_customer(backend, phone="13900000011", branch=branch_id(backend, "SUP0001"))
    backend.gql(
        UPDATE,
        {
            "input": {
                "id": customer["id"],
                "expectedVersion": 1,
                "changes": {"phone": "13900000012"},
                "source": SOURCE,
            }
        },
        staff="SUP0001",
    )
    history = backend.gql(
        """query($id: ID!) { customerHistory(customerId: $id, first: 10) {
             totalCount edges { node { version informationKind field oldValue newValue
             changedBy { employeeNo } changedAt } } } }""",
        {"id": customer["id"]},
    )["customerHistory"]
    assert history["totalCount"] == 1
    change = history["edges"][0]["node"]
    assert change["field"] == "phone"
    assert (change["oldValue"], change["newValue"]) == ("13900000011", "13900000012")
    assert change["changedBy"] == {"employeeNo": "SUP0001"}
    assert change["version"] == 2


def test_history_values_are_encrypted_at_rest_INFO_7(backend: Backend) -> None:
    customer = create_customer(backend, phone="13900000021")
    backend.gql(
        UPDATE,
        {
            "input": {
                "id": customer["id"],
                "expectedVersion": 1,
                "changes": {"phone": "13900000022"},
                "source": SOURCE,
            }
        },
    )
    with backend.engine.connect() as connection:
        raw = connection.exec_driver_sql(
            "SELECT old_value, new_value FROM customer_changes WHERE field = 'phone'"
        ).all()
        customer_raw = connection.exec_driver_sql("SELECT id_number, phone FROM customers").all()
    flat = " ".join(str(v) for row in raw + customer_raw for v in row)
    assert "13900000021" not in flat and "13900000022" not in flat
    assert customer["idNumber"] not in flat


SEARCH = """
query Search($where: CustomerWhere) {
  customers(where: $where, first: 10) { totalCount edges { node { id name } } }
}
"""


def test_search_by_exact_id_number_and_phone_INFO_7(backend: Backend) -> None:
    number = new_id_number()
    customer = create_customer(backend, idNumber=number, phone="13700000031")
    by_id = backend.gql(SEARCH, {"where": {"idNumber": {"eq": number.lower()}}})["customers"]
    assert [e["node"]["id"] for e in by_id["edges"]] == [customer["id"]]
    by_phone = backend.gql(SEARCH, {"where": {"phone": {"eq": "+8613700000031"}}})["customers"]
    assert [e["node"]["id"] for e in by_phone["edges"]] == [customer["id"]]
    nobody = backend.gql(SEARCH, {"where": {"phone": {"eq": "13700000039"}}})["customers"]
    assert nobody == {"totalCount": 0, "edges": []}


def test_search_with_a_malformed_phone_is_a_typed_error(backend: Backend) -> None:
    body = backend.post(SEARCH, {"where": {"phone": {"eq": "12"}}}).json()
    error = body["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert error["extensions"]["fields"][0]["field"] == ["where", "phone", "eq"]
    assert error["extensions"]["fields"][0]["code"] == "INVALID_PHONE"


def test_node_resolves_a_customer_by_global_id(backend: Backend) -> None:
    customer = create_customer(backend)
    node = backend.gql(
        "query($id: ID!) { node(id: $id) { id ... on Customer { name } } }", {"id": customer["id"]}
    )["node"]
    assert node == {"id": customer["id"], "name": "测试客户"}
    missing = backend.gql('{ node(id: "Q3VzdG9tZXI6OTk5OTk5OQ==") { id } }')
    assert missing["node"] is None


def test_a_global_id_with_an_out_of_range_key_is_missing_or_invalid_not_an_internal_error(
    backend: Backend,
) -> None:
    """A key past the keys' INTEGER columns names no row: ``node`` answers null, an ID argument
    or filter is ``INVALID_ID`` — never ``INTERNAL`` (PostgreSQL refuses 2**31 for an integer
    column, SQLite cannot bind 2**63)."""
    for key in (2**31, 2**63 - 1, 2**63, 10**30):
        for type_name in ("Customer", "Transaction", "Consent", "ShareRequest", "Task"):
            found = backend.gql(
                "query($id: ID!) { node(id: $id) { id } }", {"id": global_id(type_name, key)}
            )
            assert found["node"] is None, (type_name, key)
        customer = global_id("Customer", key)
        for query in (
            "query($id: ID!) { customer(id: $id) { id } }",
            "query($id: ID!) { transactions(customerId: $id) { totalCount } }",
            "query($id: ID!) { complaints(where: {customer: {eq: $id}}) { totalCount } }",
        ):
            body = backend.post(query, {"id": customer}).json()
            codes = [e["extensions"]["code"] for e in body.get("errors", [])]
            assert codes == ["BAD_USER_INPUT"], (query, body)
            assert body["errors"][0]["extensions"]["fields"][0]["code"] == "INVALID_ID"


def test_only_the_canonical_spelling_of_a_global_id_names_a_row(backend: Backend) -> None:
    """``Customer:١`` (an Arabic-Indic one), ``Customer:01`` or base64 with stray padding bits
    decode to customer 1 in a lenient parser; an ID has one spelling, so these name no row and
    can be neither read nor updated through."""
    import base64

    first = backend.gql("{ customers(first: 1) { edges { node { id } } } }")
    canonical = first["customers"]["edges"][0]["node"]["id"]
    _, key = base64.b64decode(canonical).decode().split(":")
    # With padding, the last base64 digit carries unused low bits: setting one keeps the bytes.
    body, padding = canonical.rstrip("="), "=" * (len(canonical) - len(canonical.rstrip("=")))
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    stray_bits = body[:-1] + alphabet[alphabet.index(body[-1]) + 1] + padding
    assert padding and base64.b64decode(stray_bits) == base64.b64decode(canonical)
    arabic_indic = "".join(chr(0x0660 + int(digit)) for digit in key)
    for spelling in [
        base64.b64encode(f"Customer:{arabic_indic}".encode()).decode(),
        base64.b64encode(f"Customer:0{key}".encode()).decode(),
        base64.b64encode(f"Customer:+{key}".encode()).decode(),
        base64.b64encode(f"Customer: {key}".encode()).decode(),
        stray_bits,
    ]:
        assert backend.gql("query($id: ID!) { node(id: $id) { id } }", {"id": spelling}) == {
            "node": None
        }
        body = backend.post("query($id: ID!) { customer(id: $id) { id } }", {"id": spelling}).json()
        assert [e["extensions"]["code"] for e in body["errors"]] == ["BAD_USER_INPUT"], body
        assert body["errors"][0]["extensions"]["fields"][0]["code"] == "INVALID_ID"
    assert backend.gql("query($id: ID!) { node(id: $id) { id } }", {"id": canonical}) == {
        "node": {"id": canonical}
    }
