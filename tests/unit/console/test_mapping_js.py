"""display.js mapping from a pointer to remote screen pixels (letterbox, scale), and wheel notches."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

MAP = """
const { mapToRemote } = await mod("display.js");
return data.map((c) => mapToRemote(c.x, c.y, c.box, c.video, c.screen, c.clamp || false));
"""


def case(
    x: float,
    y: float,
    box: tuple[float, float, float, float],
    video: tuple[int, int],
    screen: tuple[int, int],
    clamp: bool = False,
) -> dict[str, Any]:
    return {
        "x": x,
        "y": y,
        "box": dict(zip(("left", "top", "width", "height"), box, strict=True)),
        "video": {"width": video[0], "height": video[1]},
        "screen": {"width": screen[0], "height": screen[1]},
        "clamp": clamp,
    }


def test_exact_fit_maps_corners_and_centre(run_js: RunJs) -> None:
    box = (10.0, 20.0, 960.0, 540.0)  # 1920x1080 shown at half size, no bars
    got = run_js(
        MAP,
        [
            case(10, 20, box, (1920, 1080), (1920, 1080)),
            case(10 + 480, 20 + 270, box, (1920, 1080), (1920, 1080)),
            case(10 + 960, 20 + 540, box, (1920, 1080), (1920, 1080)),
            case(10 + 959.9, 20 + 539.9, box, (1920, 1080), (1920, 1080)),
        ],
    )
    assert got == [{"x": 0, "y": 0}, {"x": 960, "y": 540}, {"x": 1919, "y": 1079}, {"x": 1919, "y": 1079}]


def test_pillarbox_bars_are_ignored_and_picture_is_offset(run_js: RunJs) -> None:
    # 16:9 video in a 1000x450 box: shown 800x450, bars of 100 px left and right.
    box = (0.0, 0.0, 1000.0, 450.0)
    got = run_js(
        MAP,
        [
            case(50, 200, box, (1600, 900), (1600, 900)),  # left bar
            case(950, 200, box, (1600, 900), (1600, 900)),  # right bar
            case(100, 0, box, (1600, 900), (1600, 900)),  # picture's top-left corner
            case(500, 225, box, (1600, 900), (1600, 900)),  # centre
            case(899, 449, box, (1600, 900), (1600, 900)),
        ],
    )
    assert got == [None, None, {"x": 0, "y": 0}, {"x": 800, "y": 450}, {"x": 1598, "y": 898}]


def test_letterbox_top_and_bottom(run_js: RunJs) -> None:
    # 16:9 video in an 800x600 box: shown 800x450, bars of 75 px above and below.
    box = (0.0, 0.0, 800.0, 600.0)
    got = run_js(
        MAP,
        [
            case(400, 30, box, (1280, 720), (1280, 720)),
            case(400, 580, box, (1280, 720), (1280, 720)),
            case(400, 75, box, (1280, 720), (1280, 720)),
            case(400, 300, box, (1280, 720), (1280, 720)),
        ],
    )
    assert got == [None, None, {"x": 640, "y": 0}, {"x": 640, "y": 360}]


def test_scaled_stream_maps_to_announced_screen_pixels(run_js: RunJs) -> None:
    # The agent streams 1280x720 of a 2560x1440 screen; clicks must land in screen pixels.
    box = (0.0, 0.0, 640.0, 360.0)
    got = run_js(
        MAP,
        [
            case(320, 180, box, (1280, 720), (2560, 1440)),
            case(639, 359, box, (1280, 720), (2560, 1440)),
            case(1, 1, box, (1280, 720), (2560, 1440)),
        ],
    )
    assert got == [{"x": 1280, "y": 720}, {"x": 2556, "y": 1436}, {"x": 4, "y": 4}]


def test_outside_is_clamped_only_when_asked_and_nothing_before_a_frame(run_js: RunJs) -> None:
    box = (0.0, 0.0, 1000.0, 450.0)
    got = run_js(
        MAP,
        [
            case(20, -40, box, (1600, 900), (1600, 900), clamp=True),
            case(2000, 600, box, (1600, 900), (1600, 900), clamp=True),
            case(500, 225, box, (0, 0), (1600, 900)),
            case(500, 225, (0.0, 0.0, 0.0, 0.0), (1600, 900), (1600, 900)),
        ],
    )
    assert got == [{"x": 0, "y": 0}, {"x": 1599, "y": 899}, None, None]


def test_wheel_notches_from_mouse_and_touchpad(run_js: RunJs) -> None:
    got = run_js(
        """
        const { wheelNotches } = await mod("mouse.js");
        const one = (d, m) => wheelNotches(0, d, m).notches;
        let carry = 0, total = 0;
        for (let i = 0; i < 25; i++) {
          const r = wheelNotches(carry, 12, 0);
          carry = r.carried;
          total += r.notches;
        }
        const reversed = wheelNotches(0.4, -10, 0);
        return {
          mouse: [one(100, 0), one(-100, 0), one(120, 0), one(60, 0), one(-53, 0), one(300, 0), one(0, 0)],
          lines: [one(3, 1), one(-3, 1), one(9, 1)],
          page: one(1, 2),
          capped: one(100000, 0),
          touchpad: total,
          reversed: reversed.notches, reversedCarry: reversed.carried,
        };
        """,
    )
    assert got["mouse"] == [1, -1, 1, 1, -1, 3, 0]
    assert got["lines"] == [1, -1, 3]
    assert got["page"] == 1
    assert got["capped"] == 10
    assert got["touchpad"] == 3  # 25 x 12 px = 300 px = 3 notches
    assert got["reversed"] == 0 and got["reversedCarry"] == 0
