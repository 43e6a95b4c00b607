"""``kehu report``: the KPIs of a period and scope as one HTML file that opens offline."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from kehu.cli.shared import console, open_engine, read_settings


def report(
    period: Annotated[
        str,
        typer.Option(help="2026, 2026-Q3, 2026-10 or a range 2026-07-01..2026-09-30 (Beijing)."),
    ],
    as_staff: Annotated[
        str, typer.Option("--as", help="Employee number of the staff member the report is for.")
    ],
    out: Annotated[Path, typer.Option(help="The HTML file to write.")] = Path("report.html"),
    scope: Annotated[
        str, typer.Option(help="bank, branch:SH01, team:SH01/T1 or staff:RM0001.")
    ] = "bank",
) -> None:
    """Render the KPIs (KPI-1) with charts — trends, the scope's branches/teams/staff compared,
    tier migration, the complaint funnel — into one self-contained HTML file.

    The report shows what the staff member named by ``--as`` may see through the ``kpis``
    query (marketing analysts: aggregates, small cells suppressed) and is audited as their
    read. Bad input or a refusal: a message naming the option, exit 2 (input) or 3 (access).
    """
    from kehu.report.data import ReportRefused, fetch
    from kehu.report.page import render

    settings = read_settings()
    if not out.parent.is_dir():
        # Before the read: an audited report must be one that was written.
        console.print("[red]kehu report: out: INVALID — the folder does not exist[/red]")
        raise typer.Exit(2)
    try:
        data = fetch(settings, open_engine(settings), as_staff, period, scope)
    except ReportRefused as exc:
        console.print(f"[red]kehu report: {exc}[/red]", highlight=False)
        raise typer.Exit(exc.exit_code) from None
    page = render(data)
    try:
        out.write_text(page, encoding="utf-8")
    except OSError as exc:
        console.print(f"[red]kehu report: out: cannot write the file ({exc.strerror})[/red]")
        raise typer.Exit(2) from None
    children = len(data.kpis["children"])
    print(
        f"Report {data.kpis['label']} for {data.kpis['scope']['label']} "
        f"({len(data.kpis['scope']['values'])} indicators, {children} units compared) "
        f"as {data.viewer.employee_no}: {out} ({len(page.encode()) / 1e6:.1f} MB)."
    )
