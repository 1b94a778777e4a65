"""monitors.js: the agent's list is validated and labelled; display.js refuses a frame of another shape."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

RunJs = Callable[..., Any]  # the run_js fixture of conftest.py

PARSE = """
const { parseMonitors } = await mod("monitors.js");
return data.map((m) => parseMonitors(m));
"""


def test_list_is_validated_item_by_item(run_js: RunJs) -> None:
    good = {"id": "2", "name": "DP-1", "x": 1920, "y": 0, "width": 1920, "height": 1080, "primary": True}
    got = run_js(
        PARSE,
        [
            {"type": "monitors", "monitors": [good], "current": "2"},
            {
                "type": "monitors",
                "monitors": [
                    {**good, "id": "<script>"},  # not an id
                    {**good, "width": 0},  # empty
                    {**good, "x": "10"},  # not a number
                    None,
                    {**good, "id": "1", "x": 0, "primary": "yes", "name": 7},
                ],
                "current": "../../etc",
            },
            {"type": "monitors"},
            None,
        ],
    )
    assert got[0] == {"monitors": [good], "current": "2"}
    left = {"id": "1", "name": "", "x": 0, "y": 0, "width": 1920, "height": 1080, "primary": False}
    assert got[1] == {"monitors": [left], "current": "all"}
    assert got[2] is None and got[3] is None


def test_labels_name_size_position_and_primary(run_js: RunJs) -> None:
    got = run_js(
        """
        const { loadStrings } = await mod("i18n.js");
        const { monitorLabel } = await mod("monitors.js");
        const doc = { getElementById: () => ({ textContent: JSON.stringify(data.strings) }) };
        loadStrings(doc);
        return data.monitors.map(monitorLabel);
        """,
        {
            "strings": {
                "monitors.entry": "{id}: {width}×{height} at {x},{y}",
                "monitors.entry_primary": "{id}: {width}×{height} at {x},{y} (primary)",
            },
            "monitors": [
                {"id": "1", "x": 0, "y": 0, "width": 1920, "height": 1080, "primary": True},
                {"id": "2", "x": 1920, "y": 0, "width": 1280, "height": 1024, "primary": False},
            ],
        },
    )
    assert got == ["1: 1920×1080 at 0,0 (primary)", "2: 1280×1024 at 1920,0"]


def test_no_click_while_the_frame_is_still_of_the_previous_screen(run_js: RunJs) -> None:
    box = {"left": 0, "top": 0, "width": 960, "height": 540}
    desktop, monitor = {"width": 3840, "height": 1080}, {"width": 1920, "height": 1080}
    got = run_js(
        """
        const { mapToRemote } = await mod("display.js");
        return data.map((c) => mapToRemote(480, 270, c.box, c.video, c.screen, c.clamp, c.previous));
        """,
        [
            # the whole desktop still shows, but the agent already announced monitor 2
            {"box": box, "video": desktop, "screen": monitor, "clamp": False, "previous": desktop},
            # a release is still mapped (pulled into the screen), so no button stays down
            {"box": box, "video": desktop, "screen": monitor, "clamp": True, "previous": desktop},
            # the new frames arrived: mapped relative to the monitor
            {"box": box, "video": monitor, "screen": monitor, "clamp": False, "previous": desktop},
            # a stream scaled to another shape than the screen, with no switch, still maps
            {
                "box": box,
                "video": {"width": 640, "height": 480},
                "screen": monitor,
                "clamp": False,
                "previous": None,
            },
        ],
    )
    assert got[0] is None
    assert got[1] is not None
    assert got[2] == {"x": 960, "y": 540}
    assert got[3] is not None
