"""Masks and cursors that leak nothing: an address mask keeps only known division
names; a cursor is sealed, so it shows no sort value and cannot be forged or altered."""

from __future__ import annotations

import base64
import binascii
import contextlib
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from authz import masking
from tests.complaint_steps import bj_customer
from tests.conftest import Backend, branch_id, create_customer
from tests.test_consent import _consent, _register
from tests.test_sharing import _grant

READ = "query($id: ID!) { customer(id: $id) { address } }"
ADDRESSES = {
    # The reported leak: no district after the city, so everything after the city is masked.
    "北京市建国路88号院东区3号楼": "北京市****",
    "北京市朝阳区建国路88号": "北京市朝阳区****",
    "新疆维吾尔自治区乌鲁木齐市天山区解放南路1号": "新疆维吾尔自治区乌鲁木齐市天山区****",
    "广东省深圳市南山区科技园路1号": "广东省深圳市南山区****",
    "深圳市南山区科技园路1号": "深圳市南山区****",
    "广东省科技园路1号": "广东省****",  # a province only: everything after it
    "广东省深圳市华侨城区3栋": "广东省深圳市****",  # "华侨城区" is no district of Shenzhen
    "朝阳区建国路88号": "****",  # neither province nor city: nothing is kept
    "建国路88号院东区3号楼": "****",
    "上海市浦东新区世纪大道100号": "上海市浦东新区****",
    "湖北省仙桃市沔阳大道1号": "湖北省仙桃市****",  # a county-level city under the province
}
# Every path to a MASKED address: roles whose contact group is masked, and a missing purpose.
MASKED_READERS = [
    ("SUP0001", "CUSTOMER_SERVICE"),
    ("RISK0001", "RISK_CONTROL"),
    ("AUD0001", "AUDIT"),
    ("HO0001", None),
]


@pytest.mark.parametrize(("staff", "purpose"), MASKED_READERS)
def test_masked_addresses_keep_only_known_division_names(
    backend: Backend, staff: str, purpose: str | None
) -> None:
    manager = backend.gql("{ me { id } }", staff="RM0001")["me"]["id"]
    branch = branch_id(backend, "SUP0001")
    for address, expected in ADDRESSES.items():
        customer = create_customer(
            backend, relationshipManager=manager, branch=branch, address=address
        )
        body = backend.post(READ, {"id": customer["id"]}, staff=staff, purpose=purpose).json()
        assert body["data"]["customer"]["address"] == expected, (staff, address)


# --- the mask as a property ----------------------------------------------------------------------

PREFIXES = {
    "": "",
    "北京市": "北京市",
    "北京市朝阳区": "北京市朝阳区",
    "广东省": "广东省",
    "广东省广州市": "广东省广州市",
    "广东省广州市天河区": "广东省广州市天河区",
    "广州市天河区": "广州市天河区",
    "天河区": "",  # a district alone is not enough to keep anything
    "香港特别行政区": "香港特别行政区",
}
# Street-like text with no character that ends a division name (区 县 市 省 …).
STREETS = st.text(
    alphabet="建国中山人民解放东西南北路街道巷号院栋楼单元室层0123456789AB-", min_size=1
)


@given(prefix=st.sampled_from(sorted(PREFIXES)), street=STREETS)
def test_a_masked_address_keeps_exactly_the_division_prefix(prefix: str, street: str) -> None:
    masked = masking.address(prefix + street)
    assert masked == PREFIXES[prefix] + "****"


@given(st.text(min_size=1, max_size=60))
def test_a_masked_address_never_shows_anything_beyond_a_prefix_of_division_names(
    address: str,
) -> None:
    masked = masking.address(address)
    assert masked.endswith("****")
    kept = masked[:-4]
    assert address.startswith(kept)
    assert not re.search(r"[0-9A-Za-z号路街道巷院栋楼室]", kept)  # never numbers or streets
    assert masking.address(kept) == masked  # what is kept is division names through and through


# --- cursors -------------------------------------------------------------------------------------

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String) {
  customers(first: $first, after: $after, last: $last, before: $before,
            orderBy: [{field: NAME, direction: ASC}]) {
    pageInfo { startCursor endCursor hasNextPage }
    edges { cursor node { id name birthDate } }
  }
}
"""


def _decodings(cursor: str) -> list[bytes]:
    """Every way a client might try to read a cursor: each part, as base64 of either alphabet."""
    found = [cursor.encode()]
    for part in {cursor, *re.split(r"[:.]", cursor)}:
        padded = part + "=" * (-len(part) % 4)
        for decode in (base64.b64decode, base64.urlsafe_b64decode):
            with contextlib.suppress(binascii.Error, ValueError):
                found.append(decode(padded))
    return found


def test_a_cursor_shows_no_name_or_other_sort_value(backend: Backend) -> None:
    customer = create_customer(backend, name="欧阳明月")
    page = backend.gql(PAGE, {"first": 100})["customers"]
    assert page["edges"]
    for edge in page["edges"]:
        name, born = edge["node"]["name"], edge["node"]["birthDate"]
        secrets = [
            name.encode(),
            name.encode("utf-16-le"),
            name.encode("unicode_escape"),
            name.encode("gb18030"),
            born.encode(),
        ]
        for decoded in _decodings(edge["cursor"]):
            for secret in secrets:
                assert secret not in decoded, edge["node"]
    assert customer["name"] == "欧阳明月"


def _tampered(cursor: str) -> list[str]:
    middle = len(cursor) // 2
    flipped = "A" if cursor[middle] != "A" else "B"
    forged_plain = base64.urlsafe_b64encode('["王", 1]'.encode()).decode()
    return [
        cursor[:middle] + flipped + cursor[middle + 1 :],
        cursor[:-2],
        cursor + "AA",
        forged_plain,  # the former format, made by hand
        "",
        "t1:" + base64.b64encode(b"\0" * 40).decode(),
    ]


@pytest.mark.parametrize("argument", ["after", "before"])
def test_a_tampered_or_forged_cursor_is_refused_naming_the_argument(
    backend: Backend, argument: str
) -> None:
    cursor = backend.gql(PAGE, {"first": 2})["customers"]["pageInfo"]["endCursor"]
    size = "first" if argument == "after" else "last"
    for bad in _tampered(cursor):
        body = backend.post(PAGE, {size: 2, argument: bad}).json()
        assert body["data"] is None, bad
        error = body["errors"][0]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        fields = error["extensions"]["fields"]
        assert [(f["field"], f["code"]) for f in fields] == [([argument], "INVALID_CURSOR")]


def test_a_cursor_of_another_order_or_list_is_refused(backend: Backend) -> None:
    by_name = backend.gql(PAGE, {"first": 2})["customers"]["pageInfo"]["endCursor"]
    other_order = """query($after: String) { customers(first: 2, after: $after,
        orderBy: [{field: NAME, direction: DESC}]) { edges { node { id } } } }"""
    body = backend.post(other_order, {"after": by_name}).json()
    assert body["errors"][0]["extensions"]["fields"][0]["code"] == "INVALID_CURSOR"
    customer = bj_customer(backend)
    history = """query($id: ID!, $after: String) {
        customerHistory(customerId: $id, first: 2, after: $after) { edges { cursor } } }"""
    body = backend.post(history, {"id": customer["id"], "after": by_name}).json()
    assert body["errors"][0]["extensions"]["fields"][0]["code"] == "INVALID_CURSOR"


def test_sealed_cursors_still_page_both_ways(backend: Backend) -> None:
    forward: list[Any] = []
    after = None
    while True:
        page = backend.gql(PAGE, {"first": 7, "after": after})["customers"]
        forward += [e["node"]["id"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert len(forward) == len(set(forward))
    middle = backend.gql(PAGE, {"first": 5})["customers"]["pageInfo"]["endCursor"]
    back = backend.gql(PAGE, {"last": 3, "before": middle})["customers"]["edges"]
    assert [e["node"]["id"] for e in back] == forward[1:4]


@pytest.mark.parametrize("size", [-1, 101])
def test_the_policy_versions_list_refuses_a_size_out_of_range_naming_it(
    backend: Backend, size: int
) -> None:
    """Like every connection's ``first``/``last``: SQLite read ``LIMIT -1`` as no limit at all
    and PostgreSQL failed with an internal error."""
    body = backend.post(
        "query($n: Int!) { policyVersions(last: $n) { edges { node { version } } } }",
        {"n": size},
        staff="SEC0001",
    )
    error = body.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    fields = error["extensions"]["fields"]
    assert [(f["field"], f["code"]) for f in fields] == [(["last"], "INVALID_PAGE_SIZE")]


FIND = """query($where: CustomerWhere, $order: [CustomerOrderBy!]) {
  customers(first: 100, where: $where, orderBy: $order) { totalCount edges { node { id } } }
}"""


def test_a_third_party_cannot_filter_or_order_on_what_its_consents_withhold(
    backend: Backend,
) -> None:
    """A consent for the contact group alone: name, ID number, birth date and gender stay
    withheld, so no filter or ordering may test them (else ``totalCount`` answers "is this
    customer's name 张三?"); with a consent naming identity the same filters work."""
    party = _register(backend)
    customer = create_customer(
        backend,
        relationshipManager=backend.gql("{ me { id } }", staff="RM0001")["me"]["id"],
        branch=branch_id(backend, "SUP0001"),
        phone="13912345678",
    )
    assert _consent(backend, customer, party)["errors"] == []
    full = backend.gql(
        "query($id: ID!) { customer(id: $id) { name idNumber birthDate phone } }",
        {"id": customer["id"]},
        staff="HO0001",
    )["customer"]
    probes: list[dict[str, Any]] = [
        {"where": {"name": {"eq": full["name"]}}},
        {"where": {"name": {"startsWith": full["name"][:1]}}},
        {"where": {"idNumber": {"eq": full["idNumber"]}}},
        {"where": {"birthDate": {"gte": full["birthDate"]}}},
        {"where": {"gender": {"eq": "MALE"}}},
        {"where": {"or": [{"name": {"eq": full["name"]}}]}},
        {"order": [{"field": "NAME"}]},
        {"order": [{"field": "BIRTH_DATE"}]},
    ]
    for probe in probes:
        body = backend.post(FIND, probe, staff=party["principal"]).json()
        assert body["data"] is None, probe
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN", probe
    # Contact values the consent gives may be searched.
    by_phone = backend.gql(
        FIND, {"where": {"phone": {"eq": full["phone"]}}}, staff=party["principal"]
    )["customers"]
    assert by_phone["totalCount"] == 1
    assert _consent(backend, customer, party, dataCategories=["identity"])["errors"] == []
    for probe in probes:
        found = backend.gql(FIND, probe, staff=party["principal"])["customers"]
        assert found["totalCount"] in (0, 1), probe
    named = backend.gql(FIND, probes[0], staff=party["principal"])["customers"]
    assert [e["node"]["id"] for e in named["edges"]] == [customer["id"]]


def test_a_grant_for_another_purpose_allows_no_filter_on_what_it_masks(
    backend: Backend,
) -> None:
    """A grant of the identity group for customer service: under another declared purpose its
    rows show the name MASKED, so filtering names must be refused, not answer by count."""
    customer = create_customer(backend, branch=branch_id(backend, "SUP0001"))
    name = backend.gql(READ_NAME, {"id": customer["id"]}, staff="HO0001")["customer"]["name"]
    created = _grant(backend, customers=[customer["id"]], fieldGroups=["identity"])
    assert created["errors"] == []
    probe = {"where": {"name": {"eq": name}}}
    try:
        seen = backend.gql(
            READ_NAME, {"id": customer["id"]}, staff="SH01SUP01", purpose="RELATIONSHIP_MANAGEMENT"
        )["customer"]
        assert seen["name"] == masking.name(name)
        body = backend.post(
            FIND, probe, staff="SH01SUP01", purpose="RELATIONSHIP_MANAGEMENT"
        ).json()
        assert body["data"] is None
        assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        # Under the purpose the grant names, the name is FULL and may be searched.
        found = backend.gql(FIND, probe, staff="SH01SUP01")["customers"]
        assert customer["id"] in {e["node"]["id"] for e in found["edges"]}
    finally:
        revoke = "mutation($id: ID!) { revokeShareGrant(input: {id: $id}) { errors { code } } }"
        backend.gql(revoke, {"id": created["shareGrant"]["id"]}, staff="SUP0001")


READ_NAME = "query($id: ID!) { customer(id: $id) { name } }"


SNAPSHOT = """
mutation($input: RecordFinancialSnapshotInput!) {
  recordFinancialSnapshot(input: $input) { errors { field code } }
}
"""
NET_WORTH = "query($id: ID!) { customer(id: $id) { latestFinancialSnapshot { netWorth } } }"


def test_a_negative_net_worth_is_masked_as_negative_not_as_the_lowest_band(
    backend: Backend,
) -> None:
    """Liabilities above assets: an auditor (financial MASKED) saw "0-10000" for -4,999,900."""
    customer = create_customer(backend)
    values = {
        "customerId": customer["id"],
        "asOf": "2026-01-31",
        "annualIncome": "0",
        "totalAssets": "100.00",
        "totalLiabilities": "5000000.00",
        "assetsUnderManagement": "0",
        "source": {"kind": "QUESTIONNAIRE", "detail": "annual financial questionnaire"},
    }
    assert backend.gql(SNAPSHOT, {"input": values})["recordFinancialSnapshot"]["errors"] == []
    full = backend.gql(NET_WORTH, {"id": customer["id"]}, staff="HO0001")
    assert full["customer"]["latestFinancialSnapshot"]["netWorth"] == "-4999900.00"
    masked = backend.gql(NET_WORTH, {"id": customer["id"]}, staff="AUD0001", purpose="AUDIT")
    assert masked["customer"]["latestFinancialSnapshot"]["netWorth"] == "<0"
