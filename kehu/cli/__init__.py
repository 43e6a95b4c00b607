"""The ``kehu`` command: serve, migrate, seed, token, schema, keys, backup and restore,
classify, assess, bonus and report.

Every command is registered here, in the order ``kehu --help`` lists them; each lives in the
module of its subject.
"""

from __future__ import annotations

import typer

from kehu.cli import api, audit, authz, care, database, keys, kpis, processes, scorecards, segments

app = typer.Typer(
    help="Kehu 客户 — customer management service.",
    no_args_is_help=True,
    add_completion=False,
)

app.command()(api.serve)
app.command()(database.migrate)
app.command()(database.seed)
app.command()(keys.token)
app.command("export-schema")(api.export_schema)
app.command("new-key")(keys.new_key)
app.command("rotate-keys")(keys.rotate_keys)
app.command()(database.backup)
app.command()(database.restore)
app.add_typer(authz.app, name="authz")
app.command()(processes.deploy)
app.command()(processes.worker)
app.command()(segments.classify)
app.command()(scorecards.assess)
app.command()(scorecards.bonus)
app.add_typer(audit.app, name="audit")
app.add_typer(care.app, name="care")
app.command()(kpis.report)
