"""Draw report values: terminal tables, CSV, and one self-contained HTML page.

The numbers are computed once in :mod:`sla.readmodels.reports`; here they are only formatted.
The HTML page needs nothing but itself: styles are inline, charts are inline SVG, there is no script
and no external font, CDN or image, so it can be mailed to a supervisor or archived as is.
"""

from __future__ import annotations

import csv
import html
from collections.abc import Sequence
from datetime import datetime
from typing import TextIO

from rich.console import Console
from rich.table import Table as RichTable

from sla.readmodels.reports import Cell, ColumnFormat, Report, Table
from slawatch.report_locale import period_words

__all__ = ["format_cell", "render_report", "render_table", "report_csv", "report_html"]


def format_cell(value: Cell, kind: ColumnFormat) -> str:
    """A cell as text: counts with thousands separators, fractions as percentages.

    >>> format_cell(0.9512, "pct"), format_cell(-0.02, "delta_pct"), format_cell(3, "delta_int")
    ('95.1%', '-2.0 pp', '+3')
    """
    if value is None:
        return "-"
    if kind == "pct" and isinstance(value, int | float):
        return f"{value:.1%}"
    if kind == "delta_pct" and isinstance(value, int | float):
        return f"{value * 100:+.1f} pp"
    if kind == "delta_int" and isinstance(value, int | float):
        return f"{value:+,}"
    if kind == "int" and isinstance(value, int | float):
        return f"{value:,}"
    return str(value)


def _period(report: Report, locale: str = "en") -> str:
    def day(value: datetime | None) -> str:
        return "…" if value is None else f"{value:%Y-%m-%d %H:%M %Z}".strip()

    everything, to = period_words(locale)
    if report.start is None and report.end is None:
        return everything
    return f"{day(report.start)} {to} {day(report.end)}"


def render_table(console: Console, table: Table) -> None:
    """Print one table to a terminal."""
    rich = RichTable(title=table.title, title_justify="left", caption=table.note or None)
    for name, kind in zip(table.columns, table.formats, strict=True):
        rich.add_column(name, justify="left" if kind == "text" else "right")
    for row in table.rows:
        cells = [format_cell(v, k) for v, k in zip(row, table.formats, strict=True)]
        rich.add_row(*cells)
    console.print(rich)


def render_report(console: Console, report: Report, locale: str = "en") -> None:
    """Print a whole report: title, period, tables, notes."""
    console.print(f"[bold]{report.title}[/bold] ({_period(report, locale)})")
    for table in report.tables:
        render_table(console, table)
    for note in report.notes:
        console.print(note)


#: The UTF-8 byte-order mark: without it Excel reads a CSV file in the system's code page and
#: Chinese text turns to mojibake; with it Excel (and LibreOffice) read UTF-8.
BOM = "\ufeff"


def report_csv(report: Report, out: TextIO, locale: str = "en") -> None:
    """Write the report as CSV for Excel: a byte-order mark, the title and period, then per
    table a title line, the header, the rows and a blank line.

    Values stay raw (fractions as fractions) so a spreadsheet can compute with them. Write
    ``out`` as UTF-8 (not ``utf-8-sig``: the mark is written here).
    """
    out.write(BOM)
    writer = csv.writer(out)
    writer.writerow([f"# {report.title}", _period(report, locale)])
    writer.writerow([])
    for table in report.tables:
        writer.writerow([f"# {table.title}"])
        writer.writerow(table.columns)
        for row in table.rows:
            writer.writerow(
                ["" if v is None else (round(v, 6) if isinstance(v, float) else v) for v in row]
            )
        writer.writerow([])


_STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem;color:#222}
body{max-width:72rem}
h1{font-size:1.5rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem}
.period{color:#666;margin-top:0}
table{border-collapse:collapse;margin:.5rem 0;font-size:.9rem}
th,td{border-bottom:1px solid #ddd;padding:.25rem .6rem}th{background:#f4f4f4;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#666;font-size:.85rem}
svg text{font-size:11px;fill:#333}
"""


def report_html(report: Report, locale: str = "en") -> str:
    """The report as one self-contained HTML page with inline SVG bar charts."""
    parts = [
        "<!DOCTYPE html>",
        f'<html lang="{html.escape(locale)}"><head><meta charset="utf-8">',
        f"<title>{html.escape(report.title)}</title>",
        f"<style>{_STYLE}</style></head><body>",
        f"<h1>{html.escape(report.title)}</h1>",
        f'<p class="period">{html.escape(_period(report, locale))}</p>',
    ]
    for table in report.tables:
        parts.append(f"<h2>{html.escape(table.title)}</h2>")
        if table.chart is not None and table.rows:
            parts.append(_bar_chart(table))
        parts.append(_html_table(table))
        if table.note:
            parts.append(f'<p class="note">{html.escape(table.note)}</p>')
    parts.extend(f'<p class="note">{html.escape(note)}</p>' for note in report.notes)
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _html_table(table: Table) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in table.columns)
    rows = []
    for row in table.rows:
        cells = []
        for value, kind in zip(row, table.formats, strict=True):
            klass = "" if kind == "text" else ' class="num"'
            cells.append(f"<td{klass}>{html.escape(format_cell(value, kind))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


_BAR_HEIGHT = 18
_LABEL_WIDTH = 220
_PLOT_WIDTH = 420
_MAX_BARS = 30


def _number(value: Cell) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _bar_chart(table: Table) -> str:
    """A horizontal bar chart: one bar per row (at most 30), target marks where given."""
    chart = table.chart
    assert chart is not None
    kind = table.formats[chart.value_column]
    rows: Sequence[tuple[Cell, ...]] = table.rows[:_MAX_BARS]
    values = [_number(row[chart.value_column]) for row in rows]
    scale = 1.0 if kind == "pct" else max((v for v in values if v is not None), default=0.0)
    scale = scale or 1.0
    height = _BAR_HEIGHT * len(rows) + 10
    width = _LABEL_WIDTH + _PLOT_WIDTH + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'role="img" aria-label="{html.escape(table.title)}">'
    ]
    for i, (row, value) in enumerate(zip(rows, values, strict=True)):
        y = i * _BAR_HEIGHT + 4
        label = html.escape(str(row[chart.label_column]))[:40]
        out.append(f'<text x="{_LABEL_WIDTH - 6}" y="{y + 12}" text-anchor="end">{label}</text>')
        length = 0.0 if value is None else max(value, 0.0) / scale * _PLOT_WIDTH
        out.append(
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{length:.1f}" height="{_BAR_HEIGHT - 5}" '
            'fill="#4a7bb7"/>'
        )
        text = html.escape(format_cell(row[chart.value_column], kind))
        out.append(f'<text x="{_LABEL_WIDTH + length + 4:.1f}" y="{y + 12}">{text}</text>')
        if chart.target_column is not None:
            target = _number(row[chart.target_column])
            if target is not None:
                x = _LABEL_WIDTH + target / scale * _PLOT_WIDTH
                out.append(
                    f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{y - 2}" y2="{y + _BAR_HEIGHT - 3}" '
                    'stroke="#c0392b" stroke-width="2"><title>target</title></line>'
                )
    out.append("</svg>")
    return "".join(out)
