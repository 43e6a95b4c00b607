"""Administrative divisions of the PRC (GB/T 2260), from python-stdnum's maintained table.

One table serves two purposes: the area code of a resident ID number must be a division that
exists or existed (INFO-3), and an address mask keeps only the leading province, city and
district names found in the table. Historic codes and names count:
an ID number keeps the code of the division where it was first issued, so a district renamed or
merged since (崇文区 → 东城区 in 2010) still appears in the numbers of living customers, and the
table's validity years are not checked against the birth year (a number is issued at
registration, not at birth). This module imports nothing from the project, so every floor may
use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from stdnum import numdb

# 港澳台居民居住证 numbers use 810000 / 820000 / 830000; the table lists Taiwan as 710000 only.
EXTRA_CODES = {"830000": ("台湾省",)}
# Code-level placeholders ("市辖区", "县", "省直辖县级行政区划" …) are never written in an address.
_PLACEHOLDER = re.compile(r"^(?:市辖区|县|市|.*直辖.*)$")


@dataclass(frozen=True)
class _Table:
    names: dict[str, tuple[str, ...]]  # six-digit code → every name the division has had
    by_name: dict[str, tuple[str, ...]]  # name → codes carrying it
    longest: int  # the longest name, in characters


@cache
def _table() -> _Table:
    names: dict[str, tuple[str, ...]] = dict(EXTRA_CODES)
    for length, low, high, props, children in numdb.get("cn/loc").prefixes:
        if length != 2 or low != high:
            continue
        if "province" in props:
            names[low + "0000"] = (props["province"],)
        for sub_length, sub_low, sub_high, sub_props, _ in children:
            if sub_length != 4 or sub_low != sub_high or "county" not in sub_props:
                continue
            code = low + sub_low
            names[code] = names.get(code, ()) + tuple(
                re.sub(r"^\[[0-9-]*\]", "", part) for part in sub_props["county"].split(",")
            )
    by_name: dict[str, list[str]] = {}
    for code, all_names in names.items():
        for name in dict.fromkeys(all_names):
            if name and not _PLACEHOLDER.match(name):
                by_name.setdefault(name, []).append(code)
    return _Table(
        names={code: tuple(dict.fromkeys(n)) for code, n in names.items()},
        by_name={name: tuple(codes) for name, codes in by_name.items()},
        longest=max(len(name) for name in by_name),
    )


def is_division(code: str) -> bool:
    """True when ``code`` (six digits) names a division that exists or existed."""
    return code in _table().names


def _is_province(code: str) -> bool:
    return code.endswith("0000")


def _is_prefecture(code: str) -> bool:
    return code.endswith("00") and not _is_province(code)


def _within(code: str, parent: str | None) -> bool:
    """True when ``code`` lies inside ``parent`` (any code when there is no parent)."""
    if parent is None:
        return True
    prefix = parent[:2] if _is_province(parent) else parent[:4]
    return code != parent and code.startswith(prefix)


def _next_division(text: str, start: int, parent: str | None, level: str) -> tuple[int, str]:
    """The longest division name of ``level`` inside ``parent`` at ``text[start:]``.

    Returns (end, code), or (start, "") when none is there.
    """
    table = _table()
    for end in range(min(len(text), start + table.longest), start, -1):
        for code in table.by_name.get(text[start:end], ()):
            kind = (
                "province"
                if _is_province(code)
                else "prefecture"
                if _is_prefecture(code)
                else "county"
            )
            if kind == level and _within(code, parent):
                return end, code
    return start, ""


def division_prefix(address: str) -> str:
    """The leading province, city and district names of ``address`` that the table knows.

    Each level is optional, but a city must lie in the province found and a district in the
    city (or province) found; a district is kept only after a province or city. Text after the
    last recognised name — streets, numbers, buildings — is never part of the prefix.
    """
    end, province = _next_division(address, 0, None, "province")
    end, prefecture = _next_division(address, end, province or None, "prefecture")
    parent = prefecture or province
    if not parent:
        return ""
    end, _county = _next_division(address, end, parent, "county")
    return address[:end]
