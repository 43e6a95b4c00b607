"""The report's charts (plotly figures) from the ``kpis`` answer.

Suppressed and empty cells are drawn as gaps with a label (已抑制 suppressed, 无数据 no data)
over their place: their value, numerator, denominator and customer count are null in the
answer and stay null in the figure — nothing is drawn that the caller may not see.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

import plotly.graph_objects as go

SUPPRESSED = "已抑制 (suppressed)"
EMPTY = "无数据 (no data)"
COLOURS = {"up": "#2e7d32", "down": "#c62828", "bar": "#1565c0", "line": "#1565c0"}
LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "height": 300,
    "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
    "font": {"family": "'Noto Sans CJK SC', 'Microsoft YaHei', 'PingFang SC', sans-serif"},
    "hoverlabel": {"align": "left"},
    "showlegend": False,
}
# Counts and amounts as bars, rates and averages as lines.
BARS = {"COUNT", "AMOUNT"}
HOVER = (
    "<b>%{x}</b><br>值 (value): %{customdata[0]}<br>分子 (numerator): %{customdata[1]}"
    "<br>分母 (denominator): %{customdata[2]}<br>客户数 (customers): %{customdata[3]}"
    "<extra></extra>"
)


def english(code: str) -> str:
    """An indicator's English name from its code: COMPLAINT_RATE → Complaint rate."""
    return code.replace("_", " ").capitalize()


def label(code: str, title: str) -> str:
    """The Chinese title with the English in brackets."""
    return f"{title} ({english(code)})"


def number(text: str | None) -> float | None:
    return None if text is None else float(Decimal(text))


def shown(kind: str, text: str | None) -> str:
    """A value as staff read it: 8.33%, 12.50‰, 4.20, 1,234, ¥1,234.50."""
    if text is None:
        return "—"
    value = Decimal(text)
    if kind == "RATIO":
        return f"{value * 100:.2f}%"
    if kind == "PER_THOUSAND":
        return f"{value:,.2f}‰"
    if kind == "AMOUNT":
        return f"{'-' if value < 0 else ''}¥{abs(value):,.2f}"
    if kind == "COUNT":
        return f"{value:,.0f}"
    return f"{value:,.2f}"


def status(figure: dict[str, Any]) -> str | None:
    """Why a figure has no value: SUPPRESSED or EMPTY, or None."""
    if figure["suppressed"]:
        return SUPPRESSED
    if figure["value"] is None:
        return EMPTY
    return None


def _custom(kind: str, figure: dict[str, Any]) -> list[str]:
    def plain(text: str | None) -> str:
        return "—" if text is None else f"{Decimal(text):,}"

    customers = figure["customers"]
    return [
        shown(kind, figure["value"]),
        plain(figure["numerator"]),
        plain(figure["denominator"]),
        "—" if customers is None else f"{customers:,}",
    ]


def _gaps(fig: go.Figure, labels: Sequence[str], reasons: Sequence[str | None]) -> None:
    """A shaded band and a label over every window without a value (category positions)."""
    for i, (x, reason) in enumerate(zip(labels, reasons, strict=True)):
        if reason is None:
            continue
        fig.add_vrect(
            x0=i - 0.45, x1=i + 0.45, fillcolor="#9e9e9e", opacity=0.15, line_width=0, layer="below"
        )
        fig.add_annotation(
            x=x,
            y=0.5,
            yref="paper",
            text=reason,
            showarrow=False,
            textangle=-90,
            font={"size": 10, "color": "#616161"},
        )


def trend(value: dict[str, Any]) -> go.Figure:
    """The indicator over the series (oldest first, the period last)."""
    kind = value["kind"]
    series = value["series"]
    xs = [f["label"] for f in series]
    ys = [number(f["value"]) for f in series]
    custom = [_custom(kind, f) for f in series]
    if kind in BARS:
        trace: Any = go.Bar(x=xs, y=ys, customdata=custom, marker_color=COLOURS["bar"])
    else:
        trace = go.Scatter(
            x=xs,
            y=ys,
            customdata=custom,
            mode="lines+markers",
            connectgaps=False,
            line={"color": COLOURS["line"]},
            marker={"size": 8},
        )
    trace.hovertemplate = HOVER
    fig = go.Figure(trace, layout=LAYOUT)
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=xs)
    if kind == "RATIO":
        fig.update_yaxes(tickformat=".0%")
    _gaps(fig, xs, [status(f) for f in series])
    return fig


def comparison(children: list[dict[str, Any]], codes: list[str], titles: dict[str, str]) -> Any:
    """The children's values side by side, one indicator at a time (a menu switches)."""
    names = [c["label"] for c in children]
    fig = go.Figure(layout={**LAYOUT, "height": max(300, 60 + 34 * len(children))})
    buttons = []
    notes: list[list[dict[str, Any]]] = []
    first = _first_with_values(children, codes)
    for i, code in enumerate(codes):
        figures = [_value_of(c, code) for c in children]
        kind = figures[0]["kind"] if figures and figures[0] else "COUNT"
        currents = [f["current"] if f else None for f in figures]
        fig.add_trace(
            go.Bar(
                x=[number(f["value"]) if f else None for f in currents],
                y=names,
                orientation="h",
                customdata=[_custom(kind, f) if f else ["—"] * 4 for f in currents],
                hovertemplate=HOVER.replace("%{x}", "%{y}"),
                marker_color=COLOURS["bar"],
                visible=i == first,
                name=code,
            )
        )
        notes.append(
            [
                {
                    "x": 0,
                    "y": name,
                    "xref": "x",
                    "text": reason,
                    "showarrow": False,
                    "xanchor": "left",
                    "font": {"size": 11, "color": "#616161"},
                }
                for name, f in zip(names, currents, strict=True)
                if f is not None and (reason := status(f)) is not None
            ]
        )
        buttons.append(
            {
                "label": label(code, titles[code]),
                "method": "update",
                "args": [
                    {"visible": [j == i for j in range(len(codes))]},
                    {"annotations": notes[-1]},
                ],
            }
        )
    fig.update_layout(
        annotations=notes[first] if notes else [],
        updatemenus=[{"buttons": buttons, "active": first, "x": 0, "xanchor": "left", "y": 1.18}],
        margin={"l": 140, "r": 20, "t": 60, "b": 40},
    )
    fig.update_yaxes(autorange="reversed", type="category")
    return fig, first


def _value_of(unit: dict[str, Any], code: str) -> dict[str, Any] | None:
    return next((v for v in unit["values"] if v["indicator"] == code), None)


def _first_with_values(children: list[dict[str, Any]], codes: list[str]) -> int:
    """The indicator shown first: the one with the most units that have a value."""

    def shown(code: str) -> int:
        return sum(bool((v := _value_of(c, code)) and v["current"]["value"]) for c in children)

    return max(range(len(codes)), key=lambda i: (shown(codes[i]), -i)) if codes else 0


def tiers(up: dict[str, Any], down: dict[str, Any]) -> go.Figure:
    """Tier migrations per window: up above the axis, down below it."""
    xs = [f["label"] for f in up["series"]]
    fig = go.Figure(layout={**LAYOUT, "barmode": "relative", "showlegend": True})
    for value, name, sign, colour in (
        (up, "上迁 (Up)", 1, "up"),
        (down, "下迁 (Down)", -1, "down"),
    ):
        fig.add_bar(
            x=xs,
            y=[None if (n := number(f["value"])) is None else sign * n for f in value["series"]],
            name=name,
            marker_color=COLOURS[colour],
            customdata=[_custom("COUNT", f) for f in value["series"]],
            hovertemplate=HOVER,
        )
    fig.update_xaxes(type="category", categoryorder="array", categoryarray=xs)
    reasons = [status(a) or status(b) for a, b in zip(up["series"], down["series"], strict=True)]
    _gaps(fig, xs, reasons)
    return fig


def funnel(stages: list[tuple[str, dict[str, Any], str]]) -> go.Figure:
    """The complaint funnel of the period: (stage label, current figure, which measure)."""
    names = [name for name, _, _ in stages]
    values = []
    custom = []
    for _, figure, measure in stages:
        raw = None if figure["suppressed"] else figure[measure]
        values.append(number(raw))
        custom.append("—" if raw is None else f"{Decimal(raw):,.0f}")
    fig = go.Figure(
        go.Funnel(
            y=names,
            x=values,
            customdata=custom,
            # A share of nothing would read NaN%.
            textinfo="value+percent initial" if values and values[0] else "value",
            hovertemplate="<b>%{y}</b><br>件数 (complaints): %{customdata}<extra></extra>",
            marker={"color": ["#1565c0", "#1976d2", "#2e7d32", "#00897b", "#ef6c00"]},
        ),
        layout={**LAYOUT, "height": 340, "margin": {"l": 190, "r": 20, "t": 20, "b": 20}},
    )
    return fig
