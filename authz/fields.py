"""Field-level decisions, the one place where personal values are revealed, masked or withheld.

Every GraphQL type that carries personal data builds its values through :func:`present`, so a
policy decides per field without any resolver knowing about it. Until the Casbin policies land
(access-control issue) every authenticated staff member gets :class:`RevealAll`; the policy
engine will provide another ``FieldAccess`` computed once per request.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol


class Effect(StrEnum):
    FULL = "FULL"
    MASKED = "MASKED"
    DENIED = "DENIED"


class FieldAccess(Protocol):
    """What one request may see of each type."""

    def restricted(self, type_name: str) -> Mapping[str, Effect]:
        """The fields of ``type_name`` whose effect is not FULL (empty: everything is FULL)."""
        ...

    def apply(self, type_name: str, field: str, effect: Effect, value: Any) -> Any:
        """The value a caller sees under ``effect``."""
        ...


class RevealAll:
    """Every field FULL: the rule for authenticated staff until the access policies land."""

    def restricted(self, type_name: str) -> Mapping[str, Effect]:
        return {}

    def apply(self, type_name: str, field: str, effect: Effect, value: Any) -> Any:
        raise AssertionError("RevealAll restricts no field")


def present(type_name: str, values: dict[str, Any], access: FieldAccess) -> dict[str, Any]:
    """Apply the request's field effects to the values of one object of ``type_name``."""
    for field, effect in access.restricted(type_name).items():
        if field in values:
            values[field] = access.apply(type_name, field, effect, values[field])
    return values
