"""Property tests of the value model at every boundary (SEG-1), over HTTP on SQLite and
PostgreSQL: AUM exactly at each cut-off and the private-banking mark ± 0.01, a score exactly at
the lift score ± 0.01 (the smallest step of a score), weights adding up to 1 ± 0.0001 (the
smallest step of a weight). The expected tiers are written from the rules themselves, not taken
from ``model.classify``; the service's scores are held to ``model.classify`` as well.

Each example of the HTTP properties changes the model and puts the reviewed file's model back.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core import clock
from core.errors import UserInputError
from resolvers.segments import model
from tests.conftest import SOURCE, Backend, create_customer
from tests.test_segments import IMPORT, RULE_SET, _change, _file_model, _record_aum, _segment

CENT = Decimal("0.01")
STEP = Decimal("0.0001")
INPUTS = ("AUM", "TRANSACTION_FREQUENCY", "DEPOSIT_BALANCE", "LOAN_AMOUNT", "FEE_INCOME")
HTTP = settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _money(fen: int) -> Decimal:
    return (Decimal(fen) / 100).quantize(CENT)


def _only(name: str, full: str) -> list[dict[str, str]]:
    """Factors giving ``name`` the whole weight."""
    return [{"input": i, "weight": "1" if i == name else "0", "fullScoreAt": full} for i in INPUTS]


class _Model:
    """A model change for one example, the reviewed file's model put back after."""

    def __init__(self, backend: Backend, **changes: Any) -> None:
        self.backend, self.changes = backend, changes

    def __enter__(self) -> None:
        body = _change(self.backend, summary="boundary property", **self.changes)
        assert body["data"]["changeValueRuleSet"]["errors"] == [], body

    def __exit__(self, *_exc: object) -> None:
        assert _change(self.backend)["data"]["changeValueRuleSet"]["errors"] == []


def _tier_of(backend: Backend, aum: Decimal) -> tuple[str, bool, str]:
    customer = create_customer(backend)
    _record_aum(backend, customer["id"], str(aum))
    segment = _segment(backend, customer["id"])["segment"]
    return segment["tier"], segment["privateBanking"], segment["score"]


def _around(value: Decimal) -> Iterator[tuple[Decimal, bool]]:
    """The value one step below (False: below the boundary), at and one step above it."""
    yield value - CENT, False
    yield value, True
    yield value + CENT, True


@HTTP
@given(
    low_end=st.integers(2, 10**8),
    medium_width=st.integers(2, 10**8),
    private_above=st.integers(2, 10**8),
)
def test_SEG_1_tiers_at_any_cut_offs_and_private_banking_mark_plus_minus_a_fen(
    backend: Backend, low_end: int, medium_width: int, private_above: int
) -> None:
    """Cut-offs c1 < c2 and a mark drawn at random (fen): c − 0.01 is the tier below, c and
    c + 0.01 the tier from c on; the mark likewise. No lift, so AUM alone decides."""
    c1, c2 = _money(low_end), _money(low_end + medium_width)
    mark = c2 + _money(private_above)
    cut_offs = [
        {"tier": "LOW", "fromAum": "0", "belowAum": str(c1)},
        {"tier": "MEDIUM", "fromAum": str(c1), "belowAum": str(c2)},
        {"tier": "HIGH", "fromAum": str(c2), "belowAum": None},
    ]
    with _Model(backend, cutOffs=cut_offs, liftScore=None, privateBankingAum=str(mark)):
        rules = _rules_of(backend)
        for cut, (below, above) in ((c1, ("LOW", "MEDIUM")), (c2, ("MEDIUM", "HIGH"))):
            for aum, at_or_above in _around(cut):
                tier, private, score = _tier_of(backend, aum)
                assert tier == (above if at_or_above else below), (cut, aum)
                assert not private
                assert Decimal(score) == _expected_score(rules, aum)
        for aum, at_or_above in _around(mark):
            tier, private, _ = _tier_of(backend, aum)
            assert (tier, private) == ("HIGH", at_or_above), aum


def _rules_of(backend: Backend) -> model.RuleSet:
    from tests.test_segments import _rules

    return _rules(backend)


def _expected_score(rules: model.RuleSet, aum: Decimal) -> Decimal:
    score, _, _ = model.classify(rules, model.Inputs(aum, 0, Decimal(0), Decimal(0), Decimal(0)))
    return Decimal(score).scaleb(-2)


def _fees(backend: Backend, fee: Decimal) -> dict[str, Any]:
    """A customer with no AUM (LOW) and one fee of ``fee`` paid last month."""
    customer = create_customer(backend)
    account = f"F{customer['id'][-8:]}"
    opened = (clock.today() - timedelta(days=60)).isoformat()
    payload = backend.gql(
        IMPORT,
        {
            "input": {
                "customerId": customer["id"],
                "accounts": [{"accountNo": account, "kind": "DEMAND_DEPOSIT", "openedOn": opened}],
                "transactions": [
                    {
                        "accountNo": account,
                        "externalRef": "fee",
                        "occurredAt": (clock.now() - timedelta(days=30)).isoformat(),
                        "amount": str(fee),
                        "type": "FEE",
                        "channel": "BRANCH_COUNTER",
                    }
                ],
                "source": SOURCE,
            }
        },
    )["importTransactions"]
    assert payload["errors"] == [], payload
    return _segment(backend, customer["id"])["segment"]  # type: ignore[no-any-return]


@HTTP
@given(lift=st.integers(2, 9998))
def test_SEG_1_a_score_exactly_at_the_lift_score_lifts_one_hundredth_below_does_not(
    backend: Backend, lift: int
) -> None:
    """Fees alone, full score at 100.00 CNY: a fee of x CNY scores exactly x points, so the
    score can be put at the lift score L − 0.01, L and L + 0.01 (the smallest step). A LOW
    customer (no AUM) is lifted to MEDIUM from L on."""
    score = _money(lift)
    with _Model(backend, factors=_only("FEE_INCOME", "100"), liftScore=str(score)):
        for value, at_or_above in _around(score):
            segment = _fees(backend, value)
            assert Decimal(segment["score"]) == value
            assert segment["tier"] == ("MEDIUM" if at_or_above else "LOW"), value


def _weights(draw: st.DrawFn) -> list[Decimal]:
    """Five weights of at most 4 decimals adding up to exactly 1."""
    cuts = sorted(draw(st.lists(st.integers(0, 10000), min_size=4, max_size=4)))
    edges = [0, *cuts, 10000]
    return [Decimal(b - a) * STEP for a, b in pairwise(edges)]


weights = st.composite(_weights)


@settings(max_examples=300, deadline=None)
@given(weights=weights(), index=st.integers(0, 4), delta=st.sampled_from([-1, 1]))
def test_SEG_1_weights_adding_up_to_one_are_accepted_one_step_off_refused(
    weights: list[Decimal], index: int, delta: int
) -> None:
    """The model's check, many examples: exactly 1 accepted; any weight moved by ±0.0001
    (staying within 0 … 1) refused as WEIGHTS_DO_NOT_ADD_UP on ``factors``."""
    raw = _raw_model(weights)
    assert model.check_rule_set(raw, 2).factors
    moved = list(weights)
    moved[index] += delta * STEP
    if not 0 <= moved[index] <= 1:
        return
    try:
        model.check_rule_set(_raw_model(moved), 2)
    except UserInputError as exc:
        assert [(e.code, tuple(e.field)) for e in exc.errors] == [
            ("WEIGHTS_DO_NOT_ADD_UP", ("factors",))
        ]
    else:
        raise AssertionError("weights off by one step were accepted")


def _raw_model(weights: list[Decimal]) -> dict[str, Any]:
    base = _file_model()
    return {
        "factors": [
            {"input": f["input"], "weight": str(w), "full_score_at": f["fullScoreAt"]}
            for f, w in zip(base["factors"], weights, strict=True)
        ],
        "cut_offs": [
            {"tier": c["tier"], "from_aum": c["fromAum"], "below_aum": c["belowAum"]}
            for c in base["cutOffs"]
        ],
        "lift_score": base["liftScore"],
        "private_banking_aum": base["privateBankingAum"],
    }


@HTTP
@given(weights=weights(), index=st.integers(0, 4))
def test_SEG_1_weights_over_http_exactly_one_accepted_one_step_off_refused_nothing_written(
    backend: Backend, weights: list[Decimal], index: int
) -> None:
    factors = [
        {"input": f["input"], "weight": str(w), "fullScoreAt": f["fullScoreAt"]}
        for f, w in zip(_file_model()["factors"], weights, strict=True)
    ]
    before = backend.gql(RULE_SET)["valueRuleSet"]["version"]
    for delta in (STEP, -STEP):
        moved = [dict(f) for f in factors]
        value = Decimal(moved[index]["weight"]) + delta
        if not 0 <= value <= 1:
            continue
        moved[index]["weight"] = str(value)
        payload = _change(backend, factors=moved)["data"]["changeValueRuleSet"]
        assert [(e["code"], e["field"]) for e in payload["errors"]] == [
            ("WEIGHTS_DO_NOT_ADD_UP", ["factors"])
        ]
        assert backend.gql(RULE_SET)["valueRuleSet"]["version"] == before
    with _Model(backend, factors=factors):
        found = backend.gql(RULE_SET)["valueRuleSet"]
        assert found["version"] == before + 1
        assert [Decimal(f["weight"]) for f in found["factors"]] == weights
