"""The X11 overlay on a Wayland desktop: drawn through XWayland above a Wayland-native window.

Why veo keeps its X11 overlay on Wayland (``veo.agent.overlay.auto``): on a real headless mutter
(``veo.bench.wayland``) a fullscreen GTK 3 window with ``GDK_BACKEND=wayland`` plays the user's
application; the overlay (override-redirect windows cut with SHAPE, empty input shape) draws a
stroke and the technician's pointer across its button. Mutter's own ScreenCast shows the stroke's
colour on top of the Wayland window, and a click made through Mutter's own RemoteDesktop API
(the compositor's input, as a real mouse) exactly on the stroke reaches the GTK button under it.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from veo.agent.overlay.x11 import POINTER_COLOR, POINTER_RADIUS, X11Overlay
from veo.bench.wayland import WaylandDesktop, missing_tools, screenshot

pytestmark = pytest.mark.timeout(180)

SIZE = (1024, 640)
BUTTON = (200, 200, 400, 200)  # x, y, width, height in the fullscreen window = monitor pixels
BUTTON_RGB = (0, 0, 192)
BACKGROUND_RGB = (0, 192, 0)
STROKE = "#ff00ff"

APP = """
import json, sys, gi
gi.require_version("Gtk", "3.0")
from gi.repository import Gtk, Gdk, GLib
out = open(sys.argv[1], "a", buffering=1)
def emit(**event): out.write(json.dumps(event) + "\\n")
css = Gtk.CssProvider()
css.load_from_data(b"window { background: #00c000; } "
                   b"button { background: #0000c0; background-image: none; border: none; "
                   b"box-shadow: none; color: #0000c0; }")
Gtk.StyleContext.add_provider_for_screen(Gdk.Screen.get_default(), css, 800)
window = Gtk.Window(title="wayland app")
fixed = Gtk.Fixed()
button = Gtk.Button(label="")
button.set_size_request(400, 200)
fixed.put(button, 200, 200)
window.add(fixed)
clicks = [0]
def clicked(_b):
    clicks[0] += 1
    emit(event="clicked", clicks=clicks[0])
button.connect("clicked", clicked)
def state(_w, ev):
    if ev.new_window_state & Gdk.WindowState.FULLSCREEN:
        GLib.timeout_add(300, lambda: emit(event="ready", backend=type(window.get_display()).__name__))
    return False
window.connect("window-state-event", state)
window.fullscreen()
window.show_all()
Gtk.main()
"""


@pytest.fixture(scope="module")
def desktop() -> Iterator[WaylandDesktop]:
    missing = missing_tools()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the Wayland desktop needs {missing}", pytrace=False)
        pytest.skip(f"the Wayland desktop needs {missing} (make system-packages)")
    with WaylandDesktop(size=SIZE, wayland_display="veo-overlay-test") as started:
        yield started


@pytest.fixture
def app(desktop: WaylandDesktop, tmp_path: Path) -> Iterator[Path]:
    events = tmp_path / "events.jsonl"
    events.touch()
    script = tmp_path / "app.py"
    script.write_text(APP)
    env = {**desktop.env, "GDK_BACKEND": "wayland"}
    process = subprocess.Popen(["/usr/bin/python3", str(script), str(events)], env=env)
    try:
        ready = _wait_event(events, "ready", 20)
        assert ready["backend"] == "GdkWaylandDisplay"  # a Wayland client, not an XWayland one
        yield events
    finally:
        process.terminate()
        process.wait(timeout=5)


def _events(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _wait_event(path: Path, name: str, within: float) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        for event in _events(path):
            if event["event"] == name:
                return event
        time.sleep(0.1)
    raise AssertionError(f"no {name!r} event from the Wayland app: {_events(path)}")


async def _click(env: dict[str, str], x: float, y: float) -> None:
    """A left click at (x, y) through ``org.gnome.Mutter.RemoteDesktop`` (the compositor's own
    input: what a physical mouse would do), with a ScreenCast stream for absolute motion."""
    from dbus_fast import Variant
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=env["DBUS_SESSION_BUS_ADDRESS"]).connect()
    try:

        async def interface(name: str, path: str, iface: str) -> Any:
            proxy = bus.get_proxy_object(name, path, await bus.introspect(name, path))
            return proxy.get_interface(iface)

        rd_name, sc_name = "org.gnome.Mutter.RemoteDesktop", "org.gnome.Mutter.ScreenCast"
        remote = await interface(rd_name, "/org/gnome/Mutter/RemoteDesktop", rd_name)
        session = await interface(rd_name, await remote.call_create_session(), f"{rd_name}.Session")
        session_id = await session.get_session_id()
        cast = await interface(sc_name, "/org/gnome/Mutter/ScreenCast", sc_name)
        cast_path = await cast.call_create_session({"remote-desktop-session-id": Variant("s", session_id)})
        cast_session = await interface(sc_name, cast_path, f"{sc_name}.Session")
        stream = await cast_session.call_record_monitor("", {})
        await session.call_start()
        try:
            await asyncio.sleep(0.3)
            await session.call_notify_pointer_motion_absolute(stream, x, y)
            await asyncio.sleep(0.2)
            await session.call_notify_pointer_button(0x110, True)  # BTN_LEFT
            await asyncio.sleep(0.05)
            await session.call_notify_pointer_button(0x110, False)
            await asyncio.sleep(0.2)
        finally:
            await session.call_stop()
    finally:
        bus.disconnect()


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

        asyncio.run(_click(desktop.env, (start + end) / 2, y))  # on the stroke's own pixels
        clicked = _wait_event(app, "clicked", 5)
        assert clicked["clicks"] == 1  # the Wayland button under the stroke got the click

        after = Image.open(screenshot(desktop.env, tmp_path / "after-click.png")).convert("RGB")
        assert _near(after.getpixel((start + 20, y)), _rgb(STROKE))  # still above the clicked window
    finally:
        overlay.close()
    gone = Image.open(screenshot(desktop.env, tmp_path / "closed.png")).convert("RGB")
    assert _near(gone.getpixel((start + 20, y)), BUTTON_RGB)  # closing removes it
