"""Rights to operations (SHARE-1, PLAT-3): which decisions an operation needs, whether they hold.

A right (act ``use`` in the policy, ``authz.policy.RIGHTS``) is read from the caller's cached
policy decisions: a check costs no ``enforce`` call. Operations that record or change data about
a customer also need a declared purpose the caller's roles may declare; a change of customer data
needs write row scopes and write access to every field group it writes. Refusals are FORBIDDEN
errors naming what is missing. (The GraphQL side — declaring a right on a field — is
``schema.shared.rights``.)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from authz.policy import RIGHTS, RoleDecisions
from core.errors import ForbiddenError

if TYPE_CHECKING:
    from authz.access import Access


def unknown_rights(rights: Iterable[str]) -> set[str]:
    """The names among ``rights`` the policy does not know (a typo in a declaration)."""
    return set(rights) - set(RIGHTS)


def holds_right(decisions: RoleDecisions | None, right: str) -> bool:
    """Whether roles with these decisions hold ``right``."""
    return decisions is not None and right in decisions.rights


def purpose_problem(purpose: str | None, decisions: RoleDecisions) -> str | None:
    """Why ``purpose`` (normalised, None: not declared) is not allowed, or None when it is."""
    if purpose is None:
        return "no purpose declared (send the X-Purpose header)"
    if purpose not in decisions.purposes:
        allowed = ", ".join(sorted(decisions.purposes)) or "none"
        return f"purpose {purpose} is not allowed for you ({allowed})"
    return None


def require_right(access: Access, rights: Sequence[str], purpose: bool = False) -> None:
    """FORBIDDEN unless the caller holds one of ``rights`` (and, with ``purpose``, declared a
    purpose their roles may declare); UNAUTHENTICATED without a caller."""
    if not any(access.has_right(right) for right in rights):
        raise ForbiddenError(f"this needs the {' or '.join(rights)} right")
    if purpose and access.purpose_problem is not None:
        raise ForbiddenError(f"this needs an allowed purpose: {access.purpose_problem}")


def require_customer_write(access: Access, written: Iterable[str]) -> None:
    """FORBIDDEN unless the caller may change some customers' rows (``rows:<scope>, write``),
    every field ``written`` ("Type.field", ``<group>, write``), and declared an allowed purpose.

    Which rows: the target customer is checked against ``Access.writable`` by the command.
    """
    decisions = access.decisions
    if decisions is None or not decisions.write_scopes:
        access.actor  # noqa: B018 - raises UNAUTHENTICATED first
        raise ForbiddenError("your roles may not change customer data")
    refused = sorted(set(written) - decisions.writable)
    if refused:
        raise ForbiddenError(f"your roles may not change {', '.join(refused)}")
    if access.purpose_problem is not None:
        raise ForbiddenError(
            f"changing customer data needs an allowed purpose: {access.purpose_problem}"
        )
