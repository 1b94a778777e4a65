"""Strokes as sets of rectangles: the shape of a click-through overlay window.

Without a compositor (plain X11, Xvfb) a window cannot be transparent, so the overlay cuts its
windows to the exact pixels of a stroke with the SHAPE extension instead; the X server paints
them in the window's background colour. A shape is a list of rectangles, computed here without
any X connection so the geometry can be tested on its own.

Lines are rasterised as Bresenham runs (one rectangle per run of equal rows or columns, as thick
as the pen), so a long straight line costs few rectangles; the arrow head is a scan-filled
triangle the same size as the console draws it (``annotation-draw.js`` ``arrowHead``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

Point = tuple[int, int]

#: at most this many rectangles per stroke; longer free lines are drawn through fewer points
MAX_RECTS = 4000
ARROW_HALF_ANGLE = math.radians(28)


@dataclass(frozen=True)
class Rect:
    x: int
    y: int
    width: int
    height: int

    def contains(self, px: int, py: int) -> bool:
        return self.x <= px < self.x + self.width and self.y <= py < self.y + self.height


def arrow_head_length(width: int) -> int:
    """Same as the console's ``arrowHead(width).length``."""
    return 4 * width + 10


def segment_rects(a: Point, b: Point, width: int) -> list[Rect]:
    """A line ``width`` pixels thick from ``a`` to ``b`` (both ends included, square pen)."""
    width = max(1, width)
    half = width // 2
    (x0, y0), (x1, y1) = a, b
    dx, dy = x1 - x0, y1 - y0
    if dx == 0 and dy == 0:
        return [Rect(x0 - half, y0 - half, width, width)]
    steep = abs(dy) > abs(dx)
    if steep:  # walk along y instead, and swap back at the end
        x0, y0, x1, y1, dx, dy = y0, x0, y1, x1, dy, dx
    if dx < 0:
        x0, y0, x1, y1, dx, dy = x1, y1, x0, y0, -dx, -dy
    runs = _runs(x0, y0, dx, dy)
    rects = []
    for begin, end, minor in runs:
        if steep:
            rects.append(Rect(minor - half, begin - half, width, end - begin + width))
        else:
            rects.append(Rect(begin - half, minor - half, end - begin + width, width))
    return rects


def _runs(x0: int, y0: int, dx: int, dy: int) -> list[tuple[int, int, int]]:
    """Bresenham runs of a line with ``dx >= |dy|``, ``dx > 0``: (first, last, minor) per row.

    Row ``j`` holds the ``x`` whose ``round((x - x0) * |dy| / dx)`` (halves up) is ``j``; computed
    per row, not per pixel, so the cost is the number of rows whatever the length.
    """
    ady, sign = abs(dy), (1 if dy >= 0 else -1)
    if ady == 0:
        return [(x0, x0 + dx, y0)]
    runs = []
    for j in range(ady + 1):
        first = max(0, -((-(2 * j - 1) * dx) // (2 * ady)))  # ceil((2j - 1) dx / 2|dy|)
        last = min(dx, -((-(2 * j + 1) * dx) // (2 * ady)) - 1)
        if last >= first:
            runs.append((x0 + first, x0 + last, y0 + sign * j))
    return runs


def triangle_rects(p: tuple[float, float], q: tuple[float, float], r: tuple[float, float]) -> list[Rect]:
    """A filled triangle as one rectangle per pixel row (scanline fill at pixel centres)."""
    top = math.floor(min(p[1], q[1], r[1]))
    bottom = math.ceil(max(p[1], q[1], r[1]))
    edges = ((p, q), (q, r), (r, p))
    rects = []
    for row in range(top, bottom + 1):
        yc = row + 0.5
        xs = []
        for (ax, ay), (bx, by) in edges:
            if (ay <= yc < by) or (by <= yc < ay):
                xs.append(ax + (yc - ay) * (bx - ax) / (by - ay))
        if len(xs) >= 2:
            left, right = math.floor(min(xs)), math.ceil(max(xs))
            if right > left:
                rects.append(Rect(left, row, right - left, 1))
    return rects


def arrow_rects(a: Point, b: Point, width: int) -> list[Rect]:
    """A line from ``a`` to ``b`` with a filled head at ``b``."""
    rects = segment_rects(a, b, width)
    dx, dy = b[0] - a[0], b[1] - a[1]
    if dx == 0 and dy == 0:
        return rects
    angle = math.atan2(dy, dx)
    length = arrow_head_length(width)
    left = (
        b[0] - length * math.cos(angle - ARROW_HALF_ANGLE),
        b[1] - length * math.sin(angle - ARROW_HALF_ANGLE),
    )
    right = (
        b[0] - length * math.cos(angle + ARROW_HALF_ANGLE),
        b[1] - length * math.sin(angle + ARROW_HALF_ANGLE),
    )
    return rects + triangle_rects((float(b[0]), float(b[1])), left, right)


def rect_outline(a: Point, b: Point, width: int) -> list[Rect]:
    """The outline of the rectangle with corners ``a`` and ``b`` (the pen centred on the edges)."""
    width = max(1, width)
    half = width // 2
    left, right = min(a[0], b[0]), max(a[0], b[0])
    top, bottom = min(a[1], b[1]), max(a[1], b[1])
    outer_w, outer_h = right - left + width, bottom - top + width
    if right - left <= width or bottom - top <= width:  # too small to have a hole
        return [Rect(left - half, top - half, outer_w, outer_h)]
    return [
        Rect(left - half, top - half, outer_w, width),
        Rect(left - half, bottom - half, outer_w, width),
        Rect(left - half, top - half + width, width, outer_h - 2 * width),
        Rect(right - half, top - half + width, width, outer_h - 2 * width),
    ]


def polyline_rects(points: Sequence[Point], width: int) -> list[Rect]:
    """A free line through ``points``; thinned out (every other point) until under MAX_RECTS.

    The budget is checked while the rectangles are made, so a flood of long zigzags costs at
    most a few budgets' worth of work, never the product of points and lengths.
    """
    pts = [p for i, p in enumerate(points) if i == 0 or p != points[i - 1]]
    while True:
        if len(pts) == 1:
            return segment_rects(pts[0], pts[0], width)
        rects: list[Rect] = []
        for i in range(1, len(pts)):
            rects += segment_rects(pts[i - 1], pts[i], width)
            if len(rects) > MAX_RECTS:
                break
        if len(rects) <= MAX_RECTS or len(pts) <= 2:
            return rects[:MAX_RECTS]
        pts = pts[::2] + ([pts[-1]] if len(pts) % 2 == 0 else [])


def stroke_rects(tool: str, points: Sequence[Point], width: int) -> list[Rect]:
    """The shape of one stroke of the protocol (``arrow``, ``rect``, ``free``, ``laser``)."""
    if not points:
        return []
    if tool == "arrow":
        return arrow_rects(points[0], points[-1], width)
    if tool == "rect":
        return rect_outline(points[0], points[-1], width)
    return polyline_rects(points, width)


def ring_rects(radius: int, thickness: int) -> list[Rect]:
    """A ring centred in a ``2*radius`` square (the technician's pointer), one or two runs per row."""
    inner = radius - thickness
    rects = []
    for row in range(2 * radius):
        yc = row + 0.5 - radius
        if abs(yc) >= radius:
            continue
        outer_half = math.sqrt(radius * radius - yc * yc)
        left, right = round(radius - outer_half), round(radius + outer_half)
        if inner > 0 and abs(yc) < inner:
            inner_half = math.sqrt(inner * inner - yc * yc)
            il, ir = round(radius - inner_half), round(radius + inner_half)
            if il > left:
                rects.append(Rect(left, row, il - left, 1))
            if right > ir:
                rects.append(Rect(ir, row, right - ir, 1))
        elif right > left:
            rects.append(Rect(left, row, right - left, 1))
    return rects


def bounds(rects: Sequence[Rect]) -> Rect:
    """The smallest rectangle around all of ``rects`` (an empty one at 0,0 for none)."""
    if not rects:
        return Rect(0, 0, 0, 0)
    left = min(r.x for r in rects)
    top = min(r.y for r in rects)
    right = max(r.x + r.width for r in rects)
    bottom = max(r.y + r.height for r in rects)
    return Rect(left, top, right - left, bottom - top)
