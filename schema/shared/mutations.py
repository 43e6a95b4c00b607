"""The mutation runner: a GraphQL mutation as one unit of work (``unit_of_work.run``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ConflictError
from resolvers.shared import unit_of_work
from schema.shared.base import ContextInfo
from schema.shared.rights import recheck

R = TypeVar("R")


def mutate(info: ContextInfo, action: Callable[[Session], R]) -> R:
    """Run ``action`` in one transaction: everything is committed, or nothing is.

    The field's declared right is checked again inside the transaction; the change becomes one
    CHANGE entry of the audit log (actor, right, the mutation's name as the operation, the rows
    changed and what the action noted), written in the same transaction (SHARE-4).
    """
    ctx = info.context
    staff = ctx.actor
    actor = unit_of_work.Actor(
        name=staff.employee_no, id=staff.id, roles=staff.roles, purpose=ctx.purpose
    )
    checked: list[str] = []

    def check() -> None:
        checked.append(recheck(info).name(ctx))

    try:
        return unit_of_work.run(
            ctx.session,
            actor,
            lambda: checked[0],
            info.field_name,
            action,
            check=check,
        )
    except StaleDataError as exc:
        raise ConflictError("the customer was changed meanwhile; reload and try again") from exc
