"""Errors of the workflow floor; the resolvers turn them into typed GraphQL errors."""

from __future__ import annotations

from collections.abc import Sequence


class ProcessError(Exception):
    """A refused action on a process: a stable code, a message, and where it points.

    ``element_id`` names the BPMN element (deploy and step errors); ``field`` names the input
    field (form errors). ``problems`` holds several at once (every failing form field).
    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        element_id: str | None = None,
        field: Sequence[str] = (),
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.element_id = element_id
        self.field = tuple(field)
        self.problems: list[ProcessError] = [self]

    @classmethod
    def many(cls, problems: Sequence[ProcessError]) -> ProcessError:
        first = problems[0]
        error = cls(first.code, first.message, element_id=first.element_id, field=first.field)
        error.problems = list(problems)
        return error


class StaleInstanceError(Exception):
    """Another unit of work saved the instance first (optimistic lock)."""
