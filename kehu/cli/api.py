"""Serve the GraphQL API and export its schema."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, read_settings

SCHEMA_FILE = Path(__file__).resolve().parents[2] / "schema" / "schema.graphql"
# The SDL of the last release: frontends rely on it; removing from it needs a @deprecated period.
RELEASED_SCHEMA_FILE = SCHEMA_FILE.with_name("released.graphql")


def serve(
    host: Annotated[str | None, typer.Option(help="Default: KEHU_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="Default: KEHU_PORT")] = None,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql)."""
    import uvicorn

    from kehu.app import create_app

    settings = read_settings()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    application = create_app(settings, open_engine(settings))
    bind_host, bind_port = host or settings.host, port or settings.port
    console.print(f"Kehu serving GraphQL at http://{bind_host}:{bind_port}/graphql")
    uvicorn.run(application, host=bind_host, port=bind_port, log_level="info")


def export_schema(
    output: Annotated[Path, typer.Option(help="Where to write the SDL.")] = SCHEMA_FILE,
    check: Annotated[bool, typer.Option(help="Only check that the file is current.")] = False,
    release: Annotated[
        bool, typer.Option(help="Also record it as the released schema (schema/released.graphql).")
    ] = False,
) -> None:
    """Write the GraphQL schema (SDL) to schema/schema.graphql."""
    from schema.schema import build_schema

    sdl = build_schema().as_str() + "\n"
    if release:
        RELEASED_SCHEMA_FILE.write_text(sdl)
        console.print(f"Wrote {RELEASED_SCHEMA_FILE}")
    if check:
        current = output.read_text() if output.exists() else ""
        if current != sdl:
            console.print(f"[red]{output} is stale: run `kehu export-schema`[/red]")
            raise typer.Exit(1)
        console.print(f"{output} is current.")
        return
    output.write_text(sdl)
    console.print(f"Wrote {output}")
