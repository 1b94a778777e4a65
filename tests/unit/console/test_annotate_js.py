"""annotate.js: remote pixels drawn where the technician pointed (inverse of display.js), stroke ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

ROUND_TRIP = """
const { mapToRemote } = await mod("display.js");
const { remoteToClient } = await mod("annotate.js");
const out = [];
for (const c of data) {
  const p = remoteToClient(c.x, c.y, c.box, c.video, c.screen);
  const back = mapToRemote(p.x, p.y, c.box, c.video, c.screen);
  out.push([back.x, back.y, p.scale]);
}
return out;
"""


def test_a_remote_point_is_drawn_where_a_click_would_map_back_to_it(run_js: RunJs) -> None:
    cases = []
    for box, video, screen in (
        ({"left": 10, "top": 20, "width": 960, "height": 540}, (1920, 1080), (1920, 1080)),
        ({"left": 0, "top": 0, "width": 800, "height": 800}, (1280, 720), (1280, 720)),  # bars above/below
        ({"left": 5, "top": 5, "width": 1000, "height": 400}, (960, 540), (1920, 1080)),  # scaled stream
    ):
        for x, y in ((0, 0), (123, 456), (screen[0] - 1, screen[1] - 1)):
            cases.append(
                {
                    "x": x,
                    "y": y,
                    "box": box,
                    "video": {"width": video[0], "height": video[1]},
                    "screen": {"width": screen[0], "height": screen[1]},
                }
            )
    got = run_js(ROUND_TRIP, cases)
    for case, (x, y, scale) in zip(cases, got, strict=True):
        assert (x, y) == (case["x"], case["y"])
        assert scale > 0
    assert got[0][2] == 0.5


def test_stroke_ids_are_unique_and_valid_for_the_protocol(run_js: RunJs) -> None:
    ids = run_js(
        """
const { newStrokeId } = await mod("annotate.js");
return Array.from({ length: 500 }, () => newStrokeId());
"""
    )
    assert len(set(ids)) == 500
    assert all(0 < len(i) <= 40 and i.replace("_", "").replace("-", "").isalnum() for i in ids)
