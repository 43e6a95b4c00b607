"""The care calendar (REL-4): which occasions fall on a Beijing date.

Birthdays come from the birth date (derived from, and checked against, the ID number; INFO-3);
a 29 February birthday is kept on 28 February in other years. Lunar festivals come from the
``lunardate`` library (lunar years 1900–2099), never from a hand-made table; solar festivals,
offers, texts and send times are the reviewed ``care.toml``.
"""

from __future__ import annotations

import calendar
import tomllib
from dataclasses import dataclass
from datetime import date, time
from functools import cache
from pathlib import Path
from typing import Any

from lunardate import LunarDate

CARE_FILE = Path(__file__).parent / "care.toml"


@dataclass(frozen=True)
class Festival:
    code: str
    name: str
    lunar: bool
    month: int
    day: int
    greeting: str

    def falls_on(self, day: date) -> bool:
        if not self.lunar:
            return (day.month, day.day) == (self.month, self.day)
        lunar = LunarDate.from_solar_date(day.year, day.month, day.day)
        # A leap month repeats a month's number; festivals are in the ordinary month.
        return (lunar.month, lunar.day, lunar.is_leap_month) == (self.month, self.day, False)


@dataclass(frozen=True)
class CarePlan:
    """``care.toml``, checked."""

    days_ahead: int
    days_back: int
    offers: dict[str, str]
    texts: dict[str, str]
    send_times: dict[str, time]
    festivals: tuple[Festival, ...]

    def festivals_on(self, day: date) -> list[Festival]:
        return [f for f in self.festivals if f.falls_on(day)]

    def send_time(self, contact_time: str | None) -> time:
        return self.send_times.get(contact_time or "unknown", self.send_times["unknown"])


def parse(data: dict[str, Any]) -> CarePlan:
    festivals = tuple(
        Festival(
            code=str(f["code"]),
            name=str(f["name"]),
            lunar={"lunar": True, "solar": False}[f["calendar"]],
            month=int(f["month"]),
            day=int(f["day"]),
            greeting=str(f["greeting"]),
        )
        for f in data.get("festival", [])
    )
    codes = [f.code for f in festivals]
    if len(set(codes)) != len(codes) or "BIRTHDAY" in codes or "CALL_BACK" in codes:
        raise ValueError("care.toml: festival codes must be unique and not BIRTHDAY/CALL_BACK")
    return CarePlan(
        days_ahead=int(data["run"]["days_ahead"]),
        days_back=int(data["run"]["days_back"]),
        offers={tier: str(v["birthday_offer"]) for tier, v in data["tiers"].items()},
        texts={k: str(v) for k, v in data["texts"].items()},
        send_times={k: time.fromisoformat(v) for k, v in data["send_times"].items()},
        festivals=festivals,
    )


@cache
def plan(path: Path = CARE_FILE) -> CarePlan:
    return parse(tomllib.loads(path.read_text(encoding="utf-8")))


def birthdays_kept_on(day: date) -> list[tuple[int, int]]:
    """The (month, day) birthdays celebrated on ``day``: its own, and 29 February on
    28 February of a year without one."""
    days = [(day.month, day.day)]
    if (day.month, day.day) == (2, 28) and not calendar.isleap(day.year):
        days.append((2, 29))
    return days
