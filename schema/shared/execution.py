"""A faster path through graphql-core for plain fields.

Most values of a page are plain attributes of the objects the parent resolver built (a name, a
date, an enum, the branch object of a customer). graphql-core would build a ResolveInfo, call
strawberry's resolver wrapper and dispatch ``complete_value`` for each of them — about half the
time of a 100-row page. For a field strawberry itself calls "basic" (no resolver, no extension,
no arguments) whose type is a scalar, an enum or an object type, this execution context reads
the attribute and serialises it (leaf) or executes its sub-selection (object) directly.
A list of objects (a connection's ``edges``) is completed item by item the same way. Leaves
of plain attributes are read inline by ``execute_fields`` (no response path is built for them).
Anything unusual — a null in a non-null field, a serialisation error, an object failing its
``is_type_of`` check, a list that is not a plain list of such objects, a directive on the
field (``@stream``), middleware from a schema extension with a resolve hook — takes
graphql-core's normal path; errors inside a sub-selection (of an item) are handled exactly as
graphql-core's ``execute_field`` (``complete_list_item_value``) handles them.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import Enum
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLID,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    GraphQLString,
)
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

# (python attribute or context-only resolver, leaf or object type, declared type, non-null?,
# for a list of objects: its item type (else None))
Plan = tuple[Any, GraphQLScalarType | GraphQLEnumType | GraphQLObjectType, Any, bool, Any]
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
    item_type = None
    if isinstance(named, GraphQLList):
        item_type = named.of_type
        named = item_type.of_type if isinstance(item_type, GraphQLNonNull) else item_type
        if not isinstance(named, GraphQLObjectType):
            return None  # lists of leaves, interfaces or unions take the normal path
    if not isinstance(named, GraphQLScalarType | GraphQLEnumType | GraphQLObjectType):
        return None  # interfaces and unions take the normal path
    return target, named, field_type, non_null, item_type


_UNPLANNED = object()
# One field of a selection: (response name, field details, for a plain leaf read inline its
# (python attribute, serialise, non-null?), else None).
Step = tuple[str, Any, tuple[str, Callable[[Any], Any], bool] | None]


def _serializer(named: GraphQLScalarType | GraphQLEnumType) -> Callable[[Any], Any]:
    """``named.serialize``, with the common cases answered at once: text of a String or ID
    (graphql-core returns a ``str`` as it is), and a member of a strawberry enum (strawberry
    looks its name up by scanning the enum's values on every call)."""
    serialize = named.serialize
    if named is GraphQLString or named is GraphQLID:
        return lambda value: value if type(value) is str else serialize(value)
    wrapped = getattr(named, "wrapped_cls", None)
    if (
        isinstance(named, GraphQLEnumType)
        and isinstance(wrapped, type)
        and issubclass(wrapped, Enum)
    ):
        names = {
            member: name
            for member in wrapped
            for name, value in named.values.items()
            if member.value == value.value
        }
        return lambda value: (
            names[value] if type(value) is wrapped and value in names else serialize(value)
        )
    return serialize


def _split(parent_type: GraphQLObjectType, grouped_field_set: Any) -> list[Step]:
    """The fields of a selection in order, each with how to read it inline when it is a plain
    leaf (None: ``execute_field``)."""
    steps: list[Step] = []
    for response_name, field_details_list in grouped_field_set.items():
        node = field_details_list[0].node
        leaf = None
        if not node.arguments and not node.directives:
            plan = _planned(parent_type, node.name.value)
            if (
                plan is not None
                and plan[4] is None
                and isinstance(plan[0], str)
                and not isinstance(plan[1], GraphQLObjectType)
            ):
                leaf = (plan[0], _serializer(plan[1]), plan[3])
        steps.append((response_name, field_details_list, leaf))
    return steps


def _planned(parent_type: GraphQLObjectType, field_name: str) -> Plan | None:
    key = (parent_type, field_name)
    plan = _plans.get(key, _UNPLANNED)
    if plan is _UNPLANNED:
        plan = _plans[key] = _plan(parent_type, field_name)
    return plan  # type: ignore[return-value]


class LeafFastPathExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """graphql-core's execution, with the shortcut described in the module docstring."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # strawberry always passes a MiddlewareManager; it only matters when it holds resolvers.
        manager = self.middleware_manager
        self._plain_resolvers = manager is None or not getattr(
            manager, "_middleware_resolvers", None
        )
        # id(grouped field set) → (it, its steps)
        self._splits: dict[int, tuple[Any, list[Step]]] = {}
        self._context_only = _ContextOnly(self.context_value)

    def execute_fields(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: Any,
        position_context: Any,
    ) -> Any:
        """graphql-core's loop over an object's fields, reading plain leaves inline."""
        if not self._plain_resolvers:
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        # Selections repeat per list item (graphql-core memoizes them): split each once.
        found = self._splits.get(id(grouped_field_set))
        if found is None:
            found = self._splits[id(grouped_field_set)] = (
                grouped_field_set,  # kept alive: its id stays its own
                _split(parent_type, grouped_field_set),
            )
        # graphql-core's loop (``execute_fields``), with plain leaves read inline.
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for response_name, field_details_list, leaf in found[1]:
                if leaf is not None:
                    value = getattr(source_value, leaf[0], None)
                    if value is None:
                        if not leaf[2]:
                            results[response_name] = None
                            continue
                    else:
                        try:
                            results[response_name] = leaf[1](value)
                            continue
                        except Exception:  # execute_field reports it below
                            pass
                result = self.execute_field(
                    parent_type,
                    source_value,
                    field_details_list,
                    Path(path, response_name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[response_name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(response_name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise
        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:  # pragma: no cover - resolvers are sync
            awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
            results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def execute_field(  # type: ignore[override]
        self,
        parent_type: GraphQLObjectType,
        source: Any,
        field_details_list: Any,
        path: Any,
        position_context: Any,
    ) -> Any:
        node = field_details_list[0].node
        if self._plain_resolvers and not node.arguments and not node.directives:
            plan = _planned(parent_type, node.name.value)
            if plan is not None:
                target, named, declared, non_null, item_type = plan
                if isinstance(target, str):
                    value = getattr(source, target, None)
                else:
                    try:
                        value = target(source, self._context_only)
                    except Exception as raw_error:
                        self.handle_field_error(raw_error, declared, field_details_list, path)
                        return None
                if value is None:
                    if not non_null:
                        return None
                elif item_type is not None:
                    assert isinstance(named, GraphQLObjectType)
                    if type(value) is list and all(
                        item is not None
                        and (named.is_type_of is None or named.is_type_of(item, None))  # type: ignore[arg-type]
                        for item in value
                    ):
                        try:
                            return self._complete_objects(
                                named, item_type, field_details_list, path, value, position_context
                            )
                        except Exception as raw_error:
                            self.handle_field_error(raw_error, declared, field_details_list, path)
                            return None
                elif isinstance(named, GraphQLObjectType):
                    # strawberry's is_type_of checks the Python class and ignores the info.
                    if named.is_type_of is None or named.is_type_of(value, None):  # type: ignore[arg-type]
                        try:
                            return self._subfields(
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

    def _complete_objects(
        self,
        named: GraphQLObjectType,
        item_type: Any,
        field_details_list: Any,
        path: Any,
        items: list[Any],
        position_context: Any,
    ) -> list[Any]:
        """A list of objects, as ``complete_list_item_value`` completes each (an item's error
        is located at the item; a non-null item's error nulls the list)."""
        completed = []
        grouped = self._plain_subfields(named, field_details_list, position_context)
        for index, item in enumerate(items):
            item_path = path.add_key(index, None)
            try:
                if grouped is not None:
                    done = self.execute_fields(named, item, item_path, grouped, None)
                else:
                    done = self.collect_and_execute_subfields(
                        named, field_details_list, item_path, item, position_context
                    )
            except Exception as raw_error:
                self.handle_field_error(raw_error, item_type, field_details_list, item_path)
                done = None
            if self.is_awaitable(done):  # pragma: no cover - Kehu's resolvers are synchronous
                raise TypeError("an asynchronous resolver in a list of objects")
            completed.append(done)
        return completed

    def _plain_subfields(
        self, named: GraphQLObjectType, field_details_list: Any, position_context: Any
    ) -> Any:
        """The selection of ``named`` when nothing in it is deferred (graphql-core then runs
        ``execute_fields`` on it, as ``collect_and_execute_subfields`` does), else None."""
        if position_context is not None:
            return None
        grouped, new_defer_usages, _ = self.collect_subfields(named, field_details_list)
        return None if new_defer_usages else grouped

    def _subfields(
        self,
        named: GraphQLObjectType,
        field_details_list: Any,
        path: Any,
        value: Any,
        position_context: Any,
    ) -> Any:
        grouped = self._plain_subfields(named, field_details_list, position_context)
        if grouped is None:
            return self.collect_and_execute_subfields(
                named, field_details_list, path, value, position_context
            )
        return self.execute_fields(named, value, path, grouped, None)
