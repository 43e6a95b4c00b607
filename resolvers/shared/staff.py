"""Staff lookups every domain shares: one normalisation of employee numbers, one query."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from resolvers.shared.validation import employee_number
from store.staff import Staff


def staff_by_employee_number(session: Session, value: object) -> Staff | None:
    """The staff member numbered ``value`` (full-width, spaced or lower-case forms accepted:
    numbers are compared as stored, ``BJ01RM02``), or None."""
    return session.scalar(select(Staff).where(Staff.employee_no == employee_number(value)))
