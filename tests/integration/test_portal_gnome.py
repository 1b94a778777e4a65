"""PortalDesktop against the real thing: headless mutter 43 + xdg-desktop-portal-gnome.

The desktop's own dialog is answered the honest way a test can: through its accessibility
tree, as the person at the computer would (``veo.bench.wayland.answer_share_dialog_async``;
nothing of that is in the shipped agent). A Wayland-native GTK window (``wayland_support``)
reports what reached it. What this proves beyond the fake portal: the real portal accepts veo's
requests (a screen-only session when control was unticked in veo's dialog), the dialog's
choices come back as the grant, the injector's clicks and text (accents and characters the US
layout lacks included) arrive in a Wayland application, and the wheel scrolls the way asked.
"""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.agent.backend import BackendError
from veo.agent.input.base import InputError
from veo.agent.portal.desktop import PortalDesktop
from veo.bench.wayland import WaylandDesktop, answer_share_dialog_async

from .wayland_support import BUTTON, ENTRY, events_of, start_desktop, wait_event, wait_focused, wayland_app

pytestmark = pytest.mark.timeout(240)

TEXT = "Hola éñ Ü €ß¿ Ωж 😀"

#: a fullscreen Wayland window that scrolls both ways and reports its scroll positions
WHEEL_APP = """
import json, sys, gi
gi.require_version("Gtk", "3.0")
from gi.repository import Gtk, GLib
out = open(sys.argv[1], "a", buffering=1)
def emit(**e): out.write(json.dumps(e) + "\\n")
w = Gtk.Window(title="wheel")
sw = Gtk.ScrolledWindow()
box = Gtk.Box(orientation=Gtk.Orientation.VERTICAL)
grid = Gtk.Grid()
for r in range(200):
    grid.attach(Gtk.Label(label=("row %d " % r) * 30), 0, r, 1, 1)
sw.add(grid)
w.add(sw)
sw.get_vadjustment().connect("value-changed", lambda a: emit(event="v", value=a.get_value()))
sw.get_hadjustment().connect("value-changed", lambda a: emit(event="h", value=a.get_value()))
def st(_w, ev):
    GLib.timeout_add(300, lambda: emit(event="ready"))
    return False
w.connect("window-state-event", st)
w.fullscreen(); w.show_all(); Gtk.main()
"""


@pytest.fixture(scope="module")
def desktop() -> Iterator[WaylandDesktop]:
    started = start_desktop((1280, 720), "veo-portal-core")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture
def on_desktop(desktop: WaylandDesktop, monkeypatch: pytest.MonkeyPatch) -> WaylandDesktop:
    for key in ("DBUS_SESSION_BUS_ADDRESS", "DISPLAY", "XAUTHORITY", "WAYLAND_DISPLAY", "XDG_RUNTIME_DIR"):
        if key in desktop.env:
            monkeypatch.setenv(key, desktop.env[key])
    return desktop


async def open_answered(
    desktop: WaylandDesktop, allow_control: bool, cancel: bool = False
) -> tuple[PortalDesktop, object]:
    portal = PortalDesktop()
    answer = answer_share_dialog_async(desktop.env, allow_control, cancel)
    results = await asyncio.gather(portal.open(want_control=True), answer, return_exceptions=True)
    return portal, results[0]


def centre(rect: tuple[int, int, int, int]) -> tuple[int, int]:
    x, y, width, height = rect
    return x + width // 2, y + height // 2


async def test_control_granted_clicks_and_text_reach_a_wayland_app(
    on_desktop: WaylandDesktop, tmp_path: Path
) -> None:
    with wayland_app(on_desktop, tmp_path) as events:
        portal, grant = await open_answered(on_desktop, allow_control=True)
        assert not isinstance(grant, BaseException), grant
        assert grant.control and grant.pointer_in_picture  # type: ignore[attr-defined]
        await asyncio.to_thread(wait_focused, events, 10)  # the sharing dialog really gone
        injector = portal.injector()

        def drive() -> None:  # the input worker's thread
            x, y = centre(BUTTON)
            injector.pointer_button(x, y, "left", True)  # the session's first click
            injector.pointer_button(x, y, "left", False)
            x, y = centre(ENTRY)
            injector.pointer_button(x, y, "left", True)
            injector.pointer_button(x, y, "left", False)
            injector.text("Hola ")
            for key, code in (("é", "Quote"), ("ñ", "Semicolon")):  # keys a Spanish keyboard sends
                injector.key(key, code, True)
                injector.key(key, code, False)
            injector.text(TEXT[len("Hola éñ") :])
            injector.close()

        await asyncio.to_thread(drive)
        await asyncio.to_thread(wait_event, events, "clicked", 10)
        for _ in range(100):
            texts = [e["text"] for e in events_of(events) if e["event"] == "text"]
            if texts and texts[-1] == TEXT:
                break
            await asyncio.sleep(0.1)
        await portal.close()
        clicks = [e for e in events_of(events) if e["event"] == "clicked"]
        assert len(clicks) == 1
        assert texts[-1] == TEXT


async def test_switch_left_off_is_view_only(on_desktop: WaylandDesktop) -> None:
    portal, grant = await open_answered(on_desktop, allow_control=False)
    assert not isinstance(grant, BaseException), grant
    assert not grant.control and grant.control_reason == "control_refused"  # type: ignore[attr-defined]
    assert grant.streams[0].width == 1280  # type: ignore[attr-defined]
    with pytest.raises(InputError):
        portal.injector()
    await portal.close()


async def test_cancel_in_the_desktop_dialog(on_desktop: WaylandDesktop) -> None:
    portal, outcome = await open_answered(on_desktop, allow_control=True, cancel=True)
    assert isinstance(outcome, BackendError) and outcome.reason == "portal_cancelled"
    await portal.close()


async def test_control_not_wanted_asks_the_desktop_for_the_screen_only(on_desktop: WaylandDesktop) -> None:
    portal = PortalDesktop()
    answer = answer_share_dialog_async(on_desktop.env, allow_control=False)
    grant, _ = await asyncio.gather(portal.open(want_control=False), answer)
    # unticked in veo's own dialog: a portal session without input cannot gain it later
    assert not grant.control and grant.control_reason == "control_at_start"
    assert grant.streams and grant.pointer_in_picture
    with pytest.raises(InputError):
        portal.injector()
    await portal.close()


@pytest.fixture
def wheel_app(on_desktop: WaylandDesktop, tmp_path: Path) -> Iterator[Path]:
    events = tmp_path / "wheel.jsonl"
    events.touch()
    script = tmp_path / "wheel_app.py"
    script.write_text(WHEEL_APP)
    env = {**on_desktop.env, "GDK_BACKEND": "wayland"}
    app = subprocess.Popen(["/usr/bin/python3", str(script), str(events)], env=env)
    try:
        wait_event(events, "ready", 20)
        yield events
    finally:
        app.terminate()
        app.wait(timeout=5)


async def test_wheel_scrolls_the_way_the_console_asked(on_desktop: WaylandDesktop, wheel_app: Path) -> None:
    events = wheel_app
    portal, grant = await open_answered(on_desktop, allow_control=True)
    assert not isinstance(grant, BaseException), grant
    injector = portal.injector()

    async def scrolled(axis: str, dx: int, dy: int) -> float:
        before = len(events_of(events))
        await asyncio.to_thread(injector.wheel, 640, 360, dx, dy)
        for _ in range(50):
            if any(e["event"] == axis for e in events_of(events)[before:]):
                await asyncio.sleep(0.3)  # kinetic steps settle
                return float([e["value"] for e in events_of(events) if e["event"] == axis][-1])
            await asyncio.sleep(0.1)
        raise AssertionError(f"no {axis} scroll after wheel({dx}, {dy})")

    down = await scrolled("v", 0, 3)
    assert down > 0  # positive dy: down, as on X11
    assert await scrolled("v", 0, -1) < down
    assert await scrolled("h", 2, 0) > 0  # positive dx: right
    await portal.close()
