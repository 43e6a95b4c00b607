"""Contacts loaded for many customers or ids at once (nested lists, ``node``)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session, aliased

from resolvers.contacts.queries import contacts_of
from resolvers.shared.pagination import Cursors, Page, SortKey, cursor_context
from store.contacts import Contact
from store.customers import Customer
from store.workflows import ProcessTask


def first_pages(
    session: Session,
    customer_ids: Sequence[int],
    visible: ColumnElement[bool],
    condition: ColumnElement[bool],
    keys: list[SortKey],
    size: int,
) -> dict[int, Page]:
    """The first ``size`` contacts of each customer, for all of them in one statement (a
    window per customer): a page of customers with their contacts stays at a constant number
    of statements. Totals are counted, when asked, for all of them in one more."""
    ordering = [k.column.desc() if k.descending else k.column.asc() for k in keys]
    number = func.row_number().over(partition_by=Contact.customer_id, order_by=ordering).label("n")
    ranked = (
        contacts_of(visible, condition)
        .add_columns(number)
        .where(Contact.customer_id.in_(customer_ids))
        .subquery()
    )
    row = aliased(Contact, ranked)
    statement = select(row).where(ranked.c.n <= size + 1).order_by(ranked.c.customer_id, ranked.c.n)
    found: dict[int, list[Contact]] = defaultdict(list)
    for contact in session.scalars(statement):
        found[contact.customer_id].append(contact)
    totals: dict[str, dict[int, int]] = {}

    def counter(customer_id: int) -> Any:
        def count() -> int:
            if "all" not in totals:
                counted = (
                    select(Contact.customer_id, func.count())
                    .join(Customer, Customer.id == Contact.customer_id)
                    .where(visible, condition, Contact.customer_id.in_(customer_ids))
                    .group_by(Contact.customer_id)
                )
                totals["all"] = {cid: int(n) for cid, n in session.execute(counted)}
            return totals["all"].get(customer_id, 0)

        return count

    pages = {}
    context = cursor_context(keys)
    for customer_id in customer_ids:
        rows = found.get(customer_id, [])
        shown = rows[:size]
        pages[customer_id] = Page(
            rows=shown,
            cursors=Cursors(shown, lambda c: [c.contacted_at, c.id], keys, context),
            has_next_page=len(rows) > size,
            has_previous_page=False,
            count_total=counter(customer_id),
        )
    return pages


def contacts_by_id(
    session: Session, ids: Sequence[int], visible: ColumnElement[bool]
) -> dict[int, Contact]:
    """Contacts by id, of customers the caller sees (one statement)."""
    rows = session.scalars(contacts_of(visible, Contact.id.in_(ids)))
    return {row.id: row for row in rows}


def follow_up_tasks(session: Session, instance_ids: Sequence[int]) -> dict[int, ProcessTask]:
    """The follow-up task of each instance (open, done or cancelled), one statement."""
    rows = session.scalars(
        select(ProcessTask)
        .where(ProcessTask.instance_id.in_(instance_ids))
        .order_by(ProcessTask.id)
    )
    return {row.instance_id: row for row in rows}  # the newest wins
