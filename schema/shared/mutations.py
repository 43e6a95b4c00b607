"""The mutation runner: a GraphQL mutation as one unit of work (``unit_of_work.run``)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ConflictError, UserInputError
from resolvers.shared import unit_of_work
from schema.shared.base import ContextInfo
from schema.shared.rights import recheck
from store.staff import Staff

R = TypeVar("R")
P = TypeVar("P")


def mutate(info: ContextInfo, action: Callable[[Session], R]) -> R:
    """Run ``action`` in one transaction: everything is committed, or nothing is.

    The field's declared right is checked again inside the transaction; the change becomes one
    CHANGE entry of the audit log (actor, right, the mutation's name as the operation, the rows
    changed and what the action noted), written in the same transaction (SHARE-4).
    """
    ctx = info.context
    checked: list[str] = []

    def check() -> None:
        checked.append(recheck(info).name(ctx))

    def actor() -> unit_of_work.Actor:
        # The caller as the check found them; like a READ entry, only a purpose their roles
        # may declare is recorded.
        staff = ctx.actor
        return unit_of_work.Actor(
            name=staff.employee_no,
            id=staff.id,
            roles=staff.roles,
            purpose=ctx.access.allowed_purpose,
        )

    try:
        result = unit_of_work.run(
            ctx.session,
            actor,
            lambda: checked[0],
            info.field_name,
            action,
            check=check,
        )
        ctx.committed = True
        return result
    except StaleDataError as exc:
        raise ConflictError("the customer was changed meanwhile; reload and try again") from exc


def run_command(
    info: ContextInfo,
    payload: type[P],
    command: Callable[[Session, Staff], R],
    answer: Callable[[R], P],
    *,
    errors: Callable[[UserInputError], Sequence[Any]],
) -> P:
    """Run a mutation's command (with the caller as actor) through ``mutate`` and build its
    payload.

    Refused input (including malformed IDs) becomes the payload's ``errors``, as the domain's
    ``UserError`` type that ``errors`` makes, with nothing written; ``answer`` builds the
    successful payload after the commit.
    """
    actor = info.context.actor
    try:
        result = mutate(info, lambda session: command(session, actor))
    except UserInputError as exc:
        return payload(errors=list(errors(exc)))  # type: ignore[call-arg]
    return answer(result)
