"""Text that shows nothing: one rule for every required text, whichever layer checks it."""

from __future__ import annotations

import unicodedata


def blank(value: str) -> bool:
    """Whether ``value`` shows nothing: only whitespace and invisible format characters (a
    zero-width space, a byte-order mark, a word joiner) — text no reader could read."""
    return all(ch.isspace() or unicodedata.category(ch) == "Cf" for ch in value)
