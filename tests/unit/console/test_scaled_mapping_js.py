"""display.js mapToRemote with a video encoded smaller than the screen (issue 18 #1, the agent's
``view`` scaling): every point maps to the announced screen's pixels, exactly in proportion.

The agent rounds each dimension of the encoded size on its own (to even, and onto the grid of
patches: :func:`veo.agent.scaling.fit_size`), so the video's aspect differs from the
screen's by up to 1 %: the letterbox follows the video, the coordinates the screen, and the
monitor-switch guard (a video shaped like the previous screen) must not swallow the click.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from veo.agent.capture.base import Size
from veo.agent.scaling import fit_size
from veo.protocol.datachannel import View

RunJs = Callable[..., Any]

MAP = """
const { mapToRemote } = await mod("display.js");
const { box, video, screen, previous } = data;
return data.points.map(([x, y]) => mapToRemote(x, y, box, video, screen, false, previous));
"""


def test_a_scaled_video_maps_to_the_screens_pixels(run_js: RunJs) -> None:
    screen = Size(3840, 2160)
    view = View(width=1920, height=960)  # the console's video area, device pixels
    video = fit_size(screen, view)
    assert video == Size(1702, 958)  # nudged to where patches work: 16:9 within 1 % (0.07 %)
    box = {"left": 10.0, "top": 50.0, "width": 1920.0, "height": 960.0}
    shown = min(box["width"] / video.width, box["height"] / video.height)
    left = box["left"] + (box["width"] - video.width * shown) / 2
    top = box["top"] + (box["height"] - video.height * shown) / 2
    points = [(left + fx * video.width * shown, top + fy * video.height * shown) for fx, fy in
              [(0, 0), (0.5, 0.5), (0.25, 0.75), (0.999, 0.999), (1700 / 3840, 930 / 2160)]]  # fmt: skip
    got = run_js(
        MAP,
        {
            "points": points,
            "box": box,
            "video": {"width": video.width, "height": video.height},
            "screen": {"width": screen.width, "height": screen.height},
            "previous": {"width": 1920, "height": 1080},  # a 16:9 monitor shown before
        },
    )
    expected = [
        {
            "x": min(screen.width - 1, math.floor((x - left) / (video.width * shown) * screen.width)),
            "y": min(screen.height - 1, math.floor((y - top) / (video.height * shown) * screen.height)),
        }
        for x, y in points
    ]
    assert got == expected
    assert got[1] == {"x": 1920, "y": 1080} and got[0] == {"x": 0, "y": 0}
    # one device pixel of the shown video is ~2.3 screen pixels: a point keeps within one of them
    assert abs(got[4]["x"] - 1700) <= 1 and abs(got[4]["y"] - 930) <= 1
