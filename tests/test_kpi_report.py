"""``kehu report`` (KPI-1): the KPIs as one HTML file, opened in headless Chromium.

A small fixed data set (``kehu seed`` with a fixed random seed, at a fixed instant, then a
reclassification half a year later so that tiers migrate) in its own database; the report is
rendered as head office and as a marketing analyst, opened in Debian's ``chromium`` through
playwright, and checked the way a person would: the charts drew (no console errors, no
request leaves the file, every chart has its SVG and data points, the screenshot is not blank),
suppressed cells show as suppressed and carry no value, and bad input is a readable error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient
from typer.testing import CliRunner

from core import clock
from core.settings import Settings
from kehu.app import create_app
from kehu.cli import app
from store.db import make_engine
from tests.conftest import Backend, command_env, scratch_database
from tests.test_segments import SNAPSHOT, SOURCE

CHROMIUM = Path("/usr/bin/chromium")
# What the brief for this machine allows: no playwright browser downloads, no network.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SEEDED_AT = datetime(2026, 5, 20, 4, 0, tzinfo=UTC)
# Assets recorded (through the API), then a classification run: tiers migrate in November.
RECORDED_AT = datetime(2026, 11, 10, 4, 0, tzinfo=UTC)
CLASSIFIED_AT = datetime(2026, 11, 12, 4, 0, tzinfo=UTC)
REPORTED_AT = datetime(2026, 11, 20, 4, 0, tzinfo=UTC)
CUSTOMERS = "{ customers(first: 16) { edges { node { id } } } }"
INDICATORS = 18
runner = CliRunner()


@dataclass
class Fixed:
    env: dict[str, str]
    tmp: Path
    api: Backend

    def report(self, *args: str, at: datetime = REPORTED_AT) -> tuple[int, str]:
        with clock.travel_to(at):
            result = runner.invoke(app, ["report", *args], env=self.env)
        return result.exit_code, result.output


def _record_aum(api: Backend, customer_id: str, aum: str) -> None:
    values = {
        "customerId": customer_id,
        "asOf": clock.today().isoformat(),
        "annualIncome": "1",
        "totalAssets": aum,
        "totalLiabilities": "0",
        "assetsUnderManagement": aum,
        "source": SOURCE,
    }
    payload = api.gql(SNAPSHOT, {"input": values})["recordFinancialSnapshot"]
    assert payload["errors"] == [], payload


def _run(env: dict[str, str], *args: str) -> str:
    result = runner.invoke(app, list(args), env=env)
    assert result.exit_code == 0, result.output
    return result.output


@pytest.fixture(scope="module")
def fixed(backend: Backend, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fixed]:
    tmp = tmp_path_factory.mktemp("report")
    with (
        scratch_database(backend.settings.database_url, "report", tmp) as url,
        command_env(backend, tmp, url) as env,
    ):
        with clock.travel_to(SEEDED_AT):
            _run(env, "migrate")
            _run(env, "seed", "--customers", "60", "--complaints", "0", "--random-seed", "14")
        settings = Settings.from_env(env)
        engine = make_engine(url, hide_parameters=True)
        with TestClient(create_app(settings, engine)) as client:
            api = Backend(backend.name, settings, engine, client)
            with clock.travel_to(RECORDED_AT, all_threads=True):
                edges = api.gql(CUSTOMERS)["customers"]["edges"]
                for i, edge in enumerate(edges):
                    _record_aum(api, edge["node"]["id"], "900000" if i % 2 else "1000")
            with clock.travel_to(CLASSIFIED_AT):
                _run(env, "classify")
                # Complaints at every stage of their process, in the reported quarter.
                _run(env, "seed", "--customers", "0", "--complaints", "12")
            yield Fixed(env, tmp, api)
        engine.dispose()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        pytest.fail(
            "the report must be drawn: /usr/bin/chromium is missing (`make test` installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        found = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield found
        found.close()


@dataclass
class Opened:
    page: Any
    console: list[str]
    requests: list[str]
    failed: list[str]
    screenshot: Path


def _open(browser: Any, path: Path) -> Opened:
    context = browser.new_context(viewport={"width": 1200, "height": 900}, offline=True)
    page = context.new_page()
    console: list[str] = []
    requests: list[str] = []
    failed: list[str] = []
    page.on(
        "console",
        lambda m: console.append(f"{m.type}: {m.text}") if m.type in ("error", "warning") else None,
    )
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    page.on("request", lambda r: requests.append(r.url))
    page.on("requestfailed", lambda r: failed.append(r.url))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_function("document.querySelectorAll('figure.chart .main-svg').length > 0")
    page.wait_for_timeout(300)
    shot = path.with_suffix(".png")
    page.screenshot(path=str(shot), full_page=True)
    return Opened(page, console, requests, failed, shot)


CHARTS = """() => Array.from(document.querySelectorAll('figure.chart')).map(f => {
  const gd = f.querySelector('.js-plotly-plot');
  const visible = (gd && gd.data || []).filter(t => t.visible !== false);
  return {
    chart: f.dataset.chart, indicator: f.dataset.indicator,
    svg: f.querySelectorAll('svg.main-svg').length,
    points: f.querySelectorAll('.point').length,
    values: visible.map(t => Array.from(t.orientation === 'h' ? t.x : (t.type === 'funnel' ? t.x : t.y))),
    custom: visible.map(t => Array.from(t.customdata || [])),
    notes: ((gd && gd.layout.annotations) || []).map(a => a.text),
  };
})"""


def _distinct_colours(path: Path) -> tuple[int, float]:
    from PIL import Image

    with Image.open(path) as image:
        rgb = image.convert("RGB")
        colours = rgb.getcolors(maxcolors=1 << 24) or []
        width, height = rgb.size
    white = sum(n for n, c in colours if c == (255, 255, 255))
    return len(colours), 1 - white / (width * height)


def _static_loads(html: str) -> list[str]:
    """URLs the markup itself would load (tags and styles), the inlined plotly.js left out:
    its source mentions map-tile servers it never contacts for these charts."""
    markup = re.sub(r"<script[^>]*>.*?</script>", "", html, flags=re.S)
    return re.findall(
        r"""(?:src|href)\s*=\s*["']?(https?:[^"' >]+)|url\(\s*["']?(https?:[^)"']+)""", markup
    )


def test_KPI_1_the_report_draws_offline_in_chromium(fixed: Fixed, browser: Any) -> None:
    """Head office, the bank, a running quarter: a trend chart per indicator, the branches compared, tier
    migration and the complaint funnel drew, with data points, nothing loaded from outside."""
    out = fixed.tmp / "bank.html"
    code, output = fixed.report("--period", "2026-Q4", "--as", "HO0001", "--out", str(out))
    assert code == 0, output
    assert (
        f"Report 2026-Q4 for 全行 ({INDICATORS} indicators, 9 units compared) as HO0001" in output
    )
    html = out.read_text(encoding="utf-8")
    assert _static_loads(html) == []
    assert "default-src 'none'" in html  # the page forbids itself any load from outside
    opened = _open(browser, out)
    assert opened.console == []
    assert opened.failed == []
    assert opened.requests == [out.as_uri()]
    charts = opened.page.evaluate(CHARTS)
    kinds = [c["chart"] for c in charts]
    assert kinds == ["trend"] * INDICATORS + ["comparison", "tiers", "funnel"]
    assert all(c["svg"] >= 1 for c in charts)
    for chart in charts:
        drawn = sum(v is not None for values in chart["values"] for v in values)
        assert chart["points"] == drawn, chart
    # Every chart has data points but the two survey charts and the two of the assessment: no
    # survey was answered, no member of staff rated, no spot check completed, so every window
    # says "no data" instead of drawing a zero.
    empty = {c["indicator"] for c in charts if c["points"] == 0}
    assert empty == {
        "SATISFACTION_SCORE",
        "REFERRAL_RATE",
        "STAFF_RATING",
        "SPOT_CHECK_PASS_RATE",
    }
    for chart in charts:
        if chart["indicator"] in empty:
            assert chart["notes"] == ["无数据 (no data)"] * 5
    tiers = next(c for c in charts if c["chart"] == "tiers")
    assert any(v and v < 0 for v in tiers["values"][1])  # some tiers went down
    funnel = next(c for c in charts if c["chart"] == "funnel")
    assert len(funnel["values"][0]) == 5 and funnel["values"][0][0] > 0
    # Labels in Chinese with English in brackets, the definition under each chart.
    captions = opened.page.locator("figure.chart[data-chart=trend] figcaption")
    assert captions.count() == INDICATORS
    assert "投诉率（每千名客户） (Complaint rate)" in captions.nth(1).inner_text()
    assert "定义 (definition): Complaints per 1,000 customers" in captions.nth(1).inner_text()
    assert "NaN" not in _drawn_text(opened)
    colours, ink = _distinct_colours(opened.screenshot)
    assert colours > 50 and ink > 0.03, (colours, ink)
    assert ("HO0001", "READ", ["HEAD_OFFICE"]) in _audited(fixed)


AUDITED = """{ auditLog(where: {operation: {eq: "kpis (kehu report)"}}, first: 50) {
  edges { node { actor action roles customerIds fields { field effect } } } } }"""


def _audited(fixed: Fixed) -> list[tuple[str, str, list[str]]]:
    """The report entries of the audit log, as an auditor reads them through the API."""
    edges = fixed.api.gql(AUDITED, staff="AUD0001")["auditLog"]["edges"]
    for edge in edges:
        assert edge["node"]["customerIds"] == []  # aggregates: no customer concerned
        assert edge["node"]["fields"] == [{"field": "Query.kpis", "effect": "FULL"}]
    return [(e["node"]["actor"], e["node"]["action"], e["node"]["roles"]) for e in edges]


def test_KPI_1_a_marketing_analyst_sees_suppressed_cells_as_suppressed(
    fixed: Fixed, browser: Any
) -> None:
    """Aggregates only: branch cells of fewer than 10 customers (60 customers in 9 branches)
    show 已抑制 in the table and as gaps in the charts, and the page holds no value of them."""
    out = fixed.tmp / "analyst.html"
    code, output = fixed.report("--period", "2026-Q4", "--as", "MKT0001", "--out", str(out))
    assert code == 0, output
    opened = _open(browser, out)
    assert opened.console == [] and opened.failed == []
    assert "仅汇总数据：客户数少于 10 的单元格已抑制" in opened.page.inner_text("body")
    charts = opened.page.evaluate(CHARTS)
    comparison = next(c for c in charts if c["chart"] == "comparison")
    table = opened.page.evaluate(
        """() => Array.from(document.querySelectorAll('#children tr')).slice(1).map(r =>
             Array.from(r.querySelectorAll('td')).slice(1).map(td => td.className))"""
    )
    # Every bar of every indicator (the menu shows one at a time), in the table's column order.
    traces = opened.page.evaluate(
        """() => document.querySelector('#comparison').data.map(t =>
             ({name: t.name, x: Array.from(t.x), custom: Array.from(t.customdata)}))"""
    )
    assert [t["name"] for t in traces] == [c["indicator"] for c in charts[:INDICATORS]]
    withheld = [(r, c) for r, row in enumerate(table) for c, cls in enumerate(row) if cls]
    assert len(withheld) > 9, "branches of fewer than 10 customers must be suppressed"
    for row, column in withheld:
        assert traces[column]["x"][row] is None
        assert traces[column]["custom"][row] == ["—", "—", "—", "—"]
    shown_column = [t["name"] for t in traces].index(comparison["indicator"])
    hidden_there = sum(1 for _, column in withheld if column == shown_column)
    assert comparison["notes"].count("已抑制 (suppressed)") == hidden_there
    assert ("MKT0001", "READ", ["MARKETING_ANALYST"]) in _audited(fixed)
    cells = opened.page.locator("#children td.suppressed")
    assert cells.count() == len(withheld)
    assert set(cells.all_inner_texts()) == {"已抑制 (suppressed)"}


@pytest.mark.parametrize(
    ("args", "exit_code", "says"),
    [
        (["--period", "2027-Q1"], 2, "period.label: FUTURE_PERIOD"),
        (["--period", "2026-Q5"], 2, "period.label: INVALID"),
        (["--period", "2026-02-30..2026-03-01"], 2, "period: INVALID"),
        (["--period", "2026-Q3", "--scope", "branch:XX99"], 2, "scope: UNKNOWN_SCOPE"),
        (["--period", "2026-Q3", "--scope", "galaxy"], 2, "scope: INVALID"),
        (["--period", "2026-Q3", "--as", "NOBODY9"], 2, "as: UNKNOWN_STAFF"),
        (["--period", "2026-Q3", "--as", "RM0001"], 3, "FORBIDDEN"),
        (["--period", "2026-Q3", "--as", "SUP0001", "--scope", "branch:SH01"], 3, "FORBIDDEN"),
        (["--period", "2026-Q3", "--out", "/nonexistent/report.html"], 2, "out: INVALID"),
    ],
)
def test_KPI_1_bad_report_input_is_a_readable_error(
    fixed: Fixed, args: list[str], exit_code: int, says: str
) -> None:
    """Typed, readable errors naming the option, exit code ≠ 0, no traceback, no file."""
    out = fixed.tmp / "refused.html"
    full = [*args] if "--out" in args else [*args, "--out", str(out)]
    if "--as" not in full:
        full += ["--as", "HO0001"]
    code, output = fixed.report(*full)
    assert code == exit_code, output
    assert says in output
    assert "Traceback" not in output
    assert "XX99" not in output and "NOBODY9" not in output  # the value is not repeated
    assert not out.exists()
    assert all(actor != "RM0001" for actor, _, _ in _audited(fixed))  # refused: not audited


KPIS = """query($period: KpiPeriodInput!, $scope: KpiScopeInput) {
  kpis(period: $period, scope: $scope, drillDown: true) {
    scope { values { indicator current { numerator denominator customers suppressed } } }
    children { label }
  }
}"""


def test_KPI_1_a_supervisors_report_holds_what_the_kpis_query_answers_them(
    fixed: Fixed, browser: Any
) -> None:
    """A branch supervisor's own branch: every indicator's numerator, denominator and customers
    in the report are those the ``kpis`` query answers the supervisor over HTTP; the branch's
    teams are compared (none yet: its customers' managers are in no team)."""
    out = fixed.tmp / "branch.html"
    code, output = fixed.report(
        "--period", "2026-10", "--as", "SUP0001", "--scope", "branch:BJ01", "--out", str(out)
    )
    assert code == 0, output
    assert (
        f"Report 2026-10 for 北京分行 ({INDICATORS} indicators, 1 units compared) as SUP0001"
        in output
    )
    branch = fixed.api.gql("{ me { branch { id } } }", staff="SUP0001")["me"]["branch"]["id"]
    with clock.travel_to(REPORTED_AT, all_threads=True):
        answer = fixed.api.gql(
            KPIS,
            {"period": {"label": "2026-10"}, "scope": {"level": "BRANCH", "id": branch}},
            staff="SUP0001",
        )["kpis"]
    opened = _open(browser, out)
    assert opened.console == [] and opened.failed == []
    charts = opened.page.evaluate(CHARTS)
    assert [c["chart"] for c in charts][INDICATORS:] == ["comparison", "tiers", "funnel"]
    last_points = {c["indicator"]: c["custom"][0][-1] for c in charts[:INDICATORS]}

    def plain(value: str | None) -> str:
        return "—" if value is None else f"{Decimal(value):,}"

    for value in answer["scope"]["values"]:
        figure = value["current"]
        assert not figure["suppressed"]
        assert last_points[value["indicator"]][1:] == [
            plain(figure["numerator"]),
            plain(figure["denominator"]),
            f"{figure['customers']:,}",
        ], value["indicator"]
    assert [c["label"] for c in answer["children"]] == ["未分组"]
    assert "各团队对比 (teams compared)" in opened.page.inner_text("body")


def test_KPI_1_a_staff_members_report_over_a_date_range_has_nothing_to_compare(
    fixed: Fixed, browser: Any
) -> None:
    """A relationship manager's customers over Beijing dates: the range, the same days before
    it and a year before it are the series; no comparison chart (a staff member has no units
    below), every other chart drew."""
    out = fixed.tmp / "staff.html"
    code, output = fixed.report(
        "--period", "2026-08-01..2026-10-31", "--scope", "staff:BJ01RM01", "--as", "HO0001",
        "--out", str(out),
    )  # fmt: skip
    assert code == 0, output
    assert f"({INDICATORS} indicators, 0 units compared)" in output
    opened = _open(browser, out)
    assert opened.console == [] and opened.failed == []
    charts = opened.page.evaluate(CHARTS)
    assert [c["chart"] for c in charts] == ["trend"] * INDICATORS + ["tiers", "funnel"]
    new = next(c for c in charts if c["indicator"] == "NEW_CUSTOMERS")
    assert len(new["values"][0]) == 3 and new["points"] == 3
    assert "各员工对比" not in opened.page.inner_text("body")
    assert "NaN" not in _drawn_text(opened)


def _drawn_text(opened: Opened) -> str:
    """Every text the charts drew (axes, labels, funnel shares)."""
    return str(
        opened.page.evaluate(
            "() => Array.from(document.querySelectorAll('svg')).map(s => s.textContent).join(' ')"
        )
    )
