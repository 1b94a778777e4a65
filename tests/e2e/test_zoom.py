"""The console's zoom (issue 18 #1): at 1:1 the picture is the screen's own size and the view
scrolls; a click there still lands on the user's application, and the agent hears the view size.

One session on the suite's fixtures, in a console window smaller than the 1280x720 display so that
1:1 must scroll. What the console sends on the data channel is read by wrapping
``RTCDataChannel.send`` (an init script, like ``CHANNEL_SPY``); the agent's log must show no drop
of it (the policy logs every refused message).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from .console import Console
from .flow import LiveSession
from .procs import wait_for
from .xdisplay import WIDTH

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

StartSession = Callable[..., LiveSession]

SENT_SPY = """
(() => {
  if (window.__e2eSent) return;
  window.__e2eSent = { view: [], tech_pointer: [] };
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    if (typeof data === "string") {
      try {
        const m = JSON.parse(data);
        if (window.__e2eSent[m.type]) window.__e2eSent[m.type].push(m);
      } catch {}
    }
    return send.call(this, data);
  };
})();
"""

AREA = """() => { const s = document.getElementById('video-scroll'); const r = window.devicePixelRatio || 1;
  const b = s.getBoundingClientRect();
  return { width: Math.round(s.clientWidth * r), height: Math.round(s.clientHeight * r),
           left: b.left, top: b.top,
           scrollLeft: s.scrollLeft, scrollTop: s.scrollTop, zoom: s.dataset.zoom,
           stage: document.getElementById('video-stage').getBoundingClientRect().width * r,
           videoWidth: document.getElementById('remote-video').videoWidth }; }"""


def _sent(console: Console, kind: str = "view") -> list[dict[str, Any]]:
    sent: list[dict[str, Any]] = console.page.evaluate("(k) => (window.__e2eSent || {})[k] || []", kind)
    return sent


def _views(console: Console) -> list[dict[str, Any]]:
    return _sent(console, "view")


def test_one_to_one_scrolled_click_lands_and_the_agent_hears_the_view(
    start: StartSession, console: Console
) -> None:
    console.page.add_init_script(SENT_SPY)
    console.page.set_viewport_size({"width": 1100, "height": 700})  # the video area < 1280x720
    live = start(control=True)
    page = console.page
    try:
        live.console.wait_control_state("active")
        button = live.app.widget("button")
        # At fit (the default), the area's size in device pixels goes out once the channel is usable,
        # and again when it changes (the verification bar folded away).
        area = page.evaluate(AREA)
        assert area["zoom"] == "fit" and area["width"] < WIDTH, area
        fit = {"type": "view", "v": 1, "width": area["width"], "height": area["height"], "zoom": "fit"}
        wait_for(
            f"the console's last `view` to be {fit}",
            lambda: _views(console)[-1:] == [fit],
            30,
            live.logs,
            lambda: f"views={_views(console)} area={page.evaluate(AREA)}",
        )

        # 1:1 from the keyboard: one screen pixel per device pixel, the view scrolls.
        page.focus("#zoom-full")
        page.keyboard.press("Enter")
        assert page.get_attribute("#zoom-full", "aria-pressed") == "true"
        wait_for(
            "a `view` with zoom full",
            lambda: any(v["zoom"] == "full" for v in _views(console)),
            10,
            live.logs,
        )
        wait_for(
            "the full-size picture at 1:1",
            lambda: page.evaluate(AREA)["videoWidth"] == WIDTH,
            30,
            live.logs,
            live.console.diagnostics,
        )
        page.evaluate("() => document.getElementById('video-scroll').scrollTo(200, 150)")
        area = page.evaluate(AREA)
        assert area["zoom"] == "full" and round(area["stage"]) == WIDTH, area
        assert (area["scrollLeft"], area["scrollTop"]) == (200, 150), area

        # The button, scrolled to, is where the screen's pixels put it; a click there presses it.
        x, y = button.center
        px, py = live.console.page_point(x, y)
        assert (round(px - area["left"]), round(py - area["top"])) == (x - 200, y - 150)
        page.mouse.move(px, py)
        page.mouse.click(px, py)
        state = live.app.wait_state("the 1:1 click to press the button", lambda s: s.clicks == 1)
        assert state.label == "Pressed 1"
        assert not [d for d in live.agent.log.dropped() if d[0] == "view"], live.agent.log.dropped()

        # Control paused by the user: the wheel scrolls the view (with control it goes to the user's
        # computer), and the pointer the user sees follows the spot now under the still mouse.
        live.display.click_rect(live.agent_window("bar")["pause"])
        live.console.wait_control_state("paused")
        page.mouse.move(px, py + 1)
        page.mouse.wheel(0, -100)
        wait_for(
            "the wheel to scroll the view", lambda: page.evaluate(AREA)["scrollTop"] < 150, 10, live.logs
        )

        def pointer_follows() -> bool:
            now = page.evaluate(AREA)
            spot = (int(px - now["left"] + now["scrollLeft"]), int(py + 1 - now["top"] + now["scrollTop"]))
            last = _sent(console, "tech_pointer")[-1:]
            return bool(last) and abs(last[0]["x"] - spot[0]) <= 1 and abs(last[0]["y"] - spot[1]) <= 1

        wait_for(
            "tech_pointer at the spot under the mouse after the scroll",
            pointer_follows,
            10,
            live.logs,
            lambda: f"tech_pointer={_sent(console, 'tech_pointer')[-3:]} area={page.evaluate(AREA)}",
        )
        state = live.app.state()
        assert state is not None and state.clicks == 1  # the wheel went to the view, not to the app
    finally:
        page.evaluate("() => localStorage.removeItem('veo.console.zoom')")  # the context is shared
