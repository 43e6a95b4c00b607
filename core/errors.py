"""Errors raised by domain logic; the schema floor turns them into GraphQL answers.

``UserInputError`` carries field-level problems and becomes the ``errors`` list of a mutation
payload. The others become top-level errors with a stable ``extensions.code``. Messages never
contain personal values.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class FieldError:
    field: tuple[str, ...]
    code: str
    message: str
    # The existing customer a duplicate collides with — set only when the caller may see them.
    existing_customer_id: int | None = None


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


class UnavailableError(ApiError):
    """The database cannot be reached; nothing was changed. Answered 503 with Retry-After."""

    code = "UNAVAILABLE"


class UnknownOutcomeError(ApiError):
    """The connection was lost during or after a COMMIT: the change may have been made.

    The client retries with the same idempotency key, which answers with the first result if
    it was made. Answered 503 with Retry-After.
    """

    code = "UNKNOWN_OUTCOME"


class Problems:
    """Collects field errors so a caller hears about every bad field at once."""

    def __init__(self, prefix: Sequence[str] = ()) -> None:
        self.prefix = tuple(prefix)
        self.errors: list[FieldError] = []

    def add(
        self,
        field: Sequence[str] | str,
        code: str,
        message: str,
        existing_customer_id: int | None = None,
    ) -> None:
        path = (field,) if isinstance(field, str) else tuple(field)
        self.errors.append(FieldError(self.prefix + path, code, message, existing_customer_id))

    def extend(self, error: UserInputError, prefix: Sequence[str] = ()) -> None:
        for e in error.errors:
            self.errors.append(replace(e, field=self.prefix + tuple(prefix) + e.field))

    def raise_if_any(self) -> None:
        if self.errors:
            raise UserInputError(self.errors)
