"""Small server-rendered SVG charts: horizontal bars, monthly columns and a share against a
target. Each is an accessible image (role="img" with <title> and <desc>); the page puts a
table with the same figures next to it. Colours come from the stylesheet (.chart-*)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape

WIDTH = 420
#: each bar row: its label on one line, the bar and its value under it
LABEL_HEIGHT = 18
BAR_HEIGHT = 16
ROW_HEIGHT = LABEL_HEIGHT + BAR_HEIGHT + 12
VALUE_WIDTH = 124
#: characters of a label that fit on its line at the chart's font size
MAX_LABEL = 52


@dataclass(frozen=True)
class Bar:
    label: str
    value: int
    #: the value as people read it ("Rp 1.250.000", "41,3%")
    display: str


def _short(text: str, limit: int = MAX_LABEL) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _open(chart_id: str, title: str, description: str, height: int) -> str:
    return (
        f'<svg class="chart" id="{escape(chart_id)}" role="img" '
        f'aria-labelledby="{escape(chart_id)}-title {escape(chart_id)}-desc" '
        f'viewBox="0 0 {WIDTH} {height}" width="100%" preserveAspectRatio="xMinYMin meet" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<title id="{escape(chart_id)}-title">{escape(title)}</title>'
        f'<desc id="{escape(chart_id)}-desc">{escape(description)}</desc>'
    )


def _scaled(value: int, top: int, length: int) -> int:
    """Integer length of a bar; a non-zero value is always at least one pixel."""
    if top <= 0 or value <= 0:
        return 0
    return max(1, value * length // top)


def bar_chart(
    chart_id: str,
    title: str,
    description: str,
    bars: list[Bar],
    *,
    top: int | None = None,
    target: tuple[int, str] | None = None,
) -> Markup:
    """Horizontal bars, each under its label; the longest value fills the width (or `top`).

    `target` draws a dashed vertical line at that value with its label (e.g. the 40% line).
    """
    offset = 20 if target else 0
    height = offset + max(len(bars), 1) * ROW_HEIGHT + 4
    top = top if top is not None else max([b.value for b in bars] + [0])
    length = WIDTH - VALUE_WIDTH
    parts = [_open(chart_id, title, description, height)]
    for index, bar in enumerate(bars):
        y = offset + index * ROW_HEIGHT
        bar_y = y + LABEL_HEIGHT + 2
        width = _scaled(bar.value, top, length)
        parts.append(
            f'<g class="chart-row"><title>{escape(bar.label)}: {escape(bar.display)}</title>'
            f'<text class="chart-label" x="0" y="{y + 14}">{escape(_short(bar.label))}</text>'
            f'<rect class="chart-track" x="0" y="{bar_y}" width="{length}" '
            f'height="{BAR_HEIGHT}" rx="3"/>'
            f'<rect class="chart-bar" x="0" y="{bar_y}" width="{width}" '
            f'height="{BAR_HEIGHT}" rx="3"/>'
            f'<text class="chart-value" x="{length + 8}" y="{bar_y + 13}">'
            f"{escape(bar.display)}</text></g>"
        )
    if target is not None and top > 0:
        value, label = target
        x = _scaled(value, top, length)
        parts.append(
            f'<line class="chart-target" x1="{x}" y1="14" x2="{x}" y2="{height - 2}"/>'
            f'<text class="chart-target-label" x="{x + 4}" y="11">{escape(label)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every value above is escaped)


def column_chart(chart_id: str, title: str, description: str, columns: list[Bar]) -> Markup:
    """Vertical columns (e.g. the twelve months), labelled underneath."""
    height, base, top_room = 200, 170, 16
    count = max(len(columns), 1)
    left = 4
    slot = (WIDTH - 2 * left) // count
    column_width = max(slot * 3 // 5, 4)
    top = max([c.value for c in columns] + [0])
    parts = [_open(chart_id, title, description, height)]
    parts.append(
        f'<line class="chart-axis" x1="{left}" y1="{base}" x2="{WIDTH - left}" y2="{base}"/>'
    )
    for index, column in enumerate(columns):
        x = left + index * slot + (slot - column_width) // 2
        bar_height = _scaled(column.value, top, base - top_room)
        centre = x + column_width // 2
        parts.append(
            f'<g class="chart-row"><title>{escape(column.label)}: {escape(column.display)}</title>'
            f'<rect class="chart-bar" x="{x}" y="{base - bar_height}" width="{column_width}" '
            f'height="{bar_height}" rx="2"/>'
            f'<text class="chart-label" x="{centre}" y="{base + 18}" text-anchor="middle">'
            f"{escape(_short(column.label, 4))}</text></g>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704  (every value above is escaped)
