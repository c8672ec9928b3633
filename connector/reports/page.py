"""The report page (`/reports/{name}`): the filters, the chart and the table, from a Jinja2
template in `templates/` (autoescaped; the chart is pygal's SVG, inlined)."""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from connector.reports.base import Filters, Report
from connector.reports.charts import chart_svg
from connector.reports.registry import REPORTS

TEMPLATES = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"),
                        autoescape=select_autoescape(["html"]))


def render_page(report: Report, filters: Filters) -> str:
    """The HTML page of one computed report."""
    svg = chart_svg(report)
    return TEMPLATES.get_template("report.html").render(
        report=report, filters=filters, reports=list(REPORTS), chart=Markup(svg) if svg else None)
