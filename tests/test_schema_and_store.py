"""The committed SDL is current (PLAT-1); migrations match the models on every backend."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from kehu.cli import SCHEMA_FILE
from schema.schema import build_schema
from store.models import Base
from tests.conftest import Backend


def test_schema_graphql_is_current() -> None:
    committed = SCHEMA_FILE.read_text()
    assert committed == build_schema().as_str() + "\n", (
        "schema/schema.graphql is stale: run `kehu export-schema` and commit it"
    )


def test_every_enum_value_has_a_bilingual_description() -> None:
    schema = build_schema()._schema
    for type_ in schema.type_map.values():
        if type_.name.startswith("__") or not hasattr(type_, "values"):
            continue
        for name, value in type_.values.items():  # type: ignore[attr-defined]
            if type_.name in {"SortDirection", "CustomerOrderField"}:
                continue
            assert value.description, f"{type_.name}.{name} has no description"
            assert any("\u4e00" <= ch <= "\u9fff" for ch in value.description), (
                f"{type_.name}.{name} has no Chinese label"
            )


def test_migrations_match_the_models(backend: Backend) -> None:
    with backend.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
