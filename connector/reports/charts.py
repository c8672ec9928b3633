"""A report's chart as inline SVG, rendered server-side by pygal (no JavaScript needed to show it)."""

from __future__ import annotations

from collections import defaultdict

import pygal
from pygal.style import CleanStyle

from connector.reports.base import Report

MAX_BARS = 30


def chart_svg(report: Report) -> str | None:
    """The SVG markup of the report's chart, None when it has no chart or no rows."""
    if report.chart is None or not report.rows:
        return None
    kind, label, value = report.chart
    totals: dict[str, float] = defaultdict(float)
    for row in report.rows:
        totals[str(row.get(label))] += float(row.get(value) or 0)
    chart = (pygal.Pie if kind == "pie" else pygal.Bar)(
        style=CleanStyle, width=800, height=360, show_legend=kind == "pie", x_label_rotation=30,
        disable_xml_declaration=True, js=[], title=f"{report.title}: {value.replace('_', ' ')}")
    items = list(totals.items())[:MAX_BARS]
    if kind == "pie":
        for name, amount in items:
            chart.add(name, amount)
    else:
        chart.x_labels = [name for name, _ in items]
        chart.add(value.replace("_", " "), [amount for _, amount in items])
    rendered: str = chart.render(is_unicode=True)
    return rendered
