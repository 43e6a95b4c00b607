"""Reporting access decisions in the response (SHARE-1, issue 3).

A DENIED field resolves to ``null`` and gets one ``FIELD_FORBIDDEN`` error per field path — the
path without list indices, so a 100-row page withholding ``idNumber`` yields one error, not 100.
When no allowed purpose was declared, ``extensions.access`` says that FULL fields were masked.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
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
from strawberry.extensions import SchemaExtension

from schema.context import Context
from schema.documents import chosen_operation


def withheld_paths(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    withheld: set[tuple[str, str]],
) -> list[tuple[tuple[str, ...], str, str]]:
    """(path, type, field) of every selection of a withheld (type, field), in document order."""
    found: dict[tuple[str, ...], tuple[str, str]] = {}

    def walk(
        parent: GraphQLNamedType | None,
        selections: SelectionSetNode | None,
        path: tuple[str, ...],
        seen: frozenset[str],
    ) -> None:
        if selections is None or parent is None:
            return
        for selection in selections.selections:
            if isinstance(selection, FieldNode):
                name = selection.name.value
                key = selection.alias.value if selection.alias else name
                if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
                    continue
                definition = parent.fields.get(name)
                if definition is None:
                    continue
                if (parent.name, name) in withheld:
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


class AccessReport(SchemaExtension):
    """Add FIELD_FORBIDDEN errors and the purpose decision to the response."""

    def on_execute(self) -> Iterator[None]:
        yield
        context = self.execution_context
        ctx = context.context
        result = context.result
        document = context.graphql_document
        if not isinstance(ctx, Context) or result is None or document is None:
            return
        if not ctx.access.withheld:
            return
        chosen = chosen_operation(document, context.operation_name)
        if chosen is None:
            return
        operation, fragments = chosen
        schema = context.schema._schema
        errors = list(result.errors or [])
        for path, type_name, field in withheld_paths(
            schema, operation, fragments, ctx.access.withheld
        ):
            errors.append(
                GraphQLError(
                    f"You may not read {type_name}.{field}; it is withheld (null).",
                    path=list(path),
                    extensions={"code": "FIELD_FORBIDDEN", "type": type_name, "field": field},
                )
            )
        result.errors = errors

    def get_results(self) -> dict[str, Any]:
        ctx = self.execution_context.context
        if isinstance(ctx, Context) and ctx.staff is not None and ctx.purpose_problem:
            return {
                "access": {
                    "purpose": ctx.purpose,
                    "downgraded": True,
                    "reason": ctx.purpose_problem + "; fields you may see in full are masked",
                }
            }
        return {}
