"""Customer queries: one customer, the customers list, transactions, history, due list."""

from __future__ import annotations

import datetime as dt

import strawberry

from core import clock
from core.ids import pk_of
from resolvers.customers import queries as logic
from resolvers.segments import applied
from resolvers.shared.filters import compile_where
from schema.customers.enums import InformationKindEnum
from schema.customers.filters import (
    DUE_FILTERS,
    TRANSACTION_FILTERS,
    CustomerOrderBy,
    CustomerWhere,
    DueVerificationWhere,
    TransactionWhere,
    customer_filters,
    refuse_hidden_filters,
)
from schema.customers.types import AccountNode, CustomerChange, CustomerNode, TransactionNode
from schema.shared.base import Connection, ContextInfo, NodeLoader, SortDirection, page_request
from schema.shared.customers import load_customer, nested_customer
from schema.shared.rights import Authenticated, HasRight
from schema.shared.rights import field as guarded_field
from store.customers import Account, Transaction


@strawberry.type(description="A customer whose information is due for re-verification.")
class DueVerification:
    _customer_id: strawberry.Private[int]
    information_kind: InformationKindEnum  # type: ignore[valid-type]
    due_on: dt.date
    last_verified_at: dt.datetime | None

    @strawberry.field
    def customer(self, info: ContextInfo) -> CustomerNode | None:
        return nested_customer(info, self._customer_id, "due_customers")


def _note_owner(info: ContextInfo, customer_id: int) -> None:
    """Record how the owner of listed data is seen (by scope or grant), for its field effects."""
    load_customer(info, customer_id)


@strawberry.type
class CustomerQuery:
    @guarded_field("One customer by global ID. 按 ID 查询客户。", Authenticated())
    def customer(self, info: ContextInfo, id: strawberry.ID) -> CustomerNode | None:
        info.context.access.require_rows()
        return load_customer(info, pk_of(id, "Customer", "id"))

    @guarded_field(
        "Customers, filtered and ordered; search by exact `idNumber` or `phone` in `where`. "
        "客户列表。",
        Authenticated(),
    )
    def customers(
        self,
        info: ContextInfo,
        where: CustomerWhere | None = None,
        order_by: list[CustomerOrderBy] | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerNode]:
        ctx = info.context
        ctx.access.require_rows()
        refuse_hidden_filters(ctx, where, order_by or [])
        condition = compile_where(where, customer_filters())
        ordering = [
            (o.field.value, o.direction is SortDirection.DESC)  # type: ignore[attr-defined]
            for o in order_by or []
        ]
        page = logic.customer_page(
            ctx.session,
            [condition, ctx.access.visible],
            ordering,
            page_request(first, after, last, before),
            ctx.access.row_columns,
        )
        return Connection.of(page, [CustomerNode.present(r, ctx) for r in page.rows])

    @guarded_field(
        "High-value customers without an active dedicated relationship manager (SEG-5: a "
        "dedicated manager and team is the first measure of high value), of the rows you see — "
        "your branch (supervisors) or the bank (head office). A customer leaves the list when a "
        "manager is assigned or its tier drops. 待配备专属客户经理的高价值客户。",
        HasRight("segment:worklist"),
    )
    def segment_worklist(
        self,
        info: ContextInfo,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerNode]:
        ctx = info.context
        ctx.access.require_rows()
        condition = applied.worklist_condition(ctx.session, clock.now())
        page = logic.customer_page(
            ctx.session,
            [condition, ctx.access.visible],
            [],
            page_request(first, after, last, before),
            ctx.access.row_columns,
        )
        return Connection.of(page, [CustomerNode.present(r, ctx) for r in page.rows])

    @guarded_field("A customer's transactions, newest first. 交易记录。", Authenticated())
    def transactions(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        where: TransactionWhere | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[TransactionNode]:
        ctx = info.context
        ctx.access.require_rows()
        condition = compile_where(where, TRANSACTION_FILTERS)
        owner = pk_of(customer_id, "Customer", "customerId")
        page = logic.transactions_page(
            ctx.session,
            owner,
            [condition],
            page_request(first, after, last, before),
            ctx.access.visible,
        )
        _note_owner(info, owner)
        return Connection.of(page, [TransactionNode.present(r, ctx) for r in page.rows])

    @guarded_field(
        "Change history of a customer, newest first (INFO-5). 变更历史。", Authenticated()
    )
    def customer_history(
        self,
        info: ContextInfo,
        customer_id: strawberry.ID,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[CustomerChange]:
        ctx = info.context
        ctx.access.require_rows()
        owner = pk_of(customer_id, "Customer", "customerId")
        page = logic.change_page(
            ctx.session, owner, page_request(first, after, last, before), ctx.access.visible
        )
        _note_owner(info, owner)
        return Connection.of(page, [CustomerChange.present(r, ctx) for r in page.rows])

    @guarded_field(
        "Customers whose information is due for re-verification by `asOf` "
        "(default today), most overdue first (INFO-4). `asOf` is the day the list is "
        "reckoned at, not a filter; filter with `where`. 待核实客户。",
        Authenticated(),
    )
    def customers_due_for_reverification(
        self,
        info: ContextInfo,
        where: DueVerificationWhere | None = None,
        as_of: dt.date | None = None,
        first: int | None = None,
        after: str | None = None,
        last: int | None = None,
        before: str | None = None,
    ) -> Connection[DueVerification]:
        ctx = info.context
        ctx.access.require_rows()
        page = logic.due_page(
            ctx.session,
            [compile_where(where, DUE_FILTERS)],
            as_of or clock.today(),
            page_request(first, after, last, before),
            ctx.access.visible,
        )
        ctx.pending("due_customers").extend(r.customer_id for r in page.rows)
        nodes = [
            DueVerification(
                _customer_id=r.customer_id,
                information_kind=r.information_kind,
                due_on=r.due_on,
                last_verified_at=r.last_verified_at,
            )
            for r in page.rows
        ]
        return Connection.of(page, nodes)


def _load_account(info: ContextInfo, pk: int) -> AccountNode | None:
    """An account is visible exactly when its customer is."""
    ctx = info.context
    account = ctx.session.get(Account, pk)
    if account is None or load_customer(info, account.customer_id) is None:
        return None
    return AccountNode.present(account, ctx)


def _load_transaction(info: ContextInfo, pk: int) -> TransactionNode | None:
    """A transaction is visible exactly when its customer is (as in ``transactions``)."""
    ctx = info.context
    transaction = ctx.session.get(Transaction, pk)
    if transaction is None or load_customer(info, transaction.customer_id) is None:
        return None
    return TransactionNode.present(transaction, ctx)


NODE_LOADERS: dict[str, NodeLoader] = {
    "Customer": load_customer,
    "Account": _load_account,
    "Transaction": _load_transaction,
}
