"""Small inline SVG charts for the report: no script, no font, no colour-only encoding.

Each chart is an `<svg role="img">` labelled by its own `<title>` and `<desc>` (the desc states
the numbers in words), every mark carries its value as text beside it or in a `<title>`, and
the report prints the same numbers in a table next to the chart: the chart is a picture of the
table, never the only place a figure lives. Shapes, positions and labels carry the meaning;
colour only repeats it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

from markupsafe import Markup

_FONT = "font-family:system-ui,sans-serif"


def percent(value: float | None, digits: int = 0) -> str:
    """A rate as a percentage for people; `n/a` when nothing was due."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{100 * value:.{digits}f}%"


def _missing(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def bar_chart(chart_id: str, title: str, bars: Sequence[tuple[str, float | None]],
              description: str = "", missing: str = "nothing due") -> Markup:
    """Horizontal bars of rates in [0, 1], one per (label, rate), the percentage printed at each
    bar; `missing` where a rate has nothing to measure."""
    # Labels are right-aligned against the bars: leave room for the longest (~7 px a character).
    label_width = 12 + 7 * max((len(label) for label, _ in bars), default=10)
    bar_width, row, top = 300, 26, 8
    width, height = label_width + bar_width + 60, top + row * len(bars) + 24
    words = "; ".join(f"{label}: {percent(value, 1)}" for label, value in bars)
    parts = [
        f'<svg id="{chart_id}" class="chart" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" style="{_FONT}">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description + " " if description else "")}{escape(words)}.</desc>',
    ]
    axis_y = top + row * len(bars)
    for tick in (0, 0.25, 0.5, 0.75, 1.0):  # gridlines at quarters, labelled below the axis
        x = label_width + tick * bar_width
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{axis_y}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{axis_y + 15}" text-anchor="middle" class="tick">'
                     f'{int(tick * 100)}%</text>')
    for i, (label, value) in enumerate(bars):
        y = top + i * row
        parts.append(f'<text x="{label_width - 8}" y="{y + 17}" text-anchor="end" class="label">'
                     f'{escape(label)}</text>')
        if _missing(value):
            parts.append(f'<text x="{label_width + 4}" y="{y + 17}" class="value">{escape(missing)}</text>')
            continue
        length = max(0.0, min(1.0, float(value))) * bar_width
        parts.append(f'<rect x="{label_width}" y="{y + 4}" width="{length:.1f}" height="{row - 8}" '
                     f'class="bar"><title>{escape(label)}: {percent(value, 1)}</title></rect>')
        parts.append(f'<text x="{label_width + length + 5:.1f}" y="{y + 17}" class="value">'
                     f'{percent(value, 1)}</text>')
    parts.append(f'<line x1="{label_width}" y1="{top}" x2="{label_width}" y2="{axis_y}" class="axis"/>')
    parts.append("</svg>")
    return Markup("".join(parts))


def line_chart(chart_id: str, title: str, months: Sequence[str], values: Sequence[float | None],
               description: str = "") -> Markup:
    """A small trend line of monthly rates in [0, 1]: circles at each month, gaps where nothing was
    due, the first and last values printed, and every point's value in its own `<title>`."""
    width, height, left, right, top, bottom = 340, 160, 38, 28, 20, 34
    inner_w, inner_h = width - left - right, height - top - bottom
    step = inner_w / max(1, len(months) - 1)

    def x(i: int) -> float:
        return left + i * step

    def y(value: float) -> float:
        return top + (1 - max(0.0, min(1.0, value))) * inner_h

    shown = [(i, float(v)) for i, v in enumerate(values) if not _missing(v)]
    if shown:
        words = "; ".join(f"{months[i]}: {percent(v, 1)}" for i, v in shown)
    else:
        words = "nothing was due in these months"
    parts = [
        f'<svg id="{chart_id}" class="chart trend" role="img" aria-labelledby="{chart_id}-t {chart_id}-d" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" style="{_FONT}">',
        f'<title id="{chart_id}-t">{escape(title)}</title>',
        f'<desc id="{chart_id}-d">{escape(description + " " if description else "")}{escape(words)}.</desc>',
    ]
    for tick in (0.0, 0.5, 1.0):
        parts.append(f'<line x1="{left}" y1="{y(tick):.1f}" x2="{width - right}" y2="{y(tick):.1f}" class="grid"/>')
        parts.append(f'<text x="{left - 4}" y="{y(tick) + 4:.1f}" text-anchor="end" class="tick">'
                     f'{int(tick * 100)}%</text>')
    for i, month in enumerate(months):
        if i in (0, len(months) - 1) or i % 3 == 0:
            parts.append(f'<text x="{x(i):.1f}" y="{height - bottom + 16}" text-anchor="middle" '
                         f'class="tick">{escape(month)}</text>')
    # Consecutive months with a value are joined; a month with nothing due breaks the line.
    runs: list[list[tuple[int, float]]] = []
    for i, v in shown:
        if runs and runs[-1][-1][0] == i - 1:
            runs[-1].append((i, v))
        else:
            runs.append([(i, v)])
    for run in runs:
        if len(run) > 1:
            points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
            parts.append(f'<polyline points="{points}" class="line"/>')
    for i, v in shown:
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3.5" class="point">'
                     f'<title>{escape(months[i])}: {percent(v, 1)}</title></circle>')
    for i, v in (shown[:1] + shown[-1:]) if len(shown) > 1 else shown:
        parts.append(f'<text x="{x(i):.1f}" y="{y(v) - 7:.1f}" text-anchor="middle" class="value">'
                     f'{percent(v)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))
