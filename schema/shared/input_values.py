"""Input values at the boundary (issue 10): text no database can hold, and refusals that name the
field, never the value.

One check before execution (:class:`InputCheck`) walks what the chosen operation receives once —
its literal arguments and the JSON of the variables it uses — and refuses text with a NUL
character or a lone UTF-16 surrogate (JSON's ``"\\ud800"``) and numbers no float can hold (JSON's
``1e400``), anywhere: mutation inputs, arguments, filters, the keys and values inside a ``JSON``
value. The refusal is ``BAD_USER_INPUT`` naming each place by its argument path: a variable is
named where the operation uses it (``createCustomer(input: $input)`` with a bad ``$input.name``
is ``["input", "name"]``), as the domain's own checks name their fields.

graphql-core's own refusals of a value of the wrong type (a variable that does not coerce, a
literal the validation refuses) repeat the value (``Value cannot represent a Date:
"1949-13-31"``). :func:`rewrite_value_errors` replaces them, after the fact, by the same
``BAD_USER_INPUT`` shape: the field and the expected type, never the value.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    ArgumentNode,
    DocumentNode,
    FieldNode,
    FloatValueNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputObjectType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    ListValueNode,
    ObjectValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    StringValueNode,
    TypeInfo,
    TypeInfoVisitor,
    ValueNode,
    VariableDefinitionNode,
    VariableNode,
    Visitor,
    get_named_type,
    is_input_type,
    type_from_ast,
    visit,
)
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql.utilities.validate_input_value import validate_input_literal, validate_input_value
from strawberry.extensions import SchemaExtension

from core.errors import FieldError, UserInputError
from resolvers.shared.validation import text_problem
from schema.shared.documents import chosen_operation

Path = tuple[str, ...]

# What a value of each scalar looks like, for "must be …" messages.
SCALARS = {
    "Int": "an integer from -2147483648 to 2147483647",
    "Float": "a finite number",
    "String": "text (a JSON string)",
    "ID": "an ID (a JSON string)",
    "Boolean": "true or false",
    "Date": "a date like 2026-01-31",
    "DateTime": "a date and time with its offset, like 2026-01-31T09:30:00+08:00",
    "Decimal": 'a decimal number in a string, like "1234.50"',
    "JSON": "a JSON value",
}


def expected(type_: Any) -> str:
    """What a value of ``type_`` must be, in words (its values for an enum, never the input)."""
    if isinstance(type_, GraphQLNonNull):
        return expected(type_.of_type)
    if isinstance(type_, GraphQLList):
        return f"a list of {expected(type_.of_type)}"
    if isinstance(type_, GraphQLEnumType):
        values = list(type_.values)
        listed = ", ".join(values[:12]) + (", …" if len(values) > 12 else "")
        return f"one of the {type_.name} values ({listed})"
    if isinstance(type_, GraphQLInputObjectType):
        return f"an object ({type_.name})"
    if isinstance(type_, GraphQLScalarType):
        return SCALARS.get(type_.name, f"a {type_.name}")
    return "a value of another type"


# --- text no database can hold --------------------------------------------------------------


def _raw_problems(value: Any, path: Path) -> Iterator[FieldError]:
    """Bad text (values and keys) and non-finite numbers in a variable's JSON, without recursion
    (a deeply nested value must not exhaust the stack)."""
    stack: list[tuple[Any, Path]] = [(value, path)]
    while stack:
        item, at = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                yield FieldError(at, "INVALID", problem)
        elif isinstance(item, float):
            if not math.isfinite(item):
                yield FieldError(at, "OUT_OF_RANGE", "must be a finite number")
        elif isinstance(item, dict):
            for key, child in reversed(item.items()):
                problem = text_problem(key) if isinstance(key, str) else "must be text"
                if problem is not None:
                    yield FieldError(at, "INVALID", f"has a field name that {problem}")
                else:
                    stack.append((child, (*at, key)))
        elif isinstance(item, list):
            stack.extend((child, (*at, str(i))) for i, child in reversed(list(enumerate(item))))


def _literal_problems(
    node: ValueNode,
    path: Path,
    variables: Mapping[str, Any],
    defaults: Mapping[str, ValueNode | None],
    seen: set[str],
) -> Iterator[FieldError]:
    if isinstance(node, StringValueNode):
        problem = text_problem(node.value)
        if problem is not None:
            yield FieldError(path, "INVALID", problem)
    elif isinstance(node, FloatValueNode):
        if not math.isfinite(float(node.value)):
            yield FieldError(path, "OUT_OF_RANGE", "must be a finite number")
    elif isinstance(node, ObjectValueNode):
        for field in node.fields:
            yield from _literal_problems(
                field.value, (*path, field.name.value), variables, defaults, seen
            )
    elif isinstance(node, ListValueNode):
        for i, item in enumerate(node.values):
            yield from _literal_problems(item, (*path, str(i)), variables, defaults, seen)
    elif isinstance(node, VariableNode):
        name = node.name.value
        if name in seen:  # a variable is checked once, where it is first used
            return
        seen.add(name)
        if name in variables:
            yield from _raw_problems(variables[name], path)
        elif (default := defaults.get(name)) is not None:
            yield from _literal_problems(default, path, variables, defaults, seen)


def _arguments(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> Iterator[ArgumentNode]:
    """Every argument of every field ``operation`` selects, through fragments (each fragment
    once per path, so a fragment spreading itself cannot loop)."""

    def walk(
        selection_set: SelectionSetNode | None, visiting: frozenset[str]
    ) -> Iterator[ArgumentNode]:
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                yield from selection.arguments or ()
                yield from walk(selection.selection_set, visiting)
            elif isinstance(selection, InlineFragmentNode):
                yield from walk(selection.selection_set, visiting)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = fragments.get(name)
                if fragment is not None and name not in visiting:
                    yield from walk(fragment.selection_set, visiting | {name})

    return walk(operation.selection_set, frozenset())


def input_problems(
    operation: OperationDefinitionNode,
    fragments: Mapping[str, FragmentDefinitionNode],
    variables: Mapping[str, Any],
) -> list[FieldError]:
    """The bad text and numbers in what ``operation`` receives (see the module docstring)."""
    defaults = {
        d.variable.name.value: d.default_value for d in operation.variable_definitions or ()
    }
    seen: set[str] = set()
    problems: list[FieldError] = []

    for argument in _arguments(operation, fragments):
        problems.extend(
            _literal_problems(argument.value, (argument.name.value,), variables, defaults, seen)
        )
    return problems


def refusal(problems: list[FieldError]) -> GraphQLError:
    """One top-level error for ``problems`` (``classify`` gives it ``BAD_USER_INPUT``)."""
    error = UserInputError(problems)
    return GraphQLError(str(error), original_error=error)


class InputCheck(SchemaExtension):
    """Refuse, before execution, an operation that receives text or numbers no database can
    hold (see the module docstring)."""

    def on_execute(self) -> Iterator[None]:
        context = self.execution_context
        chosen = chosen_operation(context.graphql_document, context.operation_name)
        if chosen is not None:
            problems = input_problems(*chosen, context.variables or {})
            if problems:
                context.result = GraphQLExecutionResult(data=None, errors=[refusal(problems)])
        yield


# --- graphql-core's refusals, without the value -----------------------------------------------

_FIELD_NAMED = re.compile(r"field '([_A-Za-z][_0-9A-Za-z]*)'")


def _type_at(type_: Any, path: list[str | int]) -> Any:
    for step in path:
        while isinstance(type_, GraphQLNonNull):
            type_ = type_.of_type
        if isinstance(type_, GraphQLList):
            type_ = type_.of_type
        elif isinstance(type_, GraphQLInputObjectType) and isinstance(step, str):
            field = type_.fields.get(step)
            if field is None:
                return None
            type_ = field.type
    return type_


def _field_error(
    error: GraphQLError, inner: list[str | int], root_type: Any, prefix: Path
) -> FieldError:
    """graphql-core's ``error`` at ``inner`` (a path inside a value of ``root_type``) as a field
    error on ``prefix`` + ``inner``, its message rebuilt from the type alone."""
    message = error.message
    path = (*prefix, *(str(p) for p in inner))
    type_ = _type_at(root_type, inner)
    named = _FIELD_NAMED.search(message)
    if "to include required field" in message and named:
        return FieldError((*path, named.group(1)), "REQUIRED", "is required")
    if "not to include unknown field" in message and named:
        type_name = getattr(get_named_type(type_), "name", "this input")
        return FieldError(
            (*path, named.group(1)), "UNKNOWN_FIELD", f"is not a field of {type_name}"
        )
    if "non-null type" in message:
        return FieldError(path, "REQUIRED", f"is required: {expected(type_)}")
    if message.startswith("Within OneOf"):
        return FieldError(path, "INVALID", "must set exactly one field")
    return FieldError(path, "INVALID", f"must be {expected(type_)}")


def _variable_uses(
    operation: OperationDefinitionNode, fragments: Mapping[str, FragmentDefinitionNode]
) -> dict[str, Path]:
    """Where each variable is first used: its argument path."""
    uses: dict[str, Path] = {}

    def value(node: ValueNode, path: Path) -> None:
        if isinstance(node, VariableNode):
            uses.setdefault(node.name.value, path)
        elif isinstance(node, ObjectValueNode):
            for field in node.fields:
                value(field.value, (*path, field.name.value))
        elif isinstance(node, ListValueNode):
            for i, item in enumerate(node.values):
                value(item, (*path, str(i)))

    for argument in _arguments(operation, fragments):
        value(argument.value, (argument.name.value,))
    return uses


def _literal_errors(schema: GraphQLSchema, document: DocumentNode) -> list[tuple[str, FieldError]]:
    """Every argument literal's refusal (graphql-core's message and the field error replacing
    it), found again with the argument paths the validation rule does not report."""
    found: list[tuple[str, FieldError]] = []
    type_info = TypeInfo(schema)

    class Arguments(Visitor):
        def enter_argument(self, node: Any, *_args: Any) -> None:
            input_type = type_info.get_input_type()
            if input_type is None:
                return
            prefix = (node.name.value,)

            def on_error(error: GraphQLError, inner: list[str | int]) -> None:
                found.append((error.message, _field_error(error, inner, input_type, prefix)))

            validate_input_literal(node.value, input_type, on_error, None, None, True)

        def enter_variable_definition(self, node: Any, *_args: Any) -> None:
            var_type = type_from_ast(schema, node.type)
            if node.default_value is None or not is_input_type(var_type):
                return
            prefix = (f"${node.variable.name.value}",)

            def on_error(error: GraphQLError, inner: list[str | int]) -> None:
                found.append((error.message, _field_error(error, inner, var_type, prefix)))

            validate_input_literal(node.default_value, var_type, on_error, None, None, True)  # type: ignore[arg-type]

    visit(document, TypeInfoVisitor(type_info, Arguments()))
    return found


def _value_error(error: GraphQLError) -> bool:
    """Whether ``error`` may be a literal's refusal by validation (scalars raise theirs without
    a node)."""
    if error.path is not None or (error.extensions and "code" in error.extensions):
        return False
    return not error.nodes or (
        isinstance(error.nodes[0], ValueNode) and not isinstance(error.nodes[0], VariableNode)
    )


def rewrite_value_errors(
    schema: GraphQLSchema,
    document: DocumentNode | None,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    errors: list[GraphQLError],
) -> list[GraphQLError]:
    """graphql-core's refusals of a variable's or a literal's value replaced by one
    ``BAD_USER_INPUT`` error naming the fields and the expected types (module docstring)."""
    chosen = chosen_operation(document, operation_name)
    if document is None or chosen is None:
        return errors
    operation, fragments = chosen
    definitions = {d.variable.name.value: d for d in operation.variable_definitions or ()}
    kept: list[GraphQLError] = []
    bad_variables: list[str] = []
    for error in errors:
        node = error.nodes[0] if error.path is None and error.nodes else None
        if isinstance(node, VariableDefinitionNode) and "invalid value" in error.message:
            if node.variable.name.value not in bad_variables:  # one error per bad field
                bad_variables.append(node.variable.name.value)
        else:
            kept.append(error)
    problems: list[FieldError] = []
    if any(_value_error(e) for e in kept):
        literals = _literal_errors(schema, document)
        refused = {message for message, _ in literals}
        kept = [e for e in kept if not (_value_error(e) and e.message in refused)]
        problems += [field_error for _, field_error in literals]
    if not bad_variables and not problems:
        return errors
    uses = _variable_uses(operation, fragments)
    for name in bad_variables:
        definition = definitions.get(name)
        var_type = type_from_ast(schema, definition.type) if definition else None
        prefix = uses.get(name, (f"${name}",))
        before = len(problems)
        if is_input_type(var_type) and variables is not None and name in variables:

            def on_error(
                error: GraphQLError, inner: list[str | int], t: Any = var_type, p: Path = prefix
            ) -> None:
                problems.append(_field_error(error, inner, t, p))

            validate_input_value(variables[name], var_type, on_error, True)  # type: ignore[arg-type]
        if len(problems) == before:
            problems.append(FieldError(prefix, "INVALID", f"must be {expected(var_type)}"))
    return [*kept, refusal(problems)]
