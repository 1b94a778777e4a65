"""overlay/geometry.py: the rectangles that cut an overlay window to a stroke's pixels."""

from __future__ import annotations

import math

import pytest

from veo.agent.overlay.geometry import (
    MAX_RECTS,
    Rect,
    arrow_head_length,
    bounds,
    rect_outline,
    ring_rects,
    segment_rects,
    stroke_rects,
)


def covered(rects: list[Rect], x: int, y: int) -> bool:
    return any(r.contains(x, y) for r in rects)


def area(rects: list[Rect]) -> int:
    return len({(x, y) for r in rects for x in range(r.x, r.x + r.width) for y in range(r.y, r.y + r.height)})


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((10, 10), (200, 10)),
        ((10, 10), (10, 200)),
        ((10, 10), (200, 130)),
        ((200, 10), (30, 190)),
        ((5, 5), (5, 5)),
    ],
)
@pytest.mark.parametrize("width", [1, 4, 9])
def test_a_segment_covers_every_point_of_its_centre_line_and_stays_near_it(
    a: tuple[int, int], b: tuple[int, int], width: int
) -> None:
    rects = segment_rects(a, b, width)
    steps = max(abs(b[0] - a[0]), abs(b[1] - a[1]), 1)
    for i in range(steps + 1):
        x = a[0] + round((b[0] - a[0]) * i / steps)
        y = a[1] + round((b[1] - a[1]) * i / steps)
        slack = (-1, 0, 1) if width == 1 else (0,)  # rounding of exact halves may differ by one
        assert any(covered(rects, x + dx, y + dy) for dx in slack for dy in slack), (x, y)
    length = math.hypot(b[0] - a[0], b[1] - a[1])
    for r in rects:  # every rectangle's corners lie within the pen's reach of the segment
        for cx, cy in ((r.x, r.y), (r.x + r.width - 1, r.y + r.height - 1)):
            if length == 0:
                distance = math.hypot(cx - a[0], cy - a[1])
            else:
                distance = abs((b[0] - a[0]) * (a[1] - cy) - (a[0] - cx) * (b[1] - a[1])) / length
            assert distance <= width + 1.5
    assert len(rects) <= min(abs(b[0] - a[0]), abs(b[1] - a[1])) + 1


def test_a_thick_horizontal_line_is_one_rectangle() -> None:
    assert segment_rects((10, 50), (110, 50), 6) == [Rect(7, 47, 106, 6)]


def test_a_rectangle_is_its_outline_with_a_hole() -> None:
    rects = rect_outline((100, 100), (300, 200), 4)
    assert len(rects) == 4
    for x, y in ((100, 100), (300, 200), (200, 100), (200, 200), (100, 150), (300, 150)):
        assert covered(rects, x, y)
    assert not covered(rects, 200, 150)  # clicks and pixels inside stay the application's
    assert not covered(rects, 110, 110)
    assert bounds(rects) == Rect(98, 98, 204, 104)
    assert area(rects) == 204 * 104 - 196 * 96


def test_the_arrow_has_a_head_at_the_end_point() -> None:
    width = 4
    line = segment_rects((100, 100), (300, 100), width)
    arrow = stroke_rects("arrow", [(100, 100), (200, 150), (300, 100)], width)
    head = arrow_head_length(width)
    # the head reaches back and out from the tip, beyond the line's own thickness
    assert covered(arrow, 300 - head // 2, 100 + 6) and not covered(line, 300 - head // 2, 100 + 6)
    assert covered(arrow, 300 - head // 2, 100 - 6)
    assert not covered(arrow, 300 - head // 2, 100 + head)  # but no further than its half angle
    assert not covered(arrow, 200, 150)  # an arrow goes straight from first to last point
    assert covered(arrow, 299, 100)


def test_a_free_line_follows_its_points_and_is_bounded() -> None:
    points = [(x, 100 + (x % 40)) for x in range(0, 400, 10)]
    rects = stroke_rects("free", points, 3)
    for x, y in points:
        assert covered(rects, x, y)
    zigzag = [(0 if i % 2 else 1000, i) for i in range(2000)]
    huge = stroke_rects("laser", zigzag, 32)
    assert 0 < len(huge) <= MAX_RECTS


def test_one_point_is_a_dot_and_no_points_nothing() -> None:
    assert stroke_rects("free", [(50, 60)], 5) == [Rect(48, 58, 5, 5)]
    assert stroke_rects("arrow", [(50, 60)], 5) == [Rect(48, 58, 5, 5)]
    assert stroke_rects("free", [], 5) == []


def test_the_pointer_ring_is_hollow() -> None:
    rects = ring_rects(12, 4)
    assert covered(rects, 12, 1) and covered(rects, 1, 12) and covered(rects, 22, 12)
    assert not covered(rects, 12, 12)
    assert not covered(rects, 0, 0)
    assert bounds(rects).width <= 24 and bounds(rects).height <= 24


def reference_line(a: tuple[int, int], b: tuple[int, int]) -> set[tuple[int, int]]:
    """Pixel by pixel along the major axis, rounding halves up: what the runs must reproduce."""
    (x0, y0), (x1, y1) = a, b
    steps = max(abs(x1 - x0), abs(y1 - y0))
    if steps == 0:
        return {a}
    out = set()
    for i in range(steps + 1):
        t = i / steps
        out.add((x0 + math.floor((x1 - x0) * t + 0.5), y0 + math.floor((y1 - y0) * t + 0.5)))
    return out


@pytest.mark.parametrize(
    "b", [(37, 11), (11, 37), (-37, 11), (37, -11), (-11, -37), (40, 40), (40, -40), (0, 9)]
)
def test_thin_lines_are_exactly_the_pixels_of_the_line(b: tuple[int, int]) -> None:
    a = (100, 100)
    end = (a[0] + b[0], a[1] + b[1])
    pixels = {
        (x, y)
        for r in segment_rects(a, end, 1)
        for x in range(r.x, r.x + r.width)
        for y in range(r.y, r.y + r.height)
    }
    assert pixels == reference_line(a, end)


def test_a_flood_of_long_zigzags_stays_within_the_budget() -> None:
    zigzag = [(0, 0) if i % 2 else (1900, 1070) for i in range(2000)]
    rects = stroke_rects("free", zigzag, 32)
    assert 0 < len(rects) <= MAX_RECTS
