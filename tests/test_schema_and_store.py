"""The committed SDL is current (PLAT-1); migrations match the models on every backend."""

from __future__ import annotations

import re
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from graphql import (
    BreakingChangeType,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLScalarType,
    find_breaking_changes,
    get_named_type,
    get_nullable_type,
)
from graphql import build_schema as graphql_build_schema

from kehu.cli.api import RELEASED_SCHEMA_FILE, SCHEMA_FILE
from schema.schema import NODE_LOADERS, build_schema, merge_loaders
from store.models import Base
from tests.conftest import Backend


def test_schema_graphql_is_current() -> None:
    committed = SCHEMA_FILE.read_text()
    assert committed == build_schema().as_str() + "\n", (
        "schema/schema.graphql is stale: run `kehu export-schema` and commit it"
    )


def test_every_enum_value_has_a_bilingual_description() -> None:
    """Every value of every enum of the built schema says what it means in English and 中文."""
    schema = build_schema()._schema
    enums = [
        t
        for t in schema.type_map.values()
        if isinstance(t, GraphQLEnumType) and not t.name.startswith("__")
    ]
    assert len(enums) > 10  # the walk finds the enums
    lacking = [
        f"{enum.name}.{name}"
        for enum in enums
        for name, value in enum.values.items()
        if not value.description
        or not re.search(r"[A-Za-z]", value.description)
        or not re.search(r"[\u4e00-\u9fff]", value.description)
    ]
    assert lacking == [], f"enum values without an English + 中文 description: {lacking}"


def test_node_resolves_every_type_that_implements_node() -> None:
    """``node(id:)`` has a loader for every type implementing ``Node`` (none answers null
    for a visible object just because nobody wrote its loader)."""
    schema = build_schema()._schema
    node = schema.type_map["Node"]
    implementing = {
        t.name
        for t in schema.type_map.values()
        if isinstance(t, GraphQLObjectType) and node in t.interfaces
    }
    assert {"Customer", "Transaction", "Notification"} <= implementing
    assert implementing - NODE_LOADERS.keys() == set()
    assert NODE_LOADERS.keys() - implementing == set()  # no loader for a type that is not a Node


def test_two_domains_cannot_claim_the_same_node_type() -> None:
    def load(info: Any, pk: int) -> None:
        return None

    with pytest.raises(ValueError, match="Customer"):
        merge_loaders({"Customer": load}, {"Account": load}, {"Customer": load})


# Root fields answering a list that is no list of records: not paged, so no connection.
NOT_RECORD_LISTS = {
    "complaintStatistics": "aggregates, one per value of the chosen dimension",
    "serviceOperations": "the fixed catalogue of operations the code offers to diagrams",
    "products": "the reviewed product catalogue (reference data from products.toml, REL-3)",
    "clubMembershipTiers": "reference data: at most one row per value tier",
    "questionnaires": "reference data: the newest version of each questionnaire",
    "kpiIndicators": "reference data: the fixed indicator registry (KPI-1)",
    "teams": "one branch's few teams with their members: an organisation chart (KPI-1)",
    "scorecardWeights": "reference data: the versions of the scorecard weights (KPI-2)",
}


def test_every_top_level_list_is_a_connection_with_a_total_count() -> None:
    """A list of records is paged the one way (keyset cursors) and tells its size."""
    schema = build_schema()._schema
    assert schema.query_type is not None
    problems = []
    for name, field in schema.query_type.fields.items():
        type_ = get_nullable_type(field.type)
        if isinstance(type_, GraphQLList):
            if name not in NOT_RECORD_LISTS:
                problems.append(f"{name}: a bare list, not a connection")
            continue
        if not isinstance(type_, GraphQLObjectType) or "edges" not in type_.fields:
            continue
        arguments = set(field.args)
        if not type_.name.endswith("Connection") or "totalCount" not in type_.fields:
            problems.append(f"{name}: {type_.name} has no totalCount")
        if not {"first", "after", "last", "before"} <= arguments:
            problems.append(f"{name}: pages without first/after/last/before")
    assert problems == []


# Arguments of root list fields that are not filters, with why each one is not.
NON_FILTER_ARGUMENTS = {
    ("transactions", "customerId"): "the required scope: one customer's transactions",
    ("customerHistory", "customerId"): "the required scope: one customer's history",
    ("consents", "customerId"): "the required scope: one customer's consents",
    ("surveyResponses", "customerId"): "the required scope: one customer's responses",
    ("staffEvaluations", "customerId"): "the required scope: one customer's evaluations",
    ("customersDueForReverification", "asOf"): (
        "the day 'due' is reckoned at (default today): it defines the list, not a filter of it"
    ),
    ("complaintStatistics", "by"): "the dimension the statistics are grouped by",
    ("teams", "branchId"): "the required scope: one branch's teams (yours by default)",
}
LIST_ARGUMENTS = {"where", "orderBy", "first", "after", "last", "before"}
FILTER_OPERATORS = {"eq", "in", "gte", "lte", "contains", "startsWith"}


def test_root_lists_filter_only_with_a_typed_where() -> None:
    """Every root list or connection filters through ``where:`` (compiled by the one filter
    compiler), never through loose boolean or list arguments."""
    schema = build_schema()._schema
    assert schema.query_type is not None
    problems = []
    for name, field in schema.query_type.fields.items():
        type_ = get_nullable_type(field.type)
        is_connection = isinstance(type_, GraphQLObjectType) and "edges" in type_.fields
        if not (is_connection or isinstance(type_, GraphQLList)):
            continue
        for argument, value in field.args.items():
            if argument == "where":
                where_type = get_named_type(value.type)
                if not where_type.name.endswith("Where"):
                    problems.append(f"{name}(where:) is {where_type.name}, not a *Where input")
            elif argument not in LIST_ARGUMENTS and (name, argument) not in NON_FILTER_ARGUMENTS:
                problems.append(f"{name}({argument}:) filters outside `where`")
    assert problems == []
    stale = [
        key
        for key in NON_FILTER_ARGUMENTS
        if key[0] not in schema.query_type.fields
        or key[1] not in schema.query_type.fields[key[0]].args
    ]
    assert stale == []


def test_every_where_input_is_made_of_operator_filters_and_and_or() -> None:
    schema = build_schema()._schema
    wheres = [
        t
        for t in schema.type_map.values()
        if isinstance(t, GraphQLInputObjectType) and t.name.endswith("Where")
    ]
    assert len(wheres) >= 10  # the walk finds them
    problems = []
    for where in wheres:
        for name, field in where.fields.items():
            type_ = get_nullable_type(field.type)
            if name in {"and", "or"}:
                if not (isinstance(type_, GraphQLList) and get_named_type(type_) is where):
                    problems.append(f"{where.name}.{name}: not a list of {where.name}")
                continue
            if isinstance(type_, GraphQLInputObjectType) and type_.name.endswith("Where"):
                continue  # a related object's filters (`segment: SegmentWhere`), walked itself
            if not isinstance(type_, GraphQLInputObjectType) or not type_.name.endswith("Filter"):
                problems.append(f"{where.name}.{name}: {field.type} is not a *Filter input")
                continue
            unknown = set(type_.fields) - FILTER_OPERATORS
            if unknown:
                problems.append(f"{where.name}.{name}: {type_.name} has {sorted(unknown)}")
    assert problems == []


# Output fields naming a closed set of values (a status, kind, role…) are enums; these stay
# strings, for the reason given.
CLOSED_SET_NAMES = {"status", "kind", "state", "role", "roles", "channel", "effect"}
STRING_EXCEPTIONS = {
    "AuditEntry.roles": (
        "a hash-chained historical record: the roles as written then, readable even after a "
        "role is renamed or removed"
    ),
    "PolicyRule.role": (
        "the rule's tokens as written in policy.csv, sent back verbatim by removePolicyRule; "
        "the policy checker validates them (UNKNOWN_ROLE)"
    ),
    "PolicyRule.effect": (
        "casbin's own `allow`/`deny` token as written in policy.csv, sent back verbatim by "
        "removePolicyRule; the policy checker validates it (INVALID_EFFECT)"
    ),
}


def _last_word(name: str) -> str:
    return re.split(r"(?=[A-Z])", name)[-1].lower()


def test_statuses_kinds_and_roles_are_enums() -> None:
    schema = build_schema()._schema
    problems = []
    for type_ in schema.type_map.values():
        if not isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            continue
        if type_.name.startswith("__"):
            continue
        for name, field in type_.fields.items():
            key = f"{type_.name}.{name}"
            if _last_word(name) not in CLOSED_SET_NAMES or key in STRING_EXCEPTIONS:
                continue
            named = get_named_type(field.type)
            if isinstance(named, GraphQLScalarType) and named.name == "String":
                problems.append(key)
    assert problems == []
    assert all(
        k.split(".")[0] in schema.type_map
        and k.split(".")[1] in schema.type_map[k.split(".")[0]].fields  # type: ignore[union-attr]
        for k in STRING_EXCEPTIONS
    )


def test_every_mutation_payload_has_typed_user_errors() -> None:
    """``errors: [<Domain>UserError!]!`` with ``field``, a ``<Domain>ErrorCode`` and ``message``."""
    schema = build_schema()._schema
    assert schema.mutation_type is not None
    problems = []
    for name, field in schema.mutation_type.fields.items():
        payload = get_named_type(field.type)
        assert isinstance(payload, GraphQLObjectType)
        errors = payload.fields.get("errors")
        if errors is None:
            problems.append(f"{name}: {payload.name} has no errors")
            continue
        t = errors.type
        if not (
            isinstance(t, GraphQLNonNull)
            and isinstance(t.of_type, GraphQLList)
            and isinstance(t.of_type.of_type, GraphQLNonNull)
        ):
            problems.append(f"{name}: errors is {t}, not [X!]!")
            continue
        error = get_named_type(t)
        if not isinstance(error, GraphQLObjectType) or not error.name.endswith("UserError"):
            problems.append(f"{name}: {error} is not a *UserError")
            continue
        fields = error.fields
        code = fields.get("code")
        if (
            "field" not in fields
            or str(fields["field"].type) != "[String!]"
            or "message" not in fields
            or str(fields["message"].type) != "String!"
            or code is None
            or not isinstance(code.type, GraphQLNonNull)
            or not isinstance(code.type.of_type, GraphQLEnumType)
            or not code.type.of_type.name.endswith("ErrorCode")
        ):
            problems.append(f"{name}: {error.name} is not {{field, code: *ErrorCode!, message}}")
    assert problems == []


def test_migrations_match_the_models(backend: Backend) -> None:
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrading_a_database_with_data_works(cli_env: dict[str, str]) -> None:
    """Migrations run on a populated database, not only an empty one (batch copies on SQLite)."""
    from sqlalchemy import func, select

    from kehu.seed import ensure_reference_data
    from store import migrate
    from store.db import make_engine
    from store.models import Customer, Staff

    engine = make_engine(cli_env["KEHU_DATABASE_URL"])
    migrate.upgrade(engine, "0002")
    # Rows written with the columns that exist at 0002 (staff had no third_party_id yet).
    with engine.begin() as connection:
        branch = connection.exec_driver_sql(
            "INSERT INTO branches (code, name, city) VALUES ('BJ', '北京分行', '北京市') RETURNING id"
        ).scalar()
        staff = connection.exec_driver_sql(
            "INSERT INTO staff (employee_no, name, branch_id, roles, active, created_at) "
            f"VALUES ('RM9', '张三', {branch}, '[\"RELATIONSHIP_MANAGER\"]', true, "
            "'2026-01-01 00:00:00') RETURNING id"
        ).scalar()
        connection.exec_driver_sql(
            "INSERT INTO customers (version, name, gender, birth_date, id_number, "
            "id_number_hash, branch_id, relationship_manager_id, created_at, updated_at) VALUES "
            f"(1, '李四', 'MALE', '1990-01-01', 'x', 'h', {branch}, {staff}, "
            "'2026-01-01 00:00:00', '2026-01-01 00:00:00')"
        )
    migrate.upgrade(engine)
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(Customer)) == 1
        assert (
            connection.scalar(select(Staff.third_party_id).where(Staff.employee_no == "RM9"))
            is None
        )
    ensure_reference_data(engine)  # the demo data goes onto the upgraded schema
    engine.dispose()


def breaking_changes(released: Any, current: Any) -> list[str]:
    """Breaking changes from ``released`` to ``current``, except removals deprecated before."""
    problems = []
    for change in find_breaking_changes(released, current):
        if change.type in (
            BreakingChangeType.FIELD_REMOVED,
            BreakingChangeType.VALUE_REMOVED_FROM_ENUM,
        ):
            found = re.search(r"(\w+)\.(\w+) was removed", change.description)
            type_name, member = found.groups() if found else ("", "")
            old = released.type_map.get(type_name)
            entries = getattr(old, "fields", None) or getattr(old, "values", None) or {}
            if getattr(entries.get(member), "deprecation_reason", None):
                continue
        problems.append(f"{change.type.name}: {change.description}")
    return problems


def test_no_breaking_change_against_the_released_schema_without_deprecation() -> None:
    """PLAT-1: what frontends of the last release use stays, unless it was @deprecated first.

    Removing a field or an enum value is allowed once the released schema marked it deprecated;
    any other breaking change fails until a new release is recorded (`kehu export-schema
    --release`, which writes schema/released.graphql).
    """
    released = graphql_build_schema(RELEASED_SCHEMA_FILE.read_text())
    assert breaking_changes(released, build_schema()._schema) == []


def test_the_breaking_change_check_refuses_an_undeprecated_removal() -> None:
    released = graphql_build_schema(
        'type Query { customer: String @deprecated(reason: "use node")\n name: String\n id: ID }'
    )
    current = graphql_build_schema("type Query { id: ID }")
    assert breaking_changes(released, current) == ["FIELD_REMOVED: Field Query.name was removed."]
