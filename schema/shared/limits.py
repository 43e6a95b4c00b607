"""Protection of the API itself: query cost limit and error classification/masking (PLAT-1).

Depth, token and alias limits come from strawberry's extensions (see ``schema.schema``). The cost
of a query is computed here: every field costs 1, and what is selected under a list is
multiplied by the number of items it may return — ``first``/``last`` for connections (20 when
not given), 10 for plain lists. Internal errors are replaced by ``INTERNAL``; the caller's own
mistakes stay readable.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    get_nullable_type,
    value_from_ast_untyped,
)
from strawberry.extensions import SchemaExtension

from core.errors import ApiError, UnavailableError, UserInputError
from resolvers.shared.pagination import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from schema.shared.documents import chosen_operation
from schema.shared.input_values import rewrite_value_errors
from store.db import error_code, is_outage

log = logging.getLogger("kehu.graphql")

PLAIN_LIST_ITEMS = 10
# How graphql-core's argument coercion at execution begins its refusals.
ARGUMENT_REFUSED = re.compile(r"Argument '([_A-Za-z][_0-9A-Za-z]*)' ")


def query_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> int:
    """The cost of ``operation`` as described in the module docstring."""
    root = schema.get_root_type(operation.operation)
    assert root is not None
    return _selection_cost(schema, root, operation.selection_set, fragments, variables, set())


def _selection_cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    selection_set: SelectionSetNode | None,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    visiting: set[str],
) -> int:
    if selection_set is None:
        return 0
    total = 0
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            total += _field_cost(schema, parent, selection, fragments, variables, visiting)
        elif isinstance(selection, InlineFragmentNode):
            target = (
                schema.get_type(selection.type_condition.name.value)
                if selection.type_condition
                else parent
            )
            total += _selection_cost(
                schema, target or parent, selection.selection_set, fragments, variables, visiting
            )
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in visiting:
                continue
            target = schema.get_type(fragment.type_condition.name.value) or parent
            total += _selection_cost(
                schema, target, fragment.selection_set, fragments, variables, visiting | {name}
            )
    return total


def _field_cost(
    schema: GraphQLSchema,
    parent: GraphQLNamedType,
    node: FieldNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
    visiting: set[str],
) -> int:
    if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        return 1
    definition = parent.fields.get(node.name.value)
    if definition is None:  # __typename and introspection fields
        return 1
    field_type = get_nullable_type(definition.type)  # type: ignore[arg-type]
    named = get_named_type(field_type)
    arguments = {
        arg.name.value: value_from_ast_untyped(arg.value, dict(variables))
        for arg in node.arguments or ()
    }
    size = arguments.get("first") or arguments.get("last")
    if named.name.endswith("Connection"):
        # A size above the maximum is refused by the field itself (naming it): not a cost.
        multiplier = (
            min(size, MAX_PAGE_SIZE) if isinstance(size, int) and size > 0 else DEFAULT_PAGE_SIZE
        )
    elif isinstance(field_type, GraphQLList):
        multiplier = PLAIN_LIST_ITEMS
    else:
        multiplier = 1
    children = _selection_cost(schema, named, node.selection_set, fragments, variables, visiting)
    return 1 + multiplier * children


class CostLimit(SchemaExtension):
    """Refuse, before execution, an operation whose cost exceeds ``max_cost``."""

    def __init__(self, max_cost: int) -> None:
        super().__init__()
        self.max_cost = max_cost

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        chosen = chosen_operation(context.graphql_document, context.operation_name)
        if chosen is not None:
            operation, fragments = chosen
            cost = query_cost(context.schema._schema, operation, fragments, context.variables or {})
            if cost > self.max_cost:
                context.result = GraphQLExecutionResult(
                    data=None,
                    errors=[
                        GraphQLError(
                            f"Query cost {cost} exceeds the limit of {self.max_cost}; "
                            "ask for fewer items (first/last) or fewer nested lists",
                            extensions={"code": "COST_LIMIT_EXCEEDED", "cost": cost},
                        )
                    ],
                )
        yield


UNAVAILABLE = UnavailableError.code
UNAVAILABLE_MESSAGE = "The database is unavailable; nothing was changed. Try again later."
UNKNOWN_OUTCOME = "UNKNOWN_OUTCOME"
UNKNOWN_OUTCOME_MESSAGE = (
    "The database became unavailable after a change of this request was committed: retry "
    "with the same idempotency key, or read it again."
)


def _argument_refusal(error: GraphQLError) -> UserInputError | None:
    """graphql-core's own refusal of a field's argument at execution (a null sent for a variable
    whose default allowed it there) as the caller's input error naming the argument, or None."""
    original = error.original_error
    if not isinstance(original, GraphQLError) or original.original_error is not None:
        return None
    argument = ARGUMENT_REFUSED.match(original.message)
    if argument is None:
        return None
    required = "null" in original.message or "not provided" in original.message
    return UserInputError.one(
        (argument.group(1),),
        "REQUIRED" if required else "INVALID",
        "is required" if required else "is not a value of this argument's type",
    )


def classify(error: GraphQLError) -> GraphQLError:
    """Give every error a stable ``extensions.code``; hide the details of internal errors."""
    original = error.original_error
    original = _argument_refusal(error) or original
    if isinstance(original, ApiError):
        return GraphQLError(
            original.message,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": original.code},
        )
    if isinstance(original, UserInputError):
        return GraphQLError(
            str(original),
            nodes=error.nodes,
            path=error.path,
            extensions={
                "code": "BAD_USER_INPUT",
                "fields": [
                    {"field": list(e.field), "code": e.code, "message": e.message}
                    for e in original.errors
                ],
            },
        )
    if error.extensions and "code" in error.extensions:
        return error
    if is_outage(original):
        return GraphQLError(
            UNAVAILABLE_MESSAGE,
            nodes=error.nodes,
            path=error.path,
            extensions={"code": UNAVAILABLE},
        )
    if isinstance(error, GraphQLSyntaxError):
        # graphql-core names the unexpected token with its text; a literal's is the caller's value.
        message = re.sub(
            r"(String|BlockString|Int|Float) (['\"]).*\2", r"\1", error.message, flags=re.S
        )
        token_limit = "tokens. Parsing aborted" in message
        return GraphQLError(
            message,
            source=error.source,
            positions=error.positions,
            extensions={"code": "TOKEN_LIMIT_EXCEEDED" if token_limit else "GRAPHQL_PARSE_FAILED"},
        )
    if error.path is None:
        # Raised before any resolver ran: a syntax, validation or variable error the caller made.
        return GraphQLError(
            error.message,
            nodes=error.nodes,
            source=error.source,
            positions=error.positions,
            extensions={"code": "GRAPHQL_VALIDATION_FAILED"},
        )
    return GraphQLError(
        "Internal error; it has been logged",
        nodes=error.nodes,
        path=error.path,
        extensions={"code": "INTERNAL"},
    )


class ErrorCodes(SchemaExtension):
    """Classify every error of a result (see :func:`classify`); graphql-core's refusals of a
    value are first rebuilt without the value (``input_values.rewrite_value_errors``)."""

    def on_operation(self) -> Iterator[None]:
        try:
            yield
        except GraphQLError as error:  # a parse error raised by the parser cache
            raise classify(error) from None
        context = self.execution_context
        result = context.result
        if result is not None and result.errors:
            errors = rewrite_value_errors(
                context.schema._schema,
                context.graphql_document,
                context.operation_name,
                context.variables,
                list(result.errors),
            )
            result.errors = [classify(e) for e in errors]
            if getattr(context.context, "committed", False):
                result.errors = [_after_commit(e) for e in result.errors]


def _after_commit(error: GraphQLError) -> GraphQLError:
    """An outage after a mutation of this request committed: its answer is lost, its change is
    not — the client must not take UNAVAILABLE ("nothing was changed") for the whole request."""
    if not error.extensions or error.extensions.get("code") != UNAVAILABLE:
        return error
    return GraphQLError(
        UNKNOWN_OUTCOME_MESSAGE,
        nodes=error.nodes,
        path=error.path,
        extensions={"code": UNKNOWN_OUTCOME},
    )


def log_internal_errors(errors: list[GraphQLError]) -> None:
    """Log unexpected errors with their traceback; callers' mistakes are not logged."""
    for error in errors:
        original = error.original_error
        if error.path is None or isinstance(original, ApiError | UserInputError):
            continue
        if _argument_refusal(error) is not None:
            continue
        if error.extensions and "code" in error.extensions:
            continue
        if is_outage(original):
            # An outage fails every request: one line each, not a traceback each.
            log.warning(
                "database unavailable at %s: %s",
                ".".join(str(p) for p in error.path),
                error_code(original),
            )
            continue
        log.error(
            "internal error at %s: %s",
            ".".join(str(p) for p in error.path),
            type(original).__name__ if original else "GraphQLError",
            exc_info=original,
        )
