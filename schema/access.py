"""Reporting access decisions in the response (SHARE-1).

A DENIED field resolves to ``null`` and gets one ``FIELD_FORBIDDEN`` error per field path — the
path without list indices, so a 100-row page withholding ``idNumber`` yields one error, not 100.
When no allowed purpose was declared and a field the caller may see in full was masked (or
withheld) in the answer, ``extensions.access`` says so.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from functools import lru_cache
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
)
from starlette.concurrency import run_in_threadpool
from strawberry.extensions import SchemaExtension

from authz.fields import PERSONAL_FIELDS, Effect
from resolvers import audit
from schema.shared.context import Context
from schema.shared.documents import chosen_operation

log = logging.getLogger("kehu.audit")


def selections(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
) -> list[tuple[tuple[str, ...], str, str]]:
    """(path, type, field) of every field selection, in document order, once per path."""
    found: dict[tuple[str, ...], tuple[str, str]] = {}

    def walk(
        parent: GraphQLNamedType | None,
        selection_set: SelectionSetNode | None,
        path: tuple[str, ...],
        seen: frozenset[str],
    ) -> None:
        if selection_set is None or parent is None:
            return
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                key = selection.alias.value if selection.alias else name
                if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(name)
                if definition is None:
                    continue
                found.setdefault((*path, key), (parent.name, name))
                walk(get_named_type(definition.type), selection.selection_set, (*path, key), seen)
            elif isinstance(selection, InlineFragmentNode):
                condition = selection.type_condition
                target = schema.get_type(condition.name.value) if condition else parent
                walk(target, selection.selection_set, path, seen)
            elif isinstance(selection, FragmentSpreadNode):
                fragment = fragments.get(selection.name.value)
                if fragment is None or fragment.name.value in seen:
                    continue
                target = schema.get_type(fragment.type_condition.name.value)
                walk(target, fragment.selection_set, path, seen | {fragment.name.value})

    walk(schema.get_root_type(operation.operation), operation.selection_set, (), frozenset())
    return [(path, type_name, field) for path, (type_name, field) in found.items()]


@lru_cache(maxsize=256)
def operation_selections(
    schema: GraphQLSchema, document: DocumentNode, operation_name: str | None
) -> tuple[OperationDefinitionNode, tuple[tuple[tuple[str, ...], str, str], ...]] | None:
    """The operation and its selections, cached: parsed documents repeat (ParserCache)."""
    chosen = chosen_operation(document, operation_name)
    if chosen is None:
        return None
    operation, fragments = chosen
    return operation, tuple(selections(schema, operation, fragments))


# Complaint fields holding what handlers wrote and told the customer: not under the field policy
# (whoever sees the complaint reads them — a third party only under a consent naming the
# complaints group: ``Context.may_read_complaint_text``), but every reading is audited. (A
# complaint's description, remedy and amount are personal fields: audited with their effect.)
COMPLAINT_TEXT = {"Complaint": ("timeline", "messages")}
# Change-history values: personal values of any type (``CustomerChange.present``).
HISTORY_VALUES = frozenset({("CustomerChange", "oldValue"), ("CustomerChange", "newValue")})


class AccessReport(SchemaExtension):
    """FIELD_FORBIDDEN errors, the purpose decision, and the read-audit entry of a request."""

    def on_execute(self) -> Iterator[None]:
        yield
        self._report(self.execution_context.result)

    async def on_stream_result(self, result: Any) -> AsyncIterator[None]:
        """Each event a subscription pushes is reported and audited like a query's answer."""
        await run_in_threadpool(self._report, result)
        yield

    def _report(self, result: Any) -> None:
        context = self.execution_context
        ctx = context.context
        if not isinstance(ctx, Context) or ctx.staff is None or result is None:
            return
        if context.graphql_document is None:
            return
        planned = operation_selections(
            context.schema._schema, context.graphql_document, context.operation_name
        )
        if planned is None:
            return
        operation, selected = planned
        self._selected = {(type_name, field) for _, type_name, field in selected}
        withheld = ctx.access.withheld()
        if withheld:
            errors = list(result.errors or [])
            for path, type_name, field in selected:
                if (type_name, field) in withheld:
                    errors.append(
                        GraphQLError(
                            f"You may not read {type_name}.{field}; it is withheld (null).",
                            path=list(path),
                            extensions={
                                "code": "FIELD_FORBIDDEN",
                                "type": type_name,
                                "field": field,
                            },
                        )
                    )
            result.errors = errors
        try:
            self._audit_read(ctx, operation, selected)
        except Exception:
            # Synchronous read audit (KEHU_AUDIT_READS=sync): no entry, no answer.
            log.exception("a read could not be written to the audit log; its answer is withheld")
            result.data = None
            # A mutation committed its change (and CHANGE entry) before: it must not be repeated.
            message = (
                "The change was made, but its answer could not be recorded in the audit log, so "
                "nothing is returned; read it again later."
                if operation.operation.value == "mutation"
                else "The read could not be recorded in the audit log, so nothing is returned; "
                "try again later."
            )
            result.errors = [GraphQLError(message, extensions={"code": "AUDIT_UNAVAILABLE"})]

    @staticmethod
    def _audit_read(
        ctx: Context,
        operation: OperationDefinitionNode,
        selected: tuple[tuple[tuple[str, ...], str, str], ...],
    ) -> None:
        """Record one READ entry when personal data of customers was revealed (SHARE-4)."""
        # A mutation's payload reveals like a query's answer: what it changed is its CHANGE
        # entry, what it answered with is this READ entry.
        customers = ctx.customer_ids + ctx.complaint_customer_ids
        if ctx.auditor is None or not customers:
            return
        # Usually one access serves every customer; compare each distinct one once.
        distinct = {id(a): a for a in map(ctx.access.access_for, set(customers))}
        accesses = list(distinct.values())
        rank = {Effect.DENIED: 0, Effect.MASKED: 1, Effect.FULL: 2}
        revealed: dict[str, str] = {}
        for _, type_name, field in selected:
            if field in COMPLAINT_TEXT.get(type_name, ()):
                # Logged only when served: withheld from every complaint, nothing was revealed.
                if f"{type_name}.{field}" in ctx.complaint_text_shown:
                    revealed[f"{type_name}.{field}"] = Effect.FULL.value
                continue
            shown = ctx.values_shown.get(f"{type_name}.{field}")
            if shown is not None:
                # Personal values served in another type's field (change history).
                revealed[f"{type_name}.{field}"] = shown.value
                continue
            if field not in PERSONAL_FIELDS.get(type_name, {}).values():
                continue
            # The most open effect any of the request's customers was shown with.
            effect = max((a.effect(type_name, field) for a in accesses), key=rank.__getitem__)
            if effect is not Effect.DENIED:
                revealed[f"{type_name}.{field}"] = effect.value
        if not revealed:
            return
        staff = ctx.actor
        name = operation.name.value if operation.name else None
        roots = [path[0] for path, _, _ in selected if len(path) == 1]
        ctx.auditor.record(
            audit.new_entry(
                actor_id=staff.id,
                actor=staff.employee_no,
                roles=staff.roles,
                purpose=ctx.access.purpose if ctx.access.purpose_problem is None else None,
                action="READ",
                operation=name or ",".join(roots),
                customer_ids=customers,
                fields=revealed,
                via=ctx.access.used_via,
            )
        )

    def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context.context
        # Only an answer where a field the caller may see in full was actually masked or
        # withheld for want of an allowed purpose says so (not `me`, not an admin mutation).
        if (
            isinstance(ctx, Context)
            and ctx.staff is not None
            and ctx.access.purpose_problem
            and self._downgrade_shown(ctx)
        ):
            return {
                "access": {
                    "purpose": ctx.access.purpose,
                    "downgraded": True,
                    "reason": ctx.access.purpose_problem
                    + "; fields you may see in full are masked",
                }
            }
        return {}

    def _downgrade_shown(self, ctx: Context) -> bool:
        """Whether a selected field was masked or withheld by the downgrade for some object."""
        applied = ctx.access.downgrades_applied()
        selected: set[tuple[str, str]] = getattr(self, "_selected", set())
        if not applied.isdisjoint(selected):
            return True
        # Change-history values carry another type's field (a downgraded phone …).
        return bool(applied) and not HISTORY_VALUES.isdisjoint(selected)
