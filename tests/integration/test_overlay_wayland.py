"""The X11 overlay on a Wayland desktop: drawn through XWayland above a Wayland-native window.

Why veo keeps its X11 overlay on Wayland (``veo.agent.overlay.auto``): on a real headless mutter
(``veo.bench.wayland``) a fullscreen GTK 3 window with ``GDK_BACKEND=wayland`` plays the user's
application; the overlay (override-redirect windows cut with SHAPE, empty input shape) draws a
stroke and the technician's pointer across its button. Mutter's own ScreenCast shows the stroke's
colour on top of the Wayland window, and a click made through Mutter's own RemoteDesktop API
(the compositor's input, as a real mouse) exactly on the stroke reaches the GTK button under it.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.integration.wayland_support import (
    BACKGROUND_RGB,
    BUTTON,
    BUTTON_RGB,
    mutter_input,
    start_desktop,
    wait_event,
    wayland_app,
)

from veo.agent.overlay.x11 import POINTER_COLOR, POINTER_RADIUS, X11Overlay
from veo.bench.wayland import WaylandDesktop, screenshot

pytestmark = pytest.mark.timeout(180)

SIZE = (1024, 640)
STROKE = "#ff00ff"


@pytest.fixture(scope="module")
def desktop() -> Iterator[WaylandDesktop]:
    started = start_desktop(SIZE, "veo-overlay-test")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def app(desktop: WaylandDesktop, tmp_path: Path) -> Iterator[Path]:
    with wayland_app(desktop, tmp_path) as events:
        yield events


def _rgb(color: str) -> tuple[int, int, int]:
    return (int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16))


def _near(got: Any, want: tuple[int, int, int], tolerance: int = 8) -> bool:
    return all(abs(int(a) - b) <= tolerance for a, b in zip(got[:3], want, strict=True))


def test_strokes_show_above_a_wayland_window_and_clicks_go_through(
    desktop: WaylandDesktop, app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XAUTHORITY", desktop.env["XAUTHORITY"])
    overlay = X11Overlay(desktop.env["DISPLAY"])
    overlay.start()
    y = BUTTON[1] + BUTTON[3] // 2  # a horizontal line across the middle of the button
    start, end = BUTTON[0] + 80, BUTTON[0] + BUTTON[2] - 80
    pointer = (BUTTON[0] + 60, BUTTON[1] + 40)
    try:
        overlay.stroke("s1", "free", [(start, y), (end, y)], STROKE, 10, True)
        overlay.pointer(*pointer, True, "Ana")
        time.sleep(0.5)
        picture = Image.open(screenshot(desktop.env, tmp_path / "overlay.png")).convert("RGB")
        assert picture.size == SIZE
        assert _near(picture.getpixel((start + 20, y)), _rgb(STROKE))  # the stroke, on top
        assert _near(picture.getpixel(((start + end) // 2, y)), _rgb(STROKE))
        assert _near(picture.getpixel((start + 20, y - 30)), BUTTON_RGB)  # the Wayland window
        assert _near(picture.getpixel((20, BUTTON[1] + BUTTON[3] + 40)), BACKGROUND_RGB)
        ring = (pointer[0] + POINTER_RADIUS - 2, pointer[1])  # on the ring, right of the centre
        assert _near(picture.getpixel(ring), _rgb(POINTER_COLOR))

        mutter_input(desktop.env, click=((start + end) / 2, y))  # on the stroke's own pixels
        clicked = wait_event(app, "clicked", 5)
        assert clicked["clicks"] == 1  # the Wayland button under the stroke got the click

        after = Image.open(screenshot(desktop.env, tmp_path / "after-click.png")).convert("RGB")
        assert _near(after.getpixel((start + 20, y)), _rgb(STROKE))  # still above the clicked window
    finally:
        overlay.close()
    gone = Image.open(screenshot(desktop.env, tmp_path / "closed.png")).convert("RGB")
    assert _near(gone.getpixel((start + 20, y)), BUTTON_RGB)  # closing removes it


BAR_RGB = (0xFC, 0xE9, 0x4F)


def test_strokes_are_cut_around_the_session_bar_on_wayland(
    desktop: WaylandDesktop, app: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The agent keeps the bar's frame clear (``wm_frame``): under mutter that is the window with
    mutter's own title bar, and the stroke must stop at its edges so Stop is never drawn over."""
    events = tmp_path / "bar.jsonl"
    events.touch()
    bar = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.wayland_windows", "bar", "es", str(events)],
        cwd=Path(__file__).resolve().parents[2],
        env=desktop.env,
    )
    monkeypatch.setenv("XAUTHORITY", desktop.env["XAUTHORITY"])
    overlay = X11Overlay(desktop.env["DISPLAY"])
    overlay.start()
    try:
        [shown] = wait_event(events, "ready", 20)["windows"]
        x, y, width, height = shown["rect"]
        overlay.keep_clear([shown["frame"]])
        row = y + height // 2
        overlay.stroke("s1", "free", [(20, row), (SIZE[0] - 20, row)], STROKE, 10, True)
        time.sleep(0.6)
        picture = Image.open(screenshot(desktop.env, tmp_path / "bar-clear.png")).convert("RGB")
        assert _near(picture.getpixel((x - 30, row)), _rgb(STROKE))  # drawn up to the bar
        assert _near(picture.getpixel((x + width + 30, row)), _rgb(STROKE))  # and after it
        for inside in (x + 4, x + width // 2, x + width - 4):
            assert not _near(picture.getpixel((inside, row)), _rgb(STROKE)), "a stroke over the bar"
        assert _near(picture.getpixel((x + 4, row)), BAR_RGB)
    finally:
        overlay.close()
        bar.terminate()
        bar.wait(timeout=5)
