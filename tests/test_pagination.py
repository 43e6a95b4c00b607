"""Relay connections with keyset cursors (PLAT-1): every row once, in order, both directions."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import SEEDED_CUSTOMERS, Backend

PAGE = """
query($first: Int, $after: String, $last: Int, $before: String, $order: [CustomerOrderBy!], $where: CustomerWhere) {
  customers(first: $first, after: $after, last: $last, before: $before, orderBy: $order, where: $where) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { id name birthDate } }
  }
}
"""


def _walk_forward(backend: Backend, size: int, order: list[dict[str, str]]) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after = None
    while True:
        page = backend.gql(PAGE, {"first": size, "after": after, "order": order})["customers"]
        nodes += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def _walk_backward(
    backend: Backend, size: int, order: list[dict[str, str]]
) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    before = None
    while True:
        page = backend.gql(PAGE, {"last": size, "before": before, "order": order})["customers"]
        nodes = [e["node"] for e in page["edges"]] + nodes
        if not page["pageInfo"]["hasPreviousPage"]:
            return nodes
        before = page["pageInfo"]["startCursor"]


ORDERS = [
    [{"field": "NAME", "direction": "ASC"}],
    [{"field": "BIRTH_DATE", "direction": "DESC"}],
    [{"field": "NAME", "direction": "DESC"}, {"field": "BIRTH_DATE", "direction": "ASC"}],
    [],
]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(size=st.integers(min_value=1, max_value=100), order=st.sampled_from(ORDERS))
def test_pages_cover_every_customer_once_in_order_both_ways(
    backend: Backend, size: int, order: list[dict[str, str]]
) -> None:
    total = backend.gql(PAGE, {"first": 0})["customers"]["totalCount"]
    assert total >= SEEDED_CUSTOMERS
    forward = _walk_forward(backend, size, order)
    assert len(forward) == total
    assert len({n["id"] for n in forward}) == total
    backward = _walk_backward(backend, size, order)
    assert [n["id"] for n in backward] == [n["id"] for n in forward]
    if order and order[0]["field"] == "BIRTH_DATE":
        dates = [n["birthDate"] for n in forward]
        assert dates == sorted(dates, reverse=True)


def test_a_foreign_cursor_is_a_typed_error(backend: Backend) -> None:
    body = backend.post(PAGE, {"first": 5, "after": "bm90LWEtY3Vyc29y", "order": ORDERS[0]}).json()
    error = body["errors"][0]
    assert error["extensions"]["fields"][0]["code"] == "INVALID_CURSOR"


def test_total_count_is_only_computed_when_asked(backend: Backend) -> None:
    from store.db import StatementCounter

    query = "{ customers(first: 10) { edges { node { name } } } }"
    backend.gql(query)  # steady state: per-process caches are warm
    with StatementCounter(backend.engine) as without_total:
        backend.gql(query)
    with StatementCounter(backend.engine) as with_total:
        backend.gql(query.replace("{ edges", "{ totalCount edges"))
    assert with_total.count == without_total.count + 1


def test_statements_do_not_grow_with_the_page_size(backend: Backend) -> None:
    from store.db import StatementCounter

    query = """query($n: Int) { customers(first: $n) { totalCount edges { node {
      name idNumber phone branch { name } relationshipManager { name }
      latestFinancialSnapshot { assetsUnderManagement } riskProfile { riskTolerance }
      accounts { kind } preferences { products } transactionSummary { count } } } } }"""
    backend.gql(query, {"n": 1})  # steady state: per-process caches are warm
    counts = []
    for n in (3, 30):
        with StatementCounter(backend.engine) as counter:
            assert len(backend.gql(query, {"n": n})["customers"]["edges"]) == n
        counts.append(counter.count)
    assert counts[0] == counts[1]
