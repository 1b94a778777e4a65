"""Encoding at the console's size (issue 18 #1): a screen larger than the console's video area is
sent scaled down to that area, and a click still lands on the user's application.

The real agent on its own 2560x1440 Xvfb (the suite's display is 1280x720; an Xvfb starts in a
fraction of a second), the demo application placed far from the origin so that every coordinate
passes through the scale, the console in the suite's 1600x1000 window at *Fit*. The console sends
``view`` with its area's device-pixel size (``test_zoom.py`` reads it the same way); the agent
then encodes the size :func:`veo.agent.scaling.fit_size` gives, the console's coordinate space
stays 2560x1440 (``screen``), and the pointer lands where the console aimed: the point the console
sent is where X's pointer is, and the button is pressed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from veo.agent.capture.base import Size
from veo.agent.scaling import fit_size
from veo.protocol.datachannel import View

from .console import Console
from .demo import DemoApp
from .demo_app import BLOCK_RGB
from .flow import start_session
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .stack import VeoServer
from .test_zoom import SENT_SPY
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

BIG = Size(2560, 1440)
SPY = SENT_SPY.replace("{ view: [], tech_pointer: [] }", "{ view: [], tech_pointer: [], pointer_button: [] }")

VIDEO = """() => { const v = document.getElementById('remote-video');
  const s = (window.veoConsole && window.veoConsole.screen) || {};
  return { videoWidth: v.videoWidth, videoHeight: v.videoHeight,
           screenWidth: s.width, screenHeight: s.height }; }"""


@pytest.fixture
def big_display(netns: NetworkNamespace, workdir: Path) -> Iterator[XvfbDisplay]:
    display = XvfbDisplay(netns, workdir / "xvfb-big.log", size=(BIG.width, BIG.height))
    yield display
    display.stop()


def _pointer(display: XvfbDisplay) -> tuple[int, int]:
    fields = dict(part.split(":") for part in display.xdotool("getmouselocation").split()[:2])
    return int(fields["x"]), int(fields["y"])


def test_a_large_screen_is_sent_at_the_consoles_size_and_a_click_lands(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    big_display: XvfbDisplay,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    page = console.page
    page.add_init_script(SPY)
    app = DemoApp(netns, big_display, workdir, logs, placement=("560x400+1700+900", BLOCK_RGB))
    live = start_session(
        netns=netns, server=veo_server, display=big_display, app=app, console=console,
        workdir=workdir, logs=logs, control=True,
    )  # fmt: skip
    try:
        live.console.wait_control_state("active")

        def views() -> list[dict[str, Any]]:
            sent: list[dict[str, Any]] = page.evaluate("() => (window.__e2eSent || {}).view || []")
            return sent

        wait_for(
            "the console to send a `view` at fit", lambda: any(v["zoom"] == "fit" for v in views()), 30, logs
        )

        def at_fit() -> bool:
            last, video = views()[-1], page.evaluate(VIDEO)
            want = fit_size(BIG, View(width=last["width"], height=last["height"], zoom=last["zoom"]))
            return (video["videoWidth"], video["videoHeight"]) == (want.width, want.height)

        wait_for(
            "the video at the size that fits the console's last view",
            at_fit,
            30,
            logs,
            lambda: f"video={page.evaluate(VIDEO)} views={views()}",
        )
        video = page.evaluate(VIDEO)
        assert video["videoWidth"] < BIG.width and video["videoHeight"] < BIG.height, video
        # the console's coordinate space is the screen's, not the video's
        assert (video["screenWidth"], video["screenHeight"]) == (BIG.width, BIG.height), video
        live.wait_agent_log(f"stream encodes width={video['videoWidth']} height={video['videoHeight']}")

        # the scaled picture shows the app's block where the screen has it
        block = app.widget("block")
        live.console.wait_video_colour(*block.center, BLOCK_RGB, tolerance=24)

        x, y = app.widget("button").center
        live.console.click_screen(x, y)
        state = app.wait_state("the click on the scaled video to press the button", lambda s: s.clicks == 1)
        assert state.label == "Pressed 1"
        pressed: list[dict[str, Any]] = page.evaluate("() => window.__e2eSent.pointer_button")
        sent = (pressed[-1]["x"], pressed[-1]["y"])
        # one video pixel is ~1.8 screen pixels: the console aims within one of the centre, and
        # the agent puts the pointer exactly where the console said (source pixels, unscaled)
        assert abs(sent[0] - x) <= 1 and abs(sent[1] - y) <= 1, (sent, (x, y))
        assert _pointer(big_display) == sent
        assert not [d for d in live.agent.log.dropped() if d[0] == "view"], live.agent.log.dropped()
    finally:
        live.agent.stop()
        app.stop()
