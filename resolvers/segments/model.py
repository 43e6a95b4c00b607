"""The value model (SEG-1) as data: a rule set, how it is checked, and how it scores a customer.

A rule set is checked the same way whether it comes from the reviewed file
(``value_model.toml``) or from its owners through ``changeValueRuleSet``: every input counted
exactly once with a weight of 0 … 1 (at most 4 decimals) and the weights adding up to exactly 1;
one AUM range per tier, from 0 upwards without gap or overlap, tiers in their order; a lift score
of 0 … 100; a private-banking mark above 0. Each refusal names its field.

Scores are kept exact on every backend: an input's points are ``min(value, fullScoreAt) × 10000
÷ fullScoreAt`` rounded down (hundredths of a point), the score is ``Σ points × weight`` rounded
down, in hundredths (0 … 10000). ``classify`` is the model in Python: the set-based SQL of
``commands`` computes the same numbers, and the tests hold one to the other.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from pathlib import Path
from typing import Any, TypeVar

from core.errors import Problems
from resolvers.shared import validation
from store.segments import TIER_ORDER, ValueInput, ValueTier

VALUE_MODEL_FILE = Path(__file__).parent / "value_model.toml"
VALUE = "VALUE"
# Score unit: hundredths of a point; 100 points = FULL.
FULL = 10000
WEIGHT_PLACES = Decimal("0.0001")
MONEY_INPUTS = frozenset(set(ValueInput) - {ValueInput.TRANSACTION_FREQUENCY})


@dataclass(frozen=True)
class Factor:
    input: ValueInput
    weight: Decimal  # 0 … 1, at most 4 places
    full_score_at: Decimal  # the value that earns the input's full 100 points

    @property
    def weight_units(self) -> int:
        """The weight in ten-thousandths (the weights of a rule set add up to 10000)."""
        return int(self.weight * 10000)


@dataclass(frozen=True)
class CutOff:
    tier: ValueTier
    from_aum: Decimal
    below_aum: Decimal | None  # None: no upper bound (the top tier)


@dataclass(frozen=True)
class RuleSet:
    version: int
    factors: tuple[Factor, ...]
    cut_offs: tuple[CutOff, ...]  # in tier order, lowest first
    lift_score: Decimal | None  # None: the score lifts no one
    private_banking_aum: Decimal
    summary: str = ""

    @property
    def lift_units(self) -> int | None:
        return None if self.lift_score is None else int(self.lift_score * 100)

    def factor(self, value_input: ValueInput) -> Factor:
        return next(f for f in self.factors if f.input is value_input)

    def definition(self) -> dict[str, Any]:
        """The stored form (decimals as strings)."""
        return {
            "factors": [
                {
                    "input": f.input.value,
                    "weight": str(f.weight),
                    "full_score_at": str(f.full_score_at),
                }
                for f in self.factors
            ],
            "cut_offs": [
                {
                    "tier": c.tier.value,
                    "from_aum": str(c.from_aum),
                    "below_aum": None if c.below_aum is None else str(c.below_aum),
                }
                for c in self.cut_offs
            ],
            "lift_score": None if self.lift_score is None else str(self.lift_score),
            "private_banking_aum": str(self.private_banking_aum),
        }


def _decimal(value: Any, path: Sequence[str], problems: Problems, code: str) -> Decimal | None:
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        problems.add(path, code, "must be a decimal number")
        return None
    if not number.is_finite():
        problems.add(path, code, "must be a finite decimal number")
        return None
    return number


def _money(value: Any, path: Sequence[str], problems: Problems) -> Decimal | None:
    try:
        if value is None:
            problems.add(path, "REQUIRED", "must be given")
            return None
        return validation.money(Decimal(str(value)), tuple(path))
    except Exception as exc:
        errors = getattr(exc, "errors", None)
        if errors:
            problems.add(path, errors[0].code, errors[0].message)
        else:
            problems.add(path, "INVALID_AMOUNT", "must be a decimal number like 1234.50")
        return None


def check_rule_set(raw: Mapping[str, Any], version: int, summary: str = "") -> RuleSet:
    """A rule set from plain values (``factors``, ``cut_offs``, ``lift_score``,
    ``private_banking_aum``), or ``UserInputError`` naming every bad field (GraphQL names)."""
    problems = Problems()
    factors = _check_factors(raw.get("factors") or [], problems)
    cut_offs = _check_cut_offs(raw.get("cut_offs") or [], problems)
    lift: Decimal | None = None
    if raw.get("lift_score") is not None:
        lift = _decimal(raw["lift_score"], ("liftScore",), problems, "INVALID")
        if lift is not None and not (0 < lift <= 100 and lift == lift.quantize(Decimal("0.01"))):
            problems.add(("liftScore",), "INVALID", "must be above 0 and at most 100, 2 decimals")
    private = _money(raw.get("private_banking_aum"), ("privateBankingAum",), problems)
    if private is not None and private <= 0:
        problems.add(("privateBankingAum",), "INVALID_AMOUNT", "must be greater than zero")
    problems.raise_if_any()
    assert private is not None
    return RuleSet(version, tuple(factors), tuple(cut_offs), lift, private, summary)


E = TypeVar("E", ValueInput, ValueTier)
# How a refusal of each kind of key is coded: unknown and given twice.
_KEY_CODES = {
    ValueInput: ("UNKNOWN_INPUT", "DUPLICATE_INPUT"),
    ValueTier: ("UNKNOWN_TIER", "DUPLICATE_TIER"),
}


def _once(
    kind: type[E], item: Mapping[str, Any], path: tuple[str, ...], seen: set[E], problems: Problems
) -> E | None:
    """The item's key (an input or a tier) when known and not given before; else refused."""
    unknown, twice = _KEY_CODES[kind]
    try:
        key = kind(str(item.get(path[-1])))
    except ValueError:
        problems.add(path, unknown, "is not known to the value model")
        return None
    if key in seen:
        problems.add(path, twice, "is given twice")
        return None
    seen.add(key)
    return key


def _check_factors(raw: Sequence[Mapping[str, Any]], problems: Problems) -> list[Factor]:
    factors: list[Factor] = []
    seen: set[ValueInput] = set()
    total = Decimal(0)
    complete = True
    for i, item in enumerate(raw):
        at = ("factors", str(i))
        value_input = _once(ValueInput, item, (*at, "input"), seen, problems)
        if value_input is None:
            complete = False
            continue
        weight = _decimal(item.get("weight"), (*at, "weight"), problems, "INVALID_WEIGHT")
        if weight is not None and not (
            0 <= weight <= 1 and weight == weight.quantize(WEIGHT_PLACES)
        ):
            problems.add((*at, "weight"), "INVALID_WEIGHT", "must be 0 … 1 with at most 4 decimals")
            weight = None
        full: Decimal | None
        if value_input in MONEY_INPUTS:
            full = _money(item.get("full_score_at"), (*at, "fullScoreAt"), problems)
        else:
            full = _decimal(item.get("full_score_at"), (*at, "fullScoreAt"), problems, "INVALID")
            if full is not None and full != full.to_integral_value():
                problems.add(
                    (*at, "fullScoreAt"), "INVALID", "must be a whole number of transactions"
                )
                full = None
            elif full is not None and full > 10**9:
                problems.add((*at, "fullScoreAt"), "INVALID", "must be at most 1000000000")
                full = None
        if full is not None and full <= 0:
            problems.add((*at, "fullScoreAt"), "INVALID", "must be greater than zero")
            full = None
        if weight is None or full is None:
            complete = False
            continue
        total += weight
        factors.append(Factor(value_input, weight, full))
    missing = [i.value for i in ValueInput if i not in seen]
    if missing:
        problems.add(
            ("factors",), "MISSING_INPUT", f"every input needs a factor: {', '.join(missing)}"
        )
    elif complete and total != 1:
        problems.add(("factors",), "WEIGHTS_DO_NOT_ADD_UP", f"the weights add up to {total}, not 1")
    order = list(ValueInput)
    return sorted(factors, key=lambda f: order.index(f.input))


def _check_cut_offs(raw: Sequence[Mapping[str, Any]], problems: Problems) -> list[CutOff]:
    ranges: list[tuple[int, CutOff]] = []
    seen: set[ValueTier] = set()
    complete = True
    for i, item in enumerate(raw):
        at = ("cutOffs", str(i))
        tier = _once(ValueTier, item, (*at, "tier"), seen, problems)
        if tier is None:
            complete = False
            continue
        start = _money(item.get("from_aum"), (*at, "fromAum"), problems)
        below = item.get("below_aum")
        end = None if below is None else _money(below, (*at, "belowAum"), problems)
        if start is None or (below is not None and end is None):
            complete = False
            continue
        if end is not None and end <= start:
            problems.add((*at, "belowAum"), "INVALID", "must be above fromAum")
            complete = False
            continue
        ranges.append((i, CutOff(tier, start, end)))
    missing = [t.value for t in TIER_ORDER if t not in seen]
    if missing:
        problems.add(
            ("cutOffs",), "MISSING_TIER", f"every tier needs a range: {', '.join(missing)}"
        )
    if missing or not complete:
        return [c for _, c in ranges]
    ranges.sort(key=lambda pair: pair[1].from_aum)
    check_contiguous(
        [(i, c.tier, c.from_aum, c.below_aum) for i, c in ranges],
        TIER_ORDER,
        ("cutOffs", "fromAum", "belowAum"),
        ("TIER_ORDER", "the ranges must rise LOW, MEDIUM, HIGH"),
        problems,
    )
    return [c for _, c in ranges]


Span = tuple[int, Any, Any, Any]  # (input index, key, from, below or None)


def check_contiguous(
    spans: Sequence[Span],
    order: Sequence[Any],
    names: tuple[str, str, str],
    order_problem: tuple[str, str],
    problems: Problems,
) -> None:
    """Ranges [from, below) sorted by ``from``: keyed in ``order``, from 0 upwards without gap
    or overlap, the last without an upper bound (value tiers' AUM ranges, risk grades' credit-
    score bands). ``names``: the list's field and its from and below fields; ``order_problem``:
    the code and message of keys out of order."""
    collection, start, end = names
    if [key for _, key, _, _ in spans] != list(order):
        problems.add((collection,), *order_problem)
        return
    first_index, _, first_from, _ = spans[0]
    if first_from != 0:
        problems.add(
            (collection, str(first_index), start), "GAP", "the lowest range must start at 0"
        )
    for (previous_index, previous, _, previous_below), (index, key, current_from, _) in pairwise(
        spans
    ):
        if previous_below is None:
            problems.add(
                (collection, str(previous_index), end),
                "OVERLAPPING",
                f"has no upper bound but {key.value} starts above it",
            )
        elif current_from < previous_below:
            problems.add(
                (collection, str(index), start),
                "OVERLAPPING",
                f"starts inside the {previous.value} range (below {previous_below})",
            )
        elif current_from > previous_below:
            problems.add(
                (collection, str(index), start),
                "GAP",
                f"leaves a gap after {previous.value} (which ends at {previous_below})",
            )
    last_index, _, _, last_below = spans[-1]
    if last_below is not None:
        problems.add(
            (collection, str(last_index), end), "GAP", "the top range must have no upper bound"
        )


def load_file(path: Path = VALUE_MODEL_FILE) -> RuleSet:
    """Version 1: the reviewed file (refused like an input when it is wrong)."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return check_rule_set(raw, version=1, summary=str(raw.get("summary", "")))


def from_definition(definition: Mapping[str, Any], version: int, summary: str = "") -> RuleSet:
    """A stored rule set (checked when it was stored)."""
    return check_rule_set(definition, version, summary)


# -- the model in Python (the SQL of ``commands`` computes the same) -----------------------------


@dataclass(frozen=True)
class Inputs:
    aum: Decimal
    transaction_count: int
    deposit_balance: Decimal
    loan_amount: Decimal
    fee_income: Decimal

    def value(self, value_input: ValueInput) -> Decimal:
        return {
            ValueInput.AUM: self.aum,
            ValueInput.TRANSACTION_FREQUENCY: Decimal(self.transaction_count),
            ValueInput.DEPOSIT_BALANCE: self.deposit_balance,
            ValueInput.LOAN_AMOUNT: self.loan_amount,
            ValueInput.FEE_INCOME: self.fee_income,
        }[value_input]


def points(value: Decimal, full_score_at: Decimal) -> int:
    """An input's points in hundredths (0 … 10000), rounded down."""
    if value >= full_score_at:
        return FULL
    return int((value * FULL) // full_score_at)


def score(rules: RuleSet, inputs: Inputs) -> int:
    """The value score in hundredths (0 … 10000), rounded down."""
    total = sum(
        f.weight_units * points(inputs.value(f.input), f.full_score_at) for f in rules.factors
    )
    return total // 10000


def classify(rules: RuleSet, inputs: Inputs) -> tuple[int, ValueTier, bool]:
    """Score, tier and private-banking mark of one customer."""
    value = score(rules, inputs)
    rank = next(
        i
        for i, c in enumerate(rules.cut_offs)
        if inputs.aum >= c.from_aum and (c.below_aum is None or inputs.aum < c.below_aum)
    )
    lift = rules.lift_units
    if lift is not None and value >= lift:
        rank = min(rank + 1, len(TIER_ORDER) - 1)
    return value, TIER_ORDER[rank], inputs.aum >= rules.private_banking_aum
