"""Customers referenced from other objects (a complaint's, a notification's, a payload's), loaded
with the row scopes of the customers list: one statement per list, not per item."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from resolvers.customers.queries import customers_by_id
from schema.shared.base import ContextInfo

if TYPE_CHECKING:
    from schema.customers.types import CustomerNode


def nested_customer(info: ContextInfo, customer_id: int, batch: str) -> CustomerNode | None:
    """A customer referenced by a list item, loaded together with the other items' customers."""
    row = nested_customer_row(info, customer_id, batch)
    return _present(row, info) if row else None


def nested_customer_row(info: ContextInfo, customer_id: int, batch: str) -> Any:
    """The visible customer row (with how it is seen) of a list item, or None; one statement."""
    ctx = info.context
    # The row conditions are built only when the batch loads (once), not for every item.
    return ctx.batched(
        batch,
        customer_id,
        lambda session, ids: customers_by_id(
            session, ids, ctx.access.visible, ctx.access.row_columns
        ),
        keys=ctx.pending(batch),
    )


def load_customer(info: ContextInfo, customer_id: int) -> CustomerNode | None:
    """A customer the caller may see, or None."""
    ctx = info.context
    row = customers_by_id(
        ctx.session, [customer_id], ctx.access.visible, ctx.access.row_columns
    ).get(customer_id)
    return _present(row, info) if row else None


def _present(row: Any, info: ContextInfo) -> CustomerNode:
    # Imported on use: the customers domain itself loads customers through this module, so a
    # module-level import of its types would be circular.
    from schema.customers.types import CustomerNode

    return CustomerNode.present(row, info.context)
