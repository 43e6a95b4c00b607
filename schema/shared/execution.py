"""A faster path through graphql-core for plain fields.

Most values of a page are plain attributes of the objects the parent resolver built (a name, a
date, an enum, the branch object of a customer). graphql-core would build a ResolveInfo, call
strawberry's resolver wrapper and dispatch ``complete_value`` for each of them — about half the
time of a 100-row page. For a field strawberry itself calls "basic" (no resolver, no extension,
no arguments) whose type is a scalar, an enum or an object type, this execution context reads
the attribute and serialises it (leaf) or executes its sub-selection (object) directly.
Anything unusual — a null in a non-null field, a serialisation error, an object failing its
``is_type_of`` check, middleware from a schema extension with a resolve hook — takes
graphql-core's normal path; errors inside a sub-selection are handled exactly as graphql-core's
``execute_field`` handles them.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
)
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (python attribute or context-only resolver, leaf or object type, declared type, non-null?)
Plan = tuple[Any, GraphQLScalarType | GraphQLEnumType | GraphQLObjectType, Any, bool]
# Set on a resolver that reads nothing from ``info`` but ``info.context`` and takes no arguments
# (see ``context_only``): the fast path calls it with the context alone.
CONTEXT_ONLY = "_kehu_context_only"


class _ContextOnly:
    """What a ``context_only`` resolver receives as ``info``."""

    __slots__ = ("context",)

    def __init__(self, context: Any) -> None:
        self.context = context


def context_only(resolver: Any) -> Any:
    """Mark a resolver that uses only ``info.context`` (batched loads from the parent's page)."""
    setattr(resolver, CONTEXT_ONLY, True)
    return resolver


# (type, field name) → plan, or None when the field needs the normal path. Types are fixed once
# the schema is built, so plans are shared process-wide — keyed by the type object, not its name:
# a process with two schemas (the tests' SQLite and PostgreSQL apps) must not run one schema's
# sub-selection against the other's types (fragments would match neither).
_plans: dict[tuple[GraphQLObjectType, str], Plan | None] = {}


def _plan(parent_type: GraphQLObjectType, field_name: str) -> Plan | None:
    field_def = parent_type.fields.get(field_name)
    if field_def is None or field_def.args:
        return None
    definition = (field_def.extensions or {}).get("strawberry-definition")
    if definition is None or definition.extensions:
        return None
    target: Any = definition.python_name
    if definition.base_resolver is not None:
        function = definition.base_resolver.wrapped_func
        if not getattr(function, CONTEXT_ONLY, False):
            return None
        target = function
    field_type = field_def.type
    non_null = isinstance(field_type, GraphQLNonNull)
    named = field_type.of_type if non_null else field_type
    if not isinstance(named, GraphQLScalarType | GraphQLEnumType | GraphQLObjectType):
        return None  # lists, interfaces and unions take the normal path
    return target, named, field_type, non_null


class LeafFastPathExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with the shortcut described in the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # strawberry always passes a MiddlewareManager; it only matters when it holds resolvers.
        manager = self.middleware_manager
        self._plain_resolvers = manager is None or not getattr(
            manager, "_middleware_resolvers", None
        )

    def execute_field(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if self._plain_resolvers and not node.arguments:
            key = (parent_type, node.name.value)
            if key not in _plans:
                _plans[key] = _plan(parent_type, node.name.value)
            plan = _plans[key]
            if plan is not None:
                target, named, declared, non_null = plan
                if isinstance(target, str):
                    value = getattr(source, target, None)
                else:
                    try:
                        value = target(source, _ContextOnly(self.context_value))
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, declared, field_details_list, path)
                        return None
                if value is None:
                    if not non_null:
                        return None
                elif isinstance(named, GraphQLObjectType):
                    # strawberry's is_type_of checks the Python class and ignores the info.
                    if named.is_type_of is None or named.is_type_of(value, None):  # type: ignore[arg-type]
                        try:
                            return self.collect_and_execute_subfields(
                                named, field_details_list, path, value, position_context
                            )
                        except Exception as raw_error:
                            self.handle_field_error(raw_error, declared, field_details_list, path)
                            return None
                else:
                    try:
                        return named.serialize(value)
                    except Exception:
                        pass
        return super().execute_field(
            parent_type, source, field_details_list, path, position_context
        )
