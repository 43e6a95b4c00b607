"""Service measures (SEG-5) as data: what the bank does for each segment, and which of them the
system applies by itself (``MeasureAction``).

A measure set is a numbered version seeded from the reviewed file (``service_measures.toml``),
stored like the models and changed by head office (``changeServiceMeasures``). Checked: at
least one measure, every code once (UPPER_SNAKE_CASE; twice: DUPLICATE_CODE), a known
dimension and a segment of it (else UNKNOWN_SEGMENT), a Chinese name (at most 50 characters)
and description (at most 300), an action only where the system applies it (the worklist on
HIGH value, the re-assessment task on HIGH risk).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.errors import Problems
from core.text import blank
from store.segments import MeasureAction, Need, RiskGrade, SegmentDimension, ValueTier

MEASURES_FILE = Path(__file__).parent / "service_measures.toml"
MEASURES = "MEASURES"
SEGMENTS: dict[SegmentDimension, frozenset[str]] = {
    SegmentDimension.VALUE_TIER: frozenset(ValueTier),
    SegmentDimension.NEED: frozenset(Need),
    SegmentDimension.RISK_GRADE: frozenset(RiskGrade),
}
# Where each action can apply: the segment whose customers the system acts on.
ACTION_SEGMENTS = {
    MeasureAction.MANAGER_WORKLIST: (SegmentDimension.VALUE_TIER, ValueTier.HIGH.value),
    MeasureAction.REASSESSMENT_TASK: (SegmentDimension.RISK_GRADE, RiskGrade.HIGH.value),
}
CODE = re.compile(r"^[A-Z][A-Z0-9_]{1,39}$")


@dataclass(frozen=True)
class Measure:
    dimension: SegmentDimension
    segment: str
    code: str
    name: str
    description: str
    applied: MeasureAction | None


@dataclass(frozen=True)
class MeasureSet:
    version: int
    measures: tuple[Measure, ...]
    summary: str = ""

    def definition(self) -> dict[str, Any]:
        return {
            "measures": [
                {
                    "dimension": m.dimension.value,
                    "segment": m.segment,
                    "code": m.code,
                    "name": m.name,
                    "description": m.description,
                    "applied": None if m.applied is None else m.applied.value,
                }
                for m in self.measures
            ]
        }

    def of(self, segments: Iterable[tuple[SegmentDimension, str]]) -> list[Measure]:
        """The measures of a customer's segments, in the set's order."""
        wanted = set(segments)
        return [m for m in self.measures if (m.dimension, m.segment) in wanted]


def _text(
    item: Mapping[str, Any], key: str, path: Sequence[str], limit: int, problems: Problems
) -> str:
    given = str(item.get(key) or "")
    # Invisible-only text (zero-width characters …) is no name either.
    value = "" if blank(given) else given.strip()
    if not value:
        problems.add(path, "REQUIRED", "must be given")
    elif len(value) > limit:
        problems.add(path, "TOO_LONG", f"must be at most {limit} characters")
    return value


def check_measures(raw: Mapping[str, Any], version: int, summary: str = "") -> MeasureSet:
    """A measure set from plain values, or ``UserInputError`` naming every bad field."""
    problems = Problems()
    found: list[Measure] = []
    codes: set[str] = set()
    if not raw.get("measures"):
        problems.add(("measures",), "REQUIRED", "give at least one measure")
    for i, item in enumerate(raw.get("measures") or []):
        at = ("measures", str(i))
        try:
            dimension = SegmentDimension(str(item.get("dimension")))
        except ValueError:
            problems.add((*at, "dimension"), "INVALID", "is not a kind of segment")
            continue
        segment = str(item.get("segment"))
        if segment not in SEGMENTS[dimension]:
            problems.add((*at, "segment"), "UNKNOWN_SEGMENT", "is not a segment of this dimension")
        code = str(item.get("code") or "")
        if not CODE.match(code):
            problems.add((*at, "code"), "INVALID", "must be UPPER_SNAKE_CASE, 2 … 40 characters")
        elif code in codes:
            problems.add((*at, "code"), "DUPLICATE_CODE", "is given twice")
        codes.add(code)
        name = _text(item, "name", (*at, "name"), 50, problems)
        description = _text(item, "description", (*at, "description"), 300, problems)
        applied: MeasureAction | None = None
        if item.get("applied") is not None:
            try:
                applied = MeasureAction(str(item["applied"]))
            except ValueError:
                problems.add((*at, "applied"), "INVALID", "is not an action of the system")
            else:
                if ACTION_SEGMENTS[applied] != (dimension, segment):
                    problems.add((*at, "applied"), "INVALID", "does not apply to this segment")
        found.append(Measure(dimension, segment, code, name, description, applied))
    problems.raise_if_any()
    return MeasureSet(version, tuple(found), summary)


def load_file(path: Path = MEASURES_FILE) -> MeasureSet:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    return check_measures(raw, version=1, summary=str(raw.get("summary", "")))
