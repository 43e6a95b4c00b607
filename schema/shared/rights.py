"""The right every root field declares, checked before its resolver runs (SHARE-1, PLAT-3).

Each Query, Mutation and Subscription field is built with :func:`field`, :func:`mutation` or
:func:`subscription` and one :class:`Right`: :class:`Authenticated` (any signed-in caller; what
they see is the row policy's business), :class:`HasRight` (a right of ``authz/policy.csv``, act
``use``) or :class:`WritesCustomer` (a change of customer data: the write row scopes, the field
groups written, a declared purpose). The right is also written into the field's description, so
the schema documents who may call what. This module is the GraphQL glue only: whether the
caller holds a right is decided by ``authz.rights`` from the request's ``Access``. Resolvers hold
no right checks.
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from typing import Any

import strawberry
from strawberry.permission import BasePermission, PermissionExtension

from authz import rights as authz_rights
from core.errors import ForbiddenError
from resolvers.shared.validation import employee_number
from schema.shared.context import Context

# The field call whose right was checked last (path, right, arguments): the mutation runner
# checks the right again inside its transaction, with the same arguments.
_checked: ContextVar[tuple[tuple[Any, ...], Right, dict[str, Any]] | None] = ContextVar(
    "kehu_checked_right", default=None
)


class Right(BasePermission):
    """A root field's declared right; refusals are FORBIDDEN errors naming what is missing."""

    @abstractmethod
    def describe(self) -> str:
        """The right in words, for the field's description."""

    @abstractmethod
    def check(self, ctx: Context, arguments: dict[str, Any]) -> None:
        """Raise ``ForbiddenError`` (or ``Unauthenticated``) when the caller may not."""

    def name(self, ctx: Context) -> str:
        """The right the caller acts under, as the audit log records it."""
        return "authenticated"

    def has_permission(self, source: Any, info: Any, **kwargs: Any) -> bool:
        self.check(info.context, kwargs)
        _checked.set((tuple(info.path.as_list()), self, kwargs))
        return True


class Authenticated(Right):
    """Any signed-in caller; rows and fields are then filtered by the policy (declared public)."""

    def describe(self) -> str:
        return "Any signed-in caller; rows and fields as the access policy allows."

    def check(self, ctx: Context, arguments: dict[str, Any]) -> None:
        ctx.actor  # noqa: B018 - raises UNAUTHENTICATED


class HasRight(Right):
    """One of ``rights`` (act ``use`` in the policy), e.g. ``HasRight("customer:create")``.

    ``purpose=True``: the operation records or changes data about a customer (a consent, a
    complaint, a share request), so — like every customer write — it also needs a declared
    purpose the caller's roles may declare (SHARE-1, SHARE-5).
    """

    def __init__(self, *rights: str, purpose: bool = False) -> None:
        unknown = authz_rights.unknown_rights(rights)
        if not rights or unknown:
            raise ValueError(f"unknown rights {sorted(unknown)} (authz.policy.RIGHTS)")
        self.rights = rights
        self.purpose = purpose

    def describe(self) -> str:
        names = " or ".join(f"`{right}`" for right in self.rights)
        if self.purpose:
            return f"Needs the {names} right and a declared purpose your roles may declare."
        return f"Needs the {names} right."

    def name(self, ctx: Context) -> str:
        return next((r for r in self.rights if ctx.access.has_right(r)), self.rights[0])

    def check(self, ctx: Context, arguments: dict[str, Any]) -> None:
        authz_rights.require_right(ctx.access, self.rights, self.purpose)


class SelfOrRight(HasRight):
    """About oneself, any signed-in caller; about another staff member (``argument``), ``right``."""

    def __init__(self, right: str, argument: str) -> None:
        super().__init__(right)
        self.argument = argument

    def describe(self) -> str:
        return f"About yourself: any signed-in caller. About others: {super().describe()}"

    def check(self, ctx: Context, arguments: dict[str, Any]) -> None:
        other = arguments.get(self.argument)
        if other is not None and employee_number(other) != ctx.actor.employee_no:
            super().check(ctx, arguments)


class SeesCustomerRows(Right):
    """``rights`` (any signed-in caller when none) and roles that see customer rows: callers
    who see aggregates only read these figures through ``kpis``, whose suppression holds along
    every line (KPI-1) — a second set of small-cell rules beside it would give back what the
    first withholds (one's withheld cell minus the other's shown ones)."""

    def __init__(self, *rights: str) -> None:
        self.inner: Right = HasRight(*rights) if rights else Authenticated()

    def describe(self) -> str:
        return (
            f"{self.inner.describe()} Roles that see aggregates only are refused: they read "
            "these figures through `kpis`."
        )

    def name(self, ctx: Context) -> str:
        return self.inner.name(ctx)

    def check(self, ctx: Context, arguments: dict[str, Any]) -> None:
        self.inner.check(ctx, arguments)
        if not ctx.access.row_scopes:
            raise ForbiddenError(
                "your roles see aggregates only: read these figures through `kpis`, which "
                "withholds small cells along every line"
            )


class WritesCustomer(Right):
    """A change of customer data.

    Allowed when the caller's roles hold ``right`` (if given), may change some customers' rows
    (``rows:<scope>, write``), may change every field the input writes (``<group>, write``) and
    declared a purpose they may declare. Which rows: checked against the target customer by the
    resolver's row condition (``Access.writable``), like reads' row policy.
    """

    def __init__(
        self,
        writes: Callable[[dict[str, Any]], Iterable[str]],
        summary: str,
        right: str | None = None,
    ) -> None:
        self.writes = writes
        self.summary = summary
        self.right = HasRight(right) if right else None

    def describe(self) -> str:
        needs = f"{self.right.describe()[:-1]}, " if self.right else "Needs "
        return (
            f"{needs}write access to {self.summary} (`<group>, write`) on the customer's row "
            "(`rows:own|branch|bank, write`) and a declared purpose your roles may declare."
        )

    def name(self, ctx: Context) -> str:
        writes = "customer:write"
        return f"{self.right.name(ctx)}+{writes}" if self.right is not None else writes

    def check(self, ctx: Context, arguments: dict[str, Any]) -> None:
        if self.right is not None:
            self.right.check(ctx, arguments)
        authz_rights.require_customer_write(ctx.access, self.writes(arguments))


def _extensions(right: Right) -> list[Any]:
    return [PermissionExtension([right], use_directives=False)]


def field(description: str, right: Right, **options: Any) -> Any:
    """A Query field declaring ``right``."""
    return strawberry.field(
        description=f"{description} {right.describe()}", extensions=_extensions(right), **options
    )


def mutation(description: str, right: Right, **options: Any) -> Any:
    """A Mutation field declaring ``right``."""
    return strawberry.mutation(
        description=f"{description} {right.describe()}", extensions=_extensions(right), **options
    )


def subscription(description: str, right: Right, **options: Any) -> Any:
    """A Subscription field declaring ``right``."""
    return strawberry.subscription(
        description=f"{description} {right.describe()}", extensions=_extensions(right), **options
    )


def declared_right(definition: Any) -> Right | None:
    """The right a strawberry field declares, or None (the schema test lists offenders)."""
    for extension in getattr(definition, "extensions", None) or []:
        if isinstance(extension, PermissionExtension):
            for permission in extension.permissions:
                if isinstance(permission, Right):
                    return permission
    return None


def recheck(info: Any) -> Right:
    """Check the right the field of ``info`` declares again, with the same arguments as its
    permission check, but under the caller's roles and the live policy as they are now
    (``Context.reload_caller``).

    Raises ``ForbiddenError`` when the field declares no right or its check did not run for
    this very call (a resolver reached another way), so no mutation runs unchecked.
    """
    right = declared_right(getattr(info, "_field", None))
    checked = _checked.get()
    if right is None or checked is None or checked[:2] != (tuple(info.path.as_list()), right):
        raise ForbiddenError("this operation declares no right that was checked")
    info.context.reload_caller()
    right.check(info.context, checked[2])
    return right
