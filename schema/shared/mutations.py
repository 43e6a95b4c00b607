"""The mutation runner: one transaction per mutation, its CHANGE audit entry inside it."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from core.errors import ConflictError, UserInputError
from resolvers import audit
from schema.shared.base import ContextInfo
from store.staff import Staff

R = TypeVar("R")
P = TypeVar("P")


def mutate(info: ContextInfo, action: Callable[[Session], R]) -> R:
    """Run ``action`` in one transaction: everything is committed, or nothing is.

    The changes the action noted (``logic.audit_change``) become one CHANGE entry of the audit
    log in the same transaction, so a change and its audit stand or fall together (SHARE-4).
    """
    session = info.context.session
    try:
        result = action(session)
        changes = session.info.pop("audit_changes", [])
        if changes:
            staff = info.context.actor
            audit.append(
                session.connection(),
                [
                    audit.new_entry(
                        actor_id=staff.id,
                        actor=staff.employee_no,
                        roles=staff.roles,
                        purpose=info.context.purpose,
                        action="CHANGE",
                        operation=info.field_name,
                        customer_ids=[c["customer_id"] for c in changes],
                        fields={
                            f"{c['type']}.{field}": "CHANGED"
                            for c in changes
                            for field, _, _ in c["changes"]
                        },
                        detail=changes,
                    )
                ],
            )
        session.commit()
        return result
    except StaleDataError as exc:
        session.info.pop("audit_changes", None)
        session.rollback()
        raise ConflictError("the customer was changed meanwhile; reload and try again") from exc
    except BaseException:
        session.info.pop("audit_changes", None)
        session.rollback()
        raise


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
