"""Test-side helpers for checks on a headless Wayland desktop (``veo.bench.wayland``).

* :func:`wayland_app`: a fullscreen GTK 3 window with ``GDK_BACKEND=wayland`` (system Python with
  ``gi``), plain green with a blue button at a known place, reporting JSON lines (``ready``,
  ``clicked``, ``text``) -- the user's Wayland application, the one everything must be above;
* :func:`mutter_input`: a click or typed keys through Mutter's own ``org.gnome.Mutter.RemoteDesktop``
  API: the compositor's input path, as a real mouse and keyboard (never the agent's code).
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from veo.bench.wayland import WaylandDesktop, missing_tools

BUTTON = (200, 200, 400, 200)  # x, y, width, height in the fullscreen window = monitor pixels
BUTTON_RGB = (0, 0, 192)
BACKGROUND_RGB = (0, 192, 0)
ENTRY = (200, 460, 400, 40)
LEFT_BUTTON = 0x110  # evdev BTN_LEFT
SHIFT_L = 0xFFE1

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
entry = Gtk.Entry()
entry.set_size_request(400, 40)
fixed.put(entry, 200, 460)
entry.connect("changed", lambda e: emit(event="text", text=e.get_text()))
window.add(fixed)
clicks = [0]
def clicked(_b):
    clicks[0] += 1
    emit(event="clicked", clicks=clicks[0])
button.connect("clicked", clicked)
def state(_w, ev):
    if ev.new_window_state & Gdk.WindowState.FULLSCREEN:
        GLib.timeout_add(300, lambda: emit(event="ready", backend=type(window.get_display()).__name__,
                                           focused=window.is_active()))
    return False
window.connect("window-state-event", state)
window.fullscreen()
window.show_all()
entry.grab_focus()
Gtk.main()
"""


def start_desktop(size: tuple[int, int], wayland_display: str) -> WaylandDesktop:
    """A started desktop, or a skip (a failure under CI=true) where its packages are missing."""
    missing = missing_tools()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the Wayland desktop needs {missing}", pytrace=False)
        pytest.skip(f"the Wayland desktop needs {missing} (make system-packages)")
    return WaylandDesktop(size=size, wayland_display=wayland_display).start()


@contextmanager
def wayland_app(desktop: WaylandDesktop, directory: Path) -> Iterator[Path]:
    """Run the GTK app until the block ends; yields its events file once it is fullscreen."""
    events = directory / "wayland-app.jsonl"
    events.touch()
    script = directory / "wayland_app.py"
    script.write_text(APP)
    env = {**desktop.env, "GDK_BACKEND": "wayland"}
    process = subprocess.Popen(["/usr/bin/python3", str(script), str(events)], env=env)
    try:
        ready = wait_event(events, "ready", 20)
        assert ready["backend"] == "GdkWaylandDisplay"  # a Wayland client, not an XWayland one
        yield events
    finally:
        process.terminate()
        process.wait(timeout=5)


def events_of(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_focused(path: Path, within: float) -> None:
    """Until the app's window holds the focus again (its last ``ready`` says so).

    The portal answers once the sharing dialog has left the accessibility tree, but mutter
    may still show the dialog and give the focus back a moment later: a click sent in between
    lands on the closing dialog (seen once in CI: the button's click lost, the text arrived).
    The technician's first click comes seconds later, after the video; a test must wait.
    """

    def focused(events: list[dict[str, Any]]) -> dict[str, Any] | None:
        states = [event for event in events if event["event"] == "ready"]
        return states[-1] if states and states[-1].get("focused") else None

    _wait(path, focused, within, "the app's window did not get the focus back")


def wait_event(path: Path, name: str, within: float) -> dict[str, Any]:
    def first(events: list[dict[str, Any]]) -> dict[str, Any] | None:
        return next((event for event in events if event["event"] == name), None)

    return _wait(path, first, within, f"no {name!r} event in {path.name}")


def _wait(
    path: Path, found: Callable[[list[dict[str, Any]]], dict[str, Any] | None], within: float, failure: str
) -> dict[str, Any]:
    """The event ``found`` picks from the app's events, read again every 0.1 s for ``within``."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        event = found(events_of(path))
        if event is not None:
            return event
        time.sleep(0.1)
    raise AssertionError(f"{failure}: {events_of(path)}")


async def mutter_input_async(
    env: Mapping[str, str], click: tuple[float, float] | None = None, keys: str = ""
) -> None:
    """A left click at ``click`` and/or ``keys`` typed (as keysyms) through Mutter's RemoteDesktop.

    A Shift tap goes first: the first key event of a new remote-desktop session is lost on
    mutter 43 while its virtual keyboard comes up (seen here: "abc" typed arrived as "bc").
    """
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
            if click is not None:
                await session.call_notify_pointer_motion_absolute(stream, *click)
                await asyncio.sleep(0.2)
                await session.call_notify_pointer_button(LEFT_BUTTON, True)
                await asyncio.sleep(0.05)
                await session.call_notify_pointer_button(LEFT_BUTTON, False)
                await asyncio.sleep(0.2)
            if keys:
                for keysym in (SHIFT_L, *(_keysym(char) for char in keys)):
                    await session.call_notify_keyboard_keysym(keysym, True)
                    await asyncio.sleep(0.03)
                    await session.call_notify_keyboard_keysym(keysym, False)
                    await asyncio.sleep(0.1 if keysym == SHIFT_L else 0.03)
                await asyncio.sleep(0.2)
        finally:
            await session.call_stop()
    finally:
        bus.disconnect()


def mutter_input(env: Mapping[str, str], click: tuple[float, float] | None = None, keys: str = "") -> None:
    asyncio.run(mutter_input_async(env, click, keys))


def _keysym(char: str) -> int:
    return ord(char) if ord(char) < 0x100 else 0x1000000 + ord(char)
