"""Chart geometry for server-rendered SVG: bars, columns and sparklines, computed in Python.

The page draws charts as inline SVG (no script, so the strict CSP holds and a screen reader or a
printout gets them too). This module only does arithmetic: where each bar goes and what it
says; ``templates/reports/_charts.html`` turns that into elements, each bar with a ``<title>``
tooltip and its number printed next to it, so no figure exists only as a length.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

WIDTH = 640
LABEL_WIDTH = 170
VALUE_WIDTH = 70
ROW_HEIGHT = 24
BAR_HEIGHT = 16
COLUMN_CHART_HEIGHT = 200
AXIS_HEIGHT = 22
TOP_MARGIN = 18


@dataclass(frozen=True)
class Item:
    """One bar: its label, its value (None: no data, drawn empty) and that value as text."""

    label: str
    value: float | None
    text: str


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    label: str
    text: str
    #: where the label and the value text go
    label_x: float
    label_y: float
    text_x: float
    text_y: float
    show_label: bool = True


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    kind: str  # "bars" (horizontal) or "columns" (vertical)
    width: int
    height: int
    bars: list[Bar]
    baseline: float


def _scale(items: Sequence[Item]) -> float:
    top = max((i.value for i in items if i.value is not None), default=0.0)
    return top if top > 0 else 1.0


def bars(chart_id: str, title: str, items: Sequence[Item], *, value_width: int = VALUE_WIDTH) -> Chart:
    """Horizontal bars, one row per item: label on the left, value on the right of the bar.

    ``value_width`` is the room kept right of the longest bar for its printed value.
    """
    top = _scale(items)
    span = WIDTH - LABEL_WIDTH - value_width
    drawn: list[Bar] = []
    for row, item in enumerate(items):
        y = TOP_MARGIN / 2 + row * ROW_HEIGHT
        length = span * (item.value or 0.0) / top
        drawn.append(
            Bar(
                x=LABEL_WIDTH,
                y=y + (ROW_HEIGHT - BAR_HEIGHT) / 2,
                width=max(length, 1.0 if item.value else 0.0),
                height=BAR_HEIGHT,
                label=item.label,
                text=item.text,
                label_x=LABEL_WIDTH - 8,
                label_y=y + ROW_HEIGHT / 2 + 4,
                text_x=LABEL_WIDTH + length + 6,
                text_y=y + ROW_HEIGHT / 2 + 4,
            )
        )
    height = int(TOP_MARGIN + max(len(items), 1) * ROW_HEIGHT)
    return Chart(chart_id, title, "bars", WIDTH, height, drawn, baseline=LABEL_WIDTH)


def columns(chart_id: str, title: str, items: Sequence[Item], *, max_labels: int = 14) -> Chart:
    """Vertical columns in order (weeks, scores): label under each, value above it.

    With many columns only every n-th label is printed so they do not overlap; every column
    keeps its tooltip.
    """
    top = _scale(items)
    count = max(len(items), 1)
    slot = (WIDTH - 20) / count
    plot = COLUMN_CHART_HEIGHT - AXIS_HEIGHT - TOP_MARGIN
    baseline = COLUMN_CHART_HEIGHT - AXIS_HEIGHT
    every = max(1, -(-len(items) // max_labels))
    drawn: list[Bar] = []
    for index, item in enumerate(items):
        height = plot * (item.value or 0.0) / top
        x = 10 + index * slot + slot * 0.15
        drawn.append(
            Bar(
                x=x,
                y=baseline - height,
                width=slot * 0.7,
                height=max(height, 1.0 if item.value else 0.0),
                label=item.label,
                text=item.text,
                label_x=x + slot * 0.35,
                label_y=baseline + 15,
                text_x=x + slot * 0.35,
                text_y=baseline - height - 4,
                show_label=index % every == 0,
            )
        )
    return Chart(chart_id, title, "columns", WIDTH, COLUMN_CHART_HEIGHT, drawn, baseline=baseline)


def sparkline(values: Sequence[int], *, width: int = 160, height: int = 32) -> str:
    """SVG polyline points for a small trend line (counts per week)."""
    if not values:
        return ""
    top = max(max(values), 1)
    step = width / max(len(values) - 1, 1)
    return " ".join(f"{i * step:.1f},{height - 2 - (height - 4) * v / top:.1f}" for i, v in enumerate(values))
