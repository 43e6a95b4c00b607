"""The risk model (SEG-3) as data: credit-score bands and early-warning signals into a grade.

A risk rule set is checked the same way whether it comes from the reviewed file
(``risk_model.toml``) or from its owners (risk officers, head office) through
``changeRiskRuleSet``: one credit-score band per grade, from 0 upwards without gap or overlap,
HIGH risk for the lowest scores, LOW for the highest (the last band has no upper bound); every
early-warning signal given exactly once, with the value from which it raises the grade to
MEDIUM and to HIGH (null: never), the MEDIUM one not above the HIGH one, and a window of 1 …
365 days for the signals read over a window; a re-assessment period of 1 … 3650 days. Each
refusal names its field.

A customer's grade is the highest of its credit band's grade (``unscoredGrade`` without a credit
score) and the grade of each signal that reached a threshold; the signals that did are kept as
the grade's causes. ``grade`` is the model in Python: the SQL of ``runs`` computes the same.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from core.errors import Problems
from resolvers.segments.model import _decimal, _money, check_contiguous
from store.segments import RISK_ORDER, RiskGrade, RiskSignal

RISK_MODEL_FILE = Path(__file__).parent / "risk_model.toml"
RISK = "RISK"
MAX_SCORE = 1000  # credit scores are 0 … 1000 (recordRiskAssessment)
# Signal windows lie within the 12 months the runs read transactions of (runs.WINDOW).
MAX_WINDOW = 365
# The early-warning signals (every one but the credit score, which is banded).
SIGNALS = tuple(s for s in RiskSignal if s is not RiskSignal.CREDIT_SCORE)
WINDOWED = frozenset({RiskSignal.LARGE_OUTFLOW, RiskSignal.AUM_DROP})
# Bands rise in credit score while the risk falls.
BAND_ORDER = tuple(reversed(RISK_ORDER))


@dataclass(frozen=True)
class Band:
    grade: RiskGrade
    from_score: int
    below_score: int | None  # None: no upper bound (the top band)


@dataclass(frozen=True)
class Threshold:
    signal: RiskSignal
    medium_at: Decimal | None  # None: the signal never raises the grade to MEDIUM
    high_at: Decimal | None  # None: … to HIGH
    window_days: int | None  # the signals read over a window; None for the others

    def grade(self, value: Decimal) -> tuple[RiskGrade, Decimal] | None:
        """The grade ``value`` reaches and the threshold it reached, or None."""
        if self.high_at is not None and value >= self.high_at:
            return RiskGrade.HIGH, self.high_at
        if self.medium_at is not None and value >= self.medium_at:
            return RiskGrade.MEDIUM, self.medium_at
        return None


@dataclass(frozen=True)
class RiskRuleSet:
    version: int
    bands: tuple[Band, ...]  # rising credit score: HIGH, MEDIUM, LOW
    thresholds: tuple[Threshold, ...]  # in SIGNALS order
    unscored_grade: RiskGrade
    review_period_days: int  # a HIGH-risk customer is re-assessed this often (SEG-5)
    summary: str = ""

    def threshold(self, signal: RiskSignal) -> Threshold:
        return next(t for t in self.thresholds if t.signal is signal)

    def definition(self) -> dict[str, Any]:
        """The stored form (decimals as strings)."""

        def text(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return {
            "bands": [
                {"grade": b.grade.value, "from_score": b.from_score, "below_score": b.below_score}
                for b in self.bands
            ],
            "signals": [
                {
                    "signal": t.signal.value,
                    "medium_at": text(t.medium_at),
                    "high_at": text(t.high_at),
                    "window_days": t.window_days,
                }
                for t in self.thresholds
            ],
            "unscored_grade": self.unscored_grade.value,
            "review_period_days": self.review_period_days,
        }


def _whole(
    value: Any, path: Sequence[str], problems: Problems, low: int, high: int, code: str
) -> int | None:
    number = _decimal(value, path, problems, code)
    if number is None:
        return None
    if number != number.to_integral_value() or not low <= number <= high:
        problems.add(path, code, f"must be a whole number from {low} to {high}")
        return None
    return int(number)


def _grade(value: Any, path: Sequence[str], problems: Problems) -> RiskGrade | None:
    try:
        return RiskGrade(str(value))
    except ValueError:
        problems.add(path, "UNKNOWN_GRADE", "is not a risk grade")
        return None


def check_risk_rule_set(raw: Mapping[str, Any], version: int, summary: str = "") -> RiskRuleSet:
    """A risk rule set from plain values (``bands``, ``signals``, ``unscored_grade``,
    ``review_period_days``), or ``UserInputError`` naming every bad field (GraphQL names)."""
    problems = Problems()
    bands = _check_bands(raw.get("bands") or [], problems)
    thresholds = _check_signals(raw.get("signals") or [], problems)
    unscored = _grade(raw.get("unscored_grade"), ("unscoredGrade",), problems)
    period = _whole(
        raw.get("review_period_days"), ("reviewPeriodDays",), problems, 1, 3650, "INVALID_WINDOW"
    )
    problems.raise_if_any()
    assert unscored is not None and period is not None
    return RiskRuleSet(version, tuple(bands), tuple(thresholds), unscored, period, summary)


def _check_bands(raw: Sequence[Mapping[str, Any]], problems: Problems) -> list[Band]:
    found: list[tuple[int, Band]] = []
    seen: set[RiskGrade] = set()
    complete = True
    for i, item in enumerate(raw):
        at = ("bands", str(i))
        grade = _grade(item.get("grade"), (*at, "grade"), problems)
        if grade is not None and grade in seen:
            problems.add((*at, "grade"), "DUPLICATE_GRADE", "is given twice")
            grade = None
        start = _whole(
            item.get("from_score"), (*at, "fromScore"), problems, 0, MAX_SCORE, "INVALID"
        )
        below = item.get("below_score")
        end = (
            None
            if below is None
            else _whole(below, (*at, "belowScore"), problems, 1, MAX_SCORE + 1, "INVALID")
        )
        if grade is None or start is None or (below is not None and end is None):
            complete = False
            continue
        seen.add(grade)
        if end is not None and end <= start:
            problems.add((*at, "belowScore"), "INVALID", "must be above fromScore")
            complete = False
            continue
        found.append((i, Band(grade, start, end)))
    missing = [g.value for g in BAND_ORDER if g not in seen]
    if missing:
        problems.add(("bands",), "MISSING_GRADE", f"every grade needs a band: {', '.join(missing)}")
    if missing or not complete:
        return [b for _, b in found]
    found.sort(key=lambda pair: pair[1].from_score)
    check_contiguous(
        [(i, b.grade, b.from_score, b.below_score) for i, b in found],
        BAND_ORDER,
        ("bands", "fromScore", "belowScore"),
        ("GRADE_ORDER", "the bands must rise HIGH, MEDIUM, LOW in score"),
        problems,
    )
    return [b for _, b in found]


def _threshold_value(
    signal: RiskSignal, value: Any, path: Sequence[str], problems: Problems
) -> Decimal | None:
    """A threshold in the signal's unit: days, CNY, per cent (2 decimals), or a level 1 … 5."""
    if value is None:
        return None
    if signal is RiskSignal.LARGE_OUTFLOW:
        amount = _money(value, path, problems)
        if amount is not None and amount <= 0:
            problems.add(path, "INVALID_AMOUNT", "must be greater than zero")
            return None
        return amount
    if signal is RiskSignal.AUM_DROP:
        number = _decimal(value, path, problems, "INVALID_THRESHOLD")
        if number is not None and not (
            0 < number <= 100 and number == number.quantize(Decimal("0.01"))
        ):
            problems.add(path, "INVALID_THRESHOLD", "must be a per cent above 0, at most 100")
            return None
        return number
    high = 5 if signal is RiskSignal.MARKET_RISK else 36500
    whole = _whole(value, path, problems, 1, high, "INVALID_THRESHOLD")
    return None if whole is None else Decimal(whole)


def _check_signals(raw: Sequence[Mapping[str, Any]], problems: Problems) -> list[Threshold]:
    found: dict[RiskSignal, Threshold] = {}
    seen: set[RiskSignal] = set()
    for i, item in enumerate(raw):
        at = ("signals", str(i))
        try:
            signal = RiskSignal(str(item.get("signal")))
            if signal is RiskSignal.CREDIT_SCORE:
                raise ValueError
        except ValueError:
            problems.add((*at, "signal"), "UNKNOWN_SIGNAL", "is not an early-warning signal")
            continue
        if signal in seen:
            problems.add((*at, "signal"), "DUPLICATE_SIGNAL", "is given twice")
            continue
        seen.add(signal)
        medium = _threshold_value(signal, item.get("medium_at"), (*at, "mediumAt"), problems)
        high = _threshold_value(signal, item.get("high_at"), (*at, "highAt"), problems)
        if medium is not None and high is not None and medium > high:
            problems.add((*at, "mediumAt"), "THRESHOLD_ORDER", "must not be above highAt")
        window = item.get("window_days")
        days: int | None = None
        if signal in WINDOWED:
            if window is None:
                problems.add((*at, "windowDays"), "REQUIRED", "this signal is read over a window")
            else:
                days = _whole(
                    window, (*at, "windowDays"), problems, 1, MAX_WINDOW, "INVALID_WINDOW"
                )
        elif window is not None:
            problems.add((*at, "windowDays"), "INVALID_WINDOW", "this signal has no window")
        found[signal] = Threshold(signal, medium, high, days)
    missing = [s.value for s in SIGNALS if s not in seen]
    if missing:
        problems.add(
            ("signals",), "MISSING_SIGNAL", f"every signal needs thresholds: {', '.join(missing)}"
        )
    return [found[s] for s in SIGNALS if s in found]


def load_file(path: Path = RISK_MODEL_FILE) -> RiskRuleSet:
    """Version 1: the reviewed file (refused like an input when it is wrong)."""
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return check_risk_rule_set(raw, version=1, summary=str(raw.get("summary", "")))


def from_definition(definition: Mapping[str, Any], version: int, summary: str = "") -> RiskRuleSet:
    return check_risk_rule_set(definition, version, summary)


# -- the model in Python (the SQL of ``runs`` computes the same) ---------------------------------


@dataclass(frozen=True)
class RiskValues:
    credit_score: int | None
    days_past_due: int
    outflow: Decimal
    aum_drop: int  # hundredths of a per cent
    market_risk: int | None

    def value(self, signal: RiskSignal) -> Decimal | None:
        return {
            RiskSignal.CREDIT_SCORE: None
            if self.credit_score is None
            else Decimal(self.credit_score),
            RiskSignal.DAYS_PAST_DUE: Decimal(self.days_past_due),
            RiskSignal.LARGE_OUTFLOW: self.outflow,
            RiskSignal.AUM_DROP: Decimal(self.aum_drop).scaleb(-2),
            RiskSignal.MARKET_RISK: None if self.market_risk is None else Decimal(self.market_risk),
        }[signal]


@dataclass(frozen=True)
class Cause:
    """Why a grade is what it is: the band or a signal, its value and the threshold reached."""

    signal: RiskSignal
    value: Decimal | None  # None: no credit score
    threshold: Decimal | None  # a band: the score it lies below (None: unscored, or top band)
    grade: RiskGrade


def band_of(rules: RiskRuleSet, score: int) -> Band:
    return next(
        b
        for b in rules.bands
        if score >= b.from_score and (b.below_score is None or score < b.below_score)
    )


def grade(rules: RiskRuleSet, values: RiskValues) -> tuple[RiskGrade, list[Cause]]:
    """The risk grade and its causes: the credit band (unless LOW) and every signal reached."""
    causes: list[Cause] = []
    if values.credit_score is None:
        base = rules.unscored_grade
        if base is not RiskGrade.LOW:
            causes.append(Cause(RiskSignal.CREDIT_SCORE, None, None, base))
    else:
        band = band_of(rules, values.credit_score)
        base = band.grade
        if base is not RiskGrade.LOW:
            below = None if band.below_score is None else Decimal(band.below_score)
            causes.append(Cause(RiskSignal.CREDIT_SCORE, Decimal(values.credit_score), below, base))
    for threshold in rules.thresholds:
        value = values.value(threshold.signal)
        reached = None if value is None else threshold.grade(value)
        if reached is not None:
            causes.append(Cause(threshold.signal, value, reached[1], reached[0]))
    worst = max((RISK_ORDER.index(c.grade) for c in causes), default=0)
    return RISK_ORDER[max(worst, RISK_ORDER.index(base))], causes
