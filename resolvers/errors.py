"""Errors raised by domain logic; the schema floor turns them into GraphQL answers.

``UserInputError`` carries field-level problems and becomes the ``errors`` list of a mutation
payload. The others become top-level errors with a stable ``extensions.code``. Messages never
contain personal values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class FieldError:
    field: tuple[str, ...]
    code: str
    message: str


class UserInputError(Exception):
    """One or more input fields are invalid; nothing has been written."""

    def __init__(self, errors: Sequence[FieldError]) -> None:
        super().__init__("; ".join(f"{'.'.join(e.field)}: {e.message}" for e in errors))
        self.errors = list(errors)

    @classmethod
    def one(cls, field: Sequence[str], code: str, message: str) -> UserInputError:
        return cls([FieldError(tuple(field), code, message)])


class ApiError(Exception):
    """A top-level error with a stable code."""

    code = "INTERNAL"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFoundError(ApiError):
    code = "NOT_FOUND"


class ConflictError(ApiError):
    code = "CONFLICT"


class ForbiddenError(ApiError):
    code = "FORBIDDEN"


class Problems:
    """Collects field errors so a caller hears about every bad field at once."""

    def __init__(self, prefix: Sequence[str] = ()) -> None:
        self.prefix = tuple(prefix)
        self.errors: list[FieldError] = []

    def add(self, field: Sequence[str] | str, code: str, message: str) -> None:
        path = (field,) if isinstance(field, str) else tuple(field)
        self.errors.append(FieldError(self.prefix + path, code, message))

    def extend(self, error: UserInputError, prefix: Sequence[str] = ()) -> None:
        for e in error.errors:
            self.errors.append(FieldError(self.prefix + tuple(prefix) + e.field, e.code, e.message))

    def raise_if_any(self) -> None:
        if self.errors:
            raise UserInputError(self.errors)
