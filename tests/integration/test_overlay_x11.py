"""The X11 overlay on a real X server: stroke pixels, click-through, the kept-clear bar, the fade.

A Tk process plays the user's desktop: a *target* window that reports every click it gets and a
*bar* window the overlay must keep clear (as the agent does for its session bar). The overlay runs
on an injected clock, so the fade is driven by the test instead of waited for.
"""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from tests.xvfb import click, xvfb_display

from veo.agent.overlay.board import FADE, HOLD
from veo.agent.overlay.x11 import X11Overlay

pytestmark = [
    pytest.mark.timeout(90),
    pytest.mark.skipif(
        not (shutil.which("Xvfb") and shutil.which("xdotool")), reason="needs Xvfb and xdotool"
    ),
]

DESKTOP = """
import sys, tkinter as tk
root = tk.Tk()
root.withdraw()
def window(name, geometry, colour):
    w = tk.Toplevel(root)
    w.overrideredirect(True)
    w.geometry(geometry)
    w.configure(bg=colour)
    w.bind("<ButtonPress-1>", lambda e: print(f"click {name} {e.x_root} {e.y_root}", flush=True))
    return w
target = window("target", "400x200+50+200", "#d9d9d9")
bar = window("bar", "200x60+500+80", "#0000ff")
root.update()
print("bar", int(bar.wm_frame(), 16), flush=True)
root.mainloop()
"""
GREEN = (0, 255, 0)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def display() -> Iterator[str]:
    with xvfb_display(size="800x600x24") as name:
        yield name


def pixel(display: str, x: int, y: int) -> tuple[int, int, int]:
    import mss

    with mss.MSS(display=display) as grabber:
        red, green, blue = grabber.grab({"left": x, "top": y, "width": 1, "height": 1}).pixel(0, 0)
        return int(red), int(green), int(blue)


def wait(what: str, probe: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_strokes_show_let_clicks_through_keep_the_bar_clear_and_fade(
    display: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veo")
    env = {"DISPLAY": display, "PATH": "/usr/bin:/bin"}
    desktop = subprocess.Popen([sys.executable, "-c", DESKTOP], env=env, stdout=subprocess.PIPE, text=True)
    clicks: list[str] = []
    try:
        out = desktop.stdout
        assert out is not None
        first = out.readline().split()
        assert first[0] == "bar", first
        reader = threading.Thread(target=lambda: clicks.extend(iter(out.readline, "")), daemon=True)
        reader.start()

        clock = FakeClock()
        overlay = X11Overlay(display, clock=clock)
        overlay.start()
        try:
            overlay.keep_clear([int(first[1])])
            overlay.stroke("s1", "free", [(100, 110), (750, 110)], "#00ff00", 8, False)  # across the bar
            overlay.stroke("s2", "arrow", [(100, 300), (300, 300)], "#00ff00", 6, True)  # over the target
            wait(
                "the strokes", lambda: pixel(display, 120, 110) == GREEN and pixel(display, 200, 300) == GREEN
            )
            assert pixel(display, 600, 110) == (0, 0, 255)  # the bar shows through the stroke
            assert pixel(display, 200, 320) == (0xD9, 0xD9, 0xD9)  # beside the line: the target

            click(display, 200, 300)
            wait(
                "the click to reach the target under the stroke",
                lambda: any("click target" in c for c in clicks),
            )
            assert pixel(display, 200, 300) == GREEN  # it was a stroke pixel that was clicked

            clock.now += HOLD + FADE + 0.1
            overlay.pointer(10, 10, False)  # any command wakes the overlay's thread at once
            wait("s2 to fade", lambda: "overlay stroke id=s2 tool=arrow faded" in caplog.text)
            wait("the target's pixels again", lambda: pixel(display, 200, 300) == (0xD9, 0xD9, 0xD9))
            assert pixel(display, 120, 110) == GREEN  # s1 is still being drawn: it does not fade
            overlay.erase("")
            wait("s1 erased", lambda: "overlay stroke id=s1 tool=free erased" in caplog.text)
        finally:
            overlay.close()
        assert "overlay closed" in caplog.text
    finally:
        desktop.kill()
        desktop.wait()
