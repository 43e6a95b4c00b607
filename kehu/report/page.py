"""One self-contained HTML file: plotly.js inlined once, every chart and table, no network.

The page forbids itself any load from outside (a Content-Security-Policy that allows only its
own inline scripts and styles and ``data:``/``blob:`` images), so a report opened on a bank
desktop without internet draws the same as anywhere, and a stray URL would fail loudly.
"""

from __future__ import annotations

import html
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import plotly.io as pio
from plotly.offline import get_plotlyjs

from kehu.report import charts
from kehu.report.data import ReportData

CSP = (
    "default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
    "style-src 'unsafe-inline'; img-src data: blob:; font-src data:"
)
CONFIG = {"displaylogo": False, "responsive": True, "modeBarButtonsToRemove": ["sendDataToCloud"]}
LEVELS = {
    "BANK": "全行 (bank)",
    "BRANCH": "支行 (branch)",
    "TEAM": "团队 (team)",
    "STAFF": "员工 (staff)",
}
CHILDREN = {
    "BANK": "各支行对比 (branches compared)",
    "BRANCH": "各团队对比 (teams compared)",
    "TEAM": "各员工对比 (staff compared)",
}
AREAS = {
    "SATISFACTION": "满意度 (Satisfaction)",
    "LOYALTY": "忠诚度 (Loyalty)",
    "GROWTH": "客户增长 (Growth)",
    "VALUE_UPLIFT": "价值提升 (Value uplift)",
    "COMPLAINTS": "投诉处理 (Complaints)",
    "CADENCE": "联系频次 (Contact cadence)",
    "ASSESSMENT": "评价与抽查 (Ratings and spot checks)",
}
REASONS = {
    "COMPLAINT": "投诉 (complaint)",
    "TIER_DOWN": "层级下降 (tier down)",
    "NOT_CONTACTED": "未联系 (not contacted)",
    "OTHER": "其他 (other)",
}
# The complaint funnel: (stage, indicator, measure of its current figure).
FUNNEL = (
    ("受理 (Received and accepted)", "COMPLAINT_COUNT", "numerator"),
    ("办结 (Decided)", "COMPLAINT_ON_TIME_RATE", "denominator"),
    ("按时办结 (Decided on time)", "COMPLAINT_ON_TIME_RATE", "numerator"),
    (
        "结案并回访评分 (Closed with a call-back score)",
        "COMPLAINT_HANDLING_SATISFACTION",
        "denominator",
    ),
    ("申请复核 (Review requested)", "COMPLAINT_REVIEWS", "numerator"),
)
STYLE = """
body { font-family: 'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif;
       margin: 0 auto; max-width: 1100px; padding: 24px; color: #212121; background: #fff; }
h1 { font-size: 24px; margin-bottom: 4px; } h2 { margin-top: 40px; border-bottom: 2px solid
#1565c0; padding-bottom: 4px; } h3 { margin: 24px 0 4px; font-size: 16px; }
.meta { color: #555; } .meta b { color: #212121; }
.notice { background: #fff8e1; border-left: 4px solid #ffb300; padding: 8px 12px; }
table { border-collapse: collapse; width: 100%; font-size: 13px; margin: 8px 0; }
th, td { border: 1px solid #e0e0e0; padding: 4px 8px; text-align: right; }
th:first-child, td:first-child { text-align: left; } th { background: #f5f5f5; }
td.suppressed { color: #757575; font-style: italic; background: #fafafa; }
figure.chart { margin: 0 0 24px; } figcaption { font-size: 12px; color: #555; }
.grid { display: grid; grid-template-columns: 1fr 1fr; gap: 0 24px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
@media print { .modebar { display: none !important; } }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _cell(kind: str, figure: dict[str, Any]) -> str:
    """A table cell: the value, its numerator/denominator as a tooltip, or why it is empty."""
    reason = charts.status(figure)
    if figure["suppressed"]:
        return f'<td class="suppressed">{_e(reason)}</td>'
    parts = [f"分子 (numerator) {figure['numerator']}"]
    if figure["denominator"] is not None:
        parts.append(f"分母 (denominator) {figure['denominator']}")
    text = charts.shown(kind, figure["value"]) if reason is None else reason
    return f'<td title="{_e("; ".join(parts))}">{_e(text)}</td>'


def _fraction(figure: dict[str, Any]) -> str:
    if figure["suppressed"]:
        return charts.SUPPRESSED
    if figure["denominator"] is None:
        return f"{Decimal(figure['numerator']):,}"
    return f"{Decimal(figure['numerator']):,} / {Decimal(figure['denominator']):,}"


def _change(kind: str, change: dict[str, Any]) -> str:
    if change["absolute"] is None:
        return "—"
    absolute = Decimal(change["absolute"])
    sign = "+" if absolute > 0 else ""
    if kind == "RATIO":  # a change of a rate is in percentage points
        text = f"{sign}{absolute * 100:.2f} 个百分点 (pp)"
    else:
        text = f"{sign}{charts.shown(kind, change['absolute'])}"
    if change["relative"] is not None:
        text += f" ({sign}{Decimal(change['relative']) * 100:.1f}%)"
    return text


def _instant(text: str) -> str:
    """An ISO instant as people read it: 2026-11-20 04:00 UTC."""
    return f"{datetime.fromisoformat(text).astimezone(UTC):%Y-%m-%d %H:%M} UTC"


def _chart(figure: Any, chart_id: str, kind: str, caption: str, indicator: str = "") -> str:
    div = pio.to_html(
        figure, include_plotlyjs=False, full_html=False, config=CONFIG, div_id=chart_id
    )
    return (
        f'<figure class="chart" data-chart="{_e(kind)}" data-indicator="{_e(indicator)}">'
        f"{div}<figcaption>{caption}</figcaption></figure>"
    )


def _definition(definition: dict[str, Any]) -> str:
    fraction = f"分子 (numerator) <code>{_e(definition['numerator'])}</code>"
    if definition["denominator"]:
        fraction += f"; 分母 (denominator) <code>{_e(definition['denominator'])}</code>"
    return f"<b>定义 (definition):</b> {_e(definition['definition'])} <br>{fraction}"


def _summary(values: list[dict[str, Any]]) -> str:
    rows = [
        "<tr><th>指标 (indicator)</th><th>本期 (this period)</th>"
        "<th>分子 / 分母 (numerator / denominator)</th><th>客户数 (customers)</th>"
        "<th>环比 (vs previous period)</th><th>同比 (vs same period last year)</th></tr>"
    ]
    for value in values:
        kind, current = value["kind"], value["current"]
        customers = current["customers"]
        rows.append(
            f"<tr><td>{_e(charts.label(value['indicator'], value['title']))}</td>"
            f"{_cell(kind, current)}<td>{_e(_fraction(current))}</td>"
            f"<td>{'—' if customers is None else f'{customers:,}'}</td>"
            f"<td>{_e(_change(kind, value['changeFromPrevious']))}</td>"
            f"<td>{_e(_change(kind, value['changeFromLastYear']))}</td></tr>"
        )
    return f'<table id="summary">{"".join(rows)}</table>'


def _children_table(
    children: list[dict[str, Any]], codes: list[str], titles: dict[str, str]
) -> str:
    head = "".join(f"<th>{_e(charts.label(c, titles[c]))}</th>" for c in codes)
    rows = [f"<tr><th>单元 (unit)</th>{head}</tr>"]
    for child in children:
        cells = []
        for code in codes:
            value = next(v for v in child["values"] if v["indicator"] == code)
            cells.append(_cell(value["kind"], value["current"]))
        rows.append(f"<tr><td>{_e(child['label'])}</td>{''.join(cells)}</tr>")
    return f'<div style="overflow-x:auto"><table id="children">{"".join(rows)}</table></div>'


def _reasons(value: dict[str, Any]) -> str:
    items = value["current"].get("breakdown") or []
    if not items:
        return ""
    cells = "".join(
        f'<td class="suppressed">{charts.SUPPRESSED}</td>'
        if item["customers"] is None
        else f"<td>{item['customers']:,}</td>"
        for item in items
    )
    head = "".join(f"<th>{_e(REASONS.get(item['key'], item['key']))}</th>" for item in items)
    return (
        f"<table><tr><th>流失原因 (reason)</th>{head}</tr><tr><td>客户数</td>{cells}</tr></table>"
    )


def render(report: ReportData) -> str:
    """The whole page."""
    kpis = report.kpis
    scope = kpis["scope"]
    values = scope["values"]
    by_code = {v["indicator"]: v for v in values}
    definitions = {d["code"]: d for d in kpis["definitions"]}
    titles = {code: v["title"] for code, v in by_code.items()}
    codes = list(by_code)
    viewer = report.viewer
    minimum = kpis["minimumCount"]
    notice = (
        f'<p class="notice">仅汇总数据：客户数少于 {minimum} 的单元格已抑制，并作互补抑制 '
        f"(aggregates only: cells of fewer than {minimum} customers are suppressed, with "
        "complementary suppression so that no total gives them back).</p>"
        if minimum is not None
        else ""
    )
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>客户管理考核报告 (KPI report) {_e(kpis['label'])} — {_e(scope['label'])}</title>",
        f"<style>{STYLE}</style>",
        f'<script type="text/javascript">{get_plotlyjs()}</script>',
        "</head><body>",
        "<h1>客户管理考核报告 (Customer management KPI report)</h1>",
        '<p class="meta">'
        f"期间 (period): <b>{_e(kpis['label'])}</b> ({_e(kpis['start'])} … {_e(kpis['end'])}, "
        f"北京时间 Beijing dates) · 范围 (scope): <b>{_e(scope['label'])}</b> "
        f"{_e(LEVELS.get(scope['level'], scope['level']))} · 数据截至 (as of): "
        f"{_e(_instant(kpis['asOf']))}<br>"
        f"查看人 (viewer): <b>{_e(viewer.employee_no)}</b> {_e(viewer.name)} "
        f"({_e(', '.join(viewer.roles))}) — 仅显示其有权查看的数据 (shows only what this "
        "person may see); 本次生成已记入审计日志 (this report is recorded in the audit log).</p>",
        notice,
        "<h2>概览 (Summary)</h2>",
        _summary(values),
        "<h2>趋势 (Trends)</h2>",
        "<p class=meta>每个指标的时间序列，最后一点为本期；悬停查看分子、分母与客户数 "
        "(each indicator's series, the period last; hover for numerator, denominator and "
        "customers).</p>",
    ]
    for area, area_title in AREAS.items():
        members = [v for v in values if definitions[v["indicator"]]["area"] == area]
        if not members:
            continue
        parts.append(f"<h3>{_e(area_title)}</h3><div class=grid>")
        for value in members:
            code = value["indicator"]
            caption = (
                f"<b>{_e(charts.label(code, value['title']))}</b><br>"
                + _definition(definitions[code])
                + (_reasons(value) if code == "LOST_CUSTOMERS" else "")
            )
            parts.append(_chart(charts.trend(value), f"trend-{code}", "trend", caption, code))
        parts.append("</div>")
    children = kpis["children"]
    if children:
        figure, first = charts.comparison(children, codes, titles)
        parts += [
            f"<h2>{_e(CHILDREN.get(scope['level'], '对比 (compared)'))}</h2>",
            _chart(
                figure,
                "comparison",
                "comparison",
                "本期各单元的指标值，菜单切换指标；下表为全部指标 (this period's value of each "
                "unit; the menu switches the indicator; the table below has them all).",
                codes[first],
            ),
            _children_table(children, codes, titles),
        ]
    if "TIER_UPGRADES" in by_code and "TIER_DOWNGRADES" in by_code:
        parts += [
            "<h2>价值层级迁移 (Tier migration)</h2>",
            _chart(
                charts.tiers(by_code["TIER_UPGRADES"], by_code["TIER_DOWNGRADES"]),
                "tiers",
                "tiers",
                _definition(definitions["TIER_UPGRADES"])
                + "<br>"
                + _definition(definitions["TIER_DOWNGRADES"]),
                "TIER_UPGRADES",
            ),
        ]
    if all(code in by_code for _, code, _ in FUNNEL):
        stages = [(name, by_code[code]["current"], measure) for name, code, measure in FUNNEL]
        hidden = [name for name, figure, _ in stages if figure["suppressed"]]
        caption = (
            "本期各环节的投诉件数：各环节分别按其自身时间点计入本期（受理时间、办结时间、结案时间、"
            "复核申请时间），并非同一批投诉的跟踪 (complaints of the period at each stage, each "
            "counted by its own instant — acceptance, decision, closing, review request — not "
            "one cohort followed through). 投诉登记即受理 (a complaint is received and accepted "
            "in one step)."
        )
        if hidden:
            caption += f"<br>{charts.SUPPRESSED}: {_e('、'.join(hidden))}"
        caption += "".join(
            f"<br>{_definition(definitions[code])}"
            for code in dict.fromkeys(code for _, code, _ in FUNNEL)
        )
        parts += [
            "<h2>投诉漏斗 (Complaint funnel)</h2>",
            _chart(charts.funnel(stages), "funnel", "funnel", caption, "COMPLAINT_COUNT"),
        ]
    parts.append("</body></html>")
    return "\n".join(parts)
