"""Scorecard weights and rules as data (KPI-2, KPI-3): a weight version, how it is checked, how
an indicator's value becomes a 0 … 100 score, the honour rules and the training catalogue.

A weight version is checked the same way whether it comes from the reviewed file
(``weights.toml``) or from head office through ``setScorecardWeights``: each level (BRANCH,
TEAM, STAFF) exactly once; each indicator a known one of the KPI registry, at most once per
level, with a weight of 0 … 1 (at most 4 decimals), a direction and a target and floor on the
right sides of each other; the weights of a level adding up to exactly 1. Each refusal names
its field (GraphQL names: ``levels.0.indicators.2.weight``).
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.errors import Problems
from resolvers.kpis.indicators import BY_CODE
from resolvers.kpis.scope import Level

WEIGHTS_FILE = Path(__file__).parent / "weights.toml"
TRAININGS_FILE = Path(__file__).parent / "trainings.toml"
LEVELS = (Level.BRANCH, Level.TEAM, Level.STAFF)
WEIGHT_PLACES = Decimal("0.0001")
SCORE_PLACES = Decimal("0.01")
HUNDRED = Decimal(100)
# Targets and floors: finite decimals of at most 18 digits and 4 places.
LIMIT_PLACES = Decimal("0.0001")
LIMIT_MAX = Decimal("1e14")


class Direction(StrEnum):
    HIGHER = "HIGHER"  # higher is better
    LOWER = "LOWER"  # lower is better


class HonourTitle(StrEnum):
    EXCELLENT_TEAM = "EXCELLENT_TEAM"
    SERVICE_STAR = "SERVICE_STAR"


TITLES = {
    HonourTitle.EXCELLENT_TEAM: "优秀客户管理团队",
    HonourTitle.SERVICE_STAR: "客户服务明星",
}


@dataclass(frozen=True)
class Weight:
    indicator: str
    weight: Decimal
    direction: Direction
    target: Decimal
    floor: Decimal

    def score(self, value: Decimal | None) -> Decimal | None:
        """The value normalised to 0 … 100 (2 decimals, half up); None when the value is."""
        return normalise(value, self.direction, self.target, self.floor)


@dataclass(frozen=True)
class HonourRule:
    title: HonourTitle
    level: Level
    top: int | None
    min_score: Decimal | None
    min_customers: int
    no_major_complaint: bool

    def definition(self) -> dict[str, Any]:
        return {
            "title": self.title.value,
            "level": self.level.value,
            "top": self.top,
            "min_score": None if self.min_score is None else str(self.min_score),
            "min_customers": self.min_customers,
            "no_major_complaint": self.no_major_complaint,
        }

    def describe(self) -> str:
        """The rule in words, as the API shows it with an award."""
        parts = []
        if self.top is not None:
            parts.append(f"名次前 {self.top}")
        if self.min_score is not None:
            parts.append(f"得分不低于 {self.min_score}")
        parts.append(f"客户数不少于 {self.min_customers}")
        if self.no_major_complaint:
            parts.append("期内无重大投诉")
        return "，".join(parts)

    def awards(self, score: Decimal | None, rank: int | None, customers: int, major: int) -> bool:
        return (
            score is not None
            and (self.top is None or (rank is not None and rank <= self.top))
            and (self.min_score is None or score >= self.min_score)
            and customers >= self.min_customers
            and not (self.no_major_complaint and major > 0)
        )


@dataclass(frozen=True)
class WeightVersion:
    version: int
    valid_from: date
    valid_to: date | None
    levels: dict[Level, tuple[Weight, ...]]
    honours: tuple[HonourRule, ...]
    summary: str = ""

    def definition(self) -> dict[str, Any]:
        """The stored form (decimals as strings)."""
        return {
            "levels": [
                {
                    "level": level.value,
                    "indicators": [
                        {
                            "indicator": w.indicator,
                            "weight": str(w.weight),
                            "direction": w.direction.value,
                            "target": str(w.target),
                            "floor": str(w.floor),
                        }
                        for w in weights
                    ],
                }
                for level, weights in self.levels.items()
            ],
            "honours": [rule.definition() for rule in self.honours],
        }

    def covers(self, day: date) -> bool:
        return self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)


def normalise(
    value: Decimal | None, direction: Direction, target: Decimal, floor: Decimal
) -> Decimal | None:
    """The written rule (README, weights.toml): linear between floor (0) and target (100),
    capped at both ends, 2 decimals rounded half up."""
    if value is None:
        return None
    if direction is Direction.HIGHER:
        share = (value - floor) / (target - floor)
    else:
        share = (floor - value) / (floor - target)
    share = min(max(share, Decimal(0)), Decimal(1))
    return (share * HUNDRED).quantize(SCORE_PLACES, ROUND_HALF_UP)


def total(lines: Sequence[tuple[Decimal, Decimal | None]]) -> Decimal | None:
    """The scorecard's score from (weight, line score) pairs: Σ weight × score ÷ Σ weight over
    the lines with a score (an indicator without a value — nothing to divide by — leaves the
    others to carry its weight); None when no line has a score."""
    scored = [(w, s) for w, s in lines if s is not None]
    weights = sum((w for w, _ in scored), Decimal(0))
    if not scored or weights == 0:
        return None
    points = sum((w * s for w, s in scored), Decimal(0))
    return (points / weights).quantize(SCORE_PLACES, ROUND_HALF_UP)


def _decimal(value: Any, path: Sequence[str], problems: Problems) -> Decimal | None:
    if value is None:
        problems.add(path, "REQUIRED", "must be given")
        return None
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError, TypeError):
        problems.add(path, "INVALID", "must be a decimal number")
        return None
    if not number.is_finite() or abs(number) >= LIMIT_MAX:
        problems.add(path, "INVALID", "must be a finite decimal number below 10^14")
        return None
    if number != number.quantize(LIMIT_PLACES):
        problems.add(path, "INVALID", "at most 4 decimal places")
        return None
    return number


def _check_weight(
    raw: Mapping[str, Any], path: tuple[str, ...], problems: Problems
) -> Weight | None:
    before = len(problems.errors)
    code = raw.get("indicator")
    if not isinstance(code, str) or code not in BY_CODE:
        problems.add((*path, "indicator"), "UNKNOWN_INDICATOR", "no such indicator")
    weight = _decimal(raw.get("weight"), (*path, "weight"), problems)
    if weight is not None and not (0 < weight <= 1):
        problems.add((*path, "weight"), "INVALID", "must be above 0 and at most 1")
    direction = None
    try:
        direction = Direction(str(raw.get("direction")))
    except ValueError:
        problems.add((*path, "direction"), "INVALID", "must be HIGHER or LOWER")
    target = _decimal(raw.get("target"), (*path, "target"), problems)
    floor = _decimal(raw.get("floor"), (*path, "floor"), problems)
    if direction is not None and target is not None and floor is not None:
        if direction is Direction.HIGHER and not target > floor:
            problems.add((*path, "target"), "INVALID", "higher is better: above the floor")
        if direction is Direction.LOWER and not target < floor:
            problems.add((*path, "target"), "INVALID", "lower is better: below the floor")
    if len(problems.errors) > before:
        return None
    assert weight is not None and direction is not None and target is not None
    assert floor is not None and isinstance(code, str)
    return Weight(code, weight, direction, target, floor)


def _check_level(
    raw: Mapping[str, Any], path: tuple[str, ...], problems: Problems
) -> tuple[Level, tuple[Weight, ...]] | None:
    try:
        level = Level(str(raw.get("level")))
    except ValueError:
        level = None
    if level not in LEVELS:
        problems.add((*path, "level"), "INVALID", "must be BRANCH, TEAM or STAFF")
        return None
    assert level is not None
    entries = raw.get("indicators") or []
    if not entries:
        problems.add((*path, "indicators"), "REQUIRED", "at least one indicator")
        return None
    weights: list[Weight] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        weight = _check_weight(entry, (*path, "indicators", str(i)), problems)
        if weight is None:
            continue
        if weight.indicator in seen:
            problems.add((*path, "indicators", str(i), "indicator"), "DUPLICATE", "listed twice")
        seen.add(weight.indicator)
        weights.append(weight)
    if len(weights) == len(entries) and sum(w.weight for w in weights) != 1:
        problems.add((*path, "indicators"), "WEIGHTS_NOT_ONE", "the weights must add up to 1")
    return level, tuple(weights)


def _check_honour(
    raw: Mapping[str, Any], path: tuple[str, ...], problems: Problems
) -> HonourRule | None:
    before = len(problems.errors)
    title = level = None
    try:
        title = HonourTitle(str(raw.get("title")))
    except ValueError:
        problems.add((*path, "title"), "INVALID", "must be EXCELLENT_TEAM or SERVICE_STAR")
    level = Level(raw["level"]) if raw.get("level") in set(LEVELS) else None
    if level is None:
        problems.add((*path, "level"), "INVALID", "must be BRANCH, TEAM or STAFF")
    top = raw.get("top")
    if top is not None and (not isinstance(top, int) or isinstance(top, bool) or top < 1):
        problems.add((*path, "top"), "INVALID", "a whole number of at least 1")
    min_score = None
    if raw.get("min_score") is not None:
        min_score = _decimal(raw["min_score"], (*path, "minScore"), problems)
        if min_score is not None and not (0 <= min_score <= 100):
            problems.add((*path, "minScore"), "INVALID", "from 0 to 100")
    if top is None and raw.get("min_score") is None:
        problems.add((*path, "top"), "REQUIRED", "give top, minScore or both")
    customers = raw.get("min_customers", 0)
    if not isinstance(customers, int) or isinstance(customers, bool) or customers < 0:
        problems.add((*path, "minCustomers"), "INVALID", "a whole number of at least 0")
    if len(problems.errors) > before:
        return None
    assert title is not None and level is not None
    return HonourRule(
        title, level, top, min_score, customers, bool(raw.get("no_major_complaint", False))
    )


def check_version(
    raw: Mapping[str, Any],
    version: int,
    valid_from: date,
    valid_to: date | None,
    summary: str = "",
) -> WeightVersion:
    """A weight version from plain values (``levels``, ``honours``), or ``UserInputError``
    naming every bad field."""
    problems = Problems()
    if valid_to is not None and valid_to < valid_from:
        problems.add(("validTo",), "INVALID_RANGE", "must not come before validFrom")
    levels: dict[Level, tuple[Weight, ...]] = {}
    for i, entry in enumerate(raw.get("levels") or []):
        checked = _check_level(entry, ("levels", str(i)), problems)
        if checked is None:
            continue
        if checked[0] in levels:
            problems.add(("levels", str(i), "level"), "DUPLICATE", "each level once")
        levels[checked[0]] = checked[1]
    missing = [level.value for level in LEVELS if level not in levels]
    if missing and not problems.errors:
        problems.add(("levels",), "REQUIRED", "weights for BRANCH, TEAM and STAFF")
    honours = []
    for i, entry in enumerate(raw.get("honours") or []):
        rule = _check_honour(entry, ("honours", str(i)), problems)
        if rule is not None:
            honours.append(rule)
    problems.raise_if_any()
    ordered = {level: levels[level] for level in LEVELS}
    return WeightVersion(version, valid_from, valid_to, ordered, tuple(honours), summary)


def _file() -> dict[str, Any]:
    with WEIGHTS_FILE.open("rb") as handle:
        return tomllib.load(handle)


def load_file() -> WeightVersion:
    """Version 1: the reviewed file."""
    raw = _file()
    valid_to = raw.get("valid_to")
    return check_version(
        raw,
        1,
        date.fromisoformat(raw["valid_from"]),
        None if valid_to is None else date.fromisoformat(valid_to),
        raw.get("summary", ""),
    )


def default_honours() -> list[dict[str, Any]]:
    """The reviewed file's honour rules (what a new version keeps when it names none)."""
    return [dict(rule) for rule in _file().get("honours", [])]


@dataclass(frozen=True)
class Course:
    code: str
    title: str


@dataclass(frozen=True)
class Catalogue:
    below: Decimal
    most: int
    default: Course
    courses: dict[str, Course]

    def course(self, indicator: str) -> Course:
        return self.courses.get(indicator, self.default)


def load_catalogue() -> Catalogue:
    with TRAININGS_FILE.open("rb") as handle:
        raw = tomllib.load(handle)
    return Catalogue(
        Decimal(raw["below"]),
        int(raw["most"]),
        Course(**raw["default"]),
        {code: Course(**course) for code, course in raw["courses"].items()},
    )
