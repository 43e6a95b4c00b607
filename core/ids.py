"""Global object IDs (Relay): ``base64("<Type>:<primary key>")``."""

from __future__ import annotations

import base64
import binascii

from core.errors import FieldError, UserInputError


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


# Primary keys are INTEGER columns (32-bit on PostgreSQL): a larger key names no row, and binding
# it would fail in the database (PostgreSQL: integer out of range; SQLite: past 64 bits).
MAX_PK = 2**31 - 1


def parse_global_id(value: str) -> tuple[str, int] | None:
    """``(type name, primary key)`` or None when ``value`` is not a canonical global ID (a key of
    ASCII digits without leading zeros, up to :data:`MAX_PK`)."""
    try:
        type_name, _, pk = base64.b64decode(value.encode(), validate=True).decode().partition(":")
        if not (type_name and pk.isascii() and pk.isdigit()) or int(pk) > MAX_PK:
            return None
        # One spelling per row: "Customer:01" or base64 with stray padding bits is not an ID.
        if global_id(type_name, int(pk)) != value:
            return None
        return type_name, int(pk)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None


def pk_of(value: str, type_name: str, field: tuple[str, ...] | str) -> int:
    """The primary key in a global ID of ``type_name``; a typed error otherwise."""
    parsed = parse_global_id(value)
    if parsed is None or parsed[0] != type_name:
        path = (field,) if isinstance(field, str) else field
        raise UserInputError([FieldError(path, "INVALID_ID", f"must be the ID of a {type_name}")])
    return parsed[1]
