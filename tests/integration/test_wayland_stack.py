"""The headless GNOME desktop of ``veo.bench.wayland`` itself: it starts, shows GNOME's real
"Remote desktop" dialog to a portal client, the dialog is answered through its accessibility
tree as asked (control switched on, left off, cancelled; the screen-only dialog too), a click
through Mutter's RemoteDesktop reaches a Wayland window, Mutter's ScreenCast gives a picture
of the monitor's size, and stopping leaves no process behind.

The portal client here is a bare one (dbus-fast, as the lead's spike did), so this test needs
nothing of the agent: what GNOME answered is what the dialog was told.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import struct
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from veo.bench.wayland import WaylandDesktop, answer_share_dialog_async, click, missing_tools, screenshot

pytestmark = pytest.mark.timeout(180)

PORTAL = ("org.freedesktop.portal.Desktop", "/org/freedesktop/portal/desktop")
DEVICES_KEYBOARD_POINTER = 3
GTK_APP = Path(__file__).parents[1] / "e2e" / "gtk_app.py"


@pytest.fixture(scope="module")
def desktop() -> Iterator[WaylandDesktop]:
    missing = missing_tools()
    if missing:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"the Wayland desktop needs {missing}", pytrace=False)
        pytest.skip(f"the Wayland desktop needs {missing} (make system-packages)")
    pytest.importorskip("dbus_fast")
    with WaylandDesktop(size=(1024, 640)) as started:
        yield started


async def _portal_start(env: dict[str, str], remote: bool = True) -> tuple[int, dict[str, Any]]:
    """CreateSession -> SelectDevices(keyboard+pointer) -> SelectSources(monitor) -> Start: the
    response code and results of Start (GNOME's dialog is shown between call and response).
    ``remote=False``: a ScreenCast session (screen only, GNOME's dialog without the switch)."""
    from dbus_fast import Message, MessageType, Variant
    from dbus_fast.aio import MessageBus

    bus = await MessageBus(bus_address=env["DBUS_SESSION_BUS_ADDRESS"]).connect()
    sender = (bus.unique_name or "")[1:].replace(".", "_")
    proxy = bus.get_proxy_object(*PORTAL, await bus.introspect(*PORTAL))
    remote_desktop: Any = proxy.get_interface("org.freedesktop.portal.RemoteDesktop")
    cast: Any = proxy.get_interface("org.freedesktop.portal.ScreenCast")

    async def request(method: Any, *args: Any, options: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        token = "t" + secrets.token_hex(4)
        options["handle_token"] = Variant("s", token)
        path = f"/org/freedesktop/portal/desktop/request/{sender}/{token}"
        answer: asyncio.Future[tuple[int, dict[str, Any]]] = asyncio.get_running_loop().create_future()

        def handler(message: Message) -> None:
            if message.message_type == MessageType.SIGNAL and message.path == path and not answer.done():
                answer.set_result((int(message.body[0]), message.body[1]))

        bus.add_message_handler(handler)
        rule = f"type='signal',interface='org.freedesktop.portal.Request',path='{path}'"
        await bus.call(
            Message(destination="org.freedesktop.DBus", path="/org/freedesktop/DBus",
                    interface="org.freedesktop.DBus", member="AddMatch", signature="s", body=[rule])
        )  # fmt: skip
        await method(*args, options)
        return await asyncio.wait_for(answer, 60)

    try:
        first = remote_desktop if remote else cast
        token = {"session_handle_token": Variant("s", "s" + secrets.token_hex(4))}
        _, created = await request(first.call_create_session, options=token)
        session = created["session_handle"].value
        if remote:
            await request(remote_desktop.call_select_devices, session, options={"types": Variant("u", 3)})
        await request(cast.call_select_sources, session, options={"types": Variant("u", 1)})
        return await request(first.call_start, session, "", options={})
    finally:
        bus.disconnect()


async def _share(
    env: dict[str, str], allow_control: bool, cancel: bool = False, remote: bool = True
) -> tuple[int, dict[str, Any]]:
    started: tuple[int, dict[str, Any]]
    started, kind = await asyncio.gather(
        _portal_start(env, remote),
        answer_share_dialog_async(env, allow_control=allow_control, cancel=cancel, within=30),
    )
    assert kind == ("remote_desktop" if remote else "screen_cast")
    return started


async def test_dialog_answered_with_control_grants_keyboard_and_pointer(desktop: WaylandDesktop) -> None:
    code, results = await _share(desktop.env, allow_control=True)
    assert code == 0
    assert results["devices"].value == DEVICES_KEYBOARD_POINTER
    ((_node, stream),) = results["streams"].value
    assert tuple(stream["size"].value) == (1024, 640)


async def test_switch_left_off_grants_no_devices(desktop: WaylandDesktop) -> None:
    code, results = await _share(desktop.env, allow_control=False)
    assert code == 0
    assert results["devices"].value == 0
    assert len(results["streams"].value) == 1


async def test_cancel_is_the_users_refusal(desktop: WaylandDesktop) -> None:
    code, _results = await _share(desktop.env, allow_control=True, cancel=True)
    assert code == 1  # the portal's "cancelled by the user"


async def test_screen_only_session_shows_the_dialog_without_the_switch(desktop: WaylandDesktop) -> None:
    code, results = await _share(desktop.env, allow_control=False, remote=False)
    assert code == 0
    assert "devices" not in results
    assert len(results["streams"].value) == 1


def test_click_reaches_a_wayland_window(desktop: WaylandDesktop, tmp_path: Path) -> None:
    events = tmp_path / "events.jsonl"
    app = subprocess.Popen(["/usr/bin/python3", str(GTK_APP), str(events)], env=desktop.env)
    try:
        ready = _wait_event(events, "ready")
        x, y, width, height = ready["widgets"]["button"]
        click(desktop.env, x + width / 2, y + height / 2)
        assert _wait_event(events, "clicked")["label"] == "Pressed 1"
    finally:
        app.terminate()
        app.wait(10)


def _wait_event(path: Path, name: str, within: float = 20.0) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if path.exists():
            for line in path.read_text(encoding="utf-8").splitlines():
                event: dict[str, Any] = json.loads(line)
                if event["event"] == name:
                    return event
        time.sleep(0.1)
    raise AssertionError(f"no {name} event in {path}")


def test_screenshot_is_the_monitor(desktop: WaylandDesktop, tmp_path: Path) -> None:
    path = screenshot(desktop.env, tmp_path / "screen.png")
    header = path.read_bytes()[:24]
    assert header[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", header[16:24]) == (1024, 640)


def test_stop_leaves_nothing_running(tmp_path: Path) -> None:
    if missing_tools():
        pytest.skip("no Wayland desktop here")
    desktop = WaylandDesktop(workdir=tmp_path / "wl")
    desktop.start()
    pids = [proc.pid for proc in desktop.procs._live]
    runtime = str(desktop.runtime_dir)
    desktop.stop()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _zombie(pid), f"pid {pid} still running"
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            assert f"XDG_RUNTIME_DIR={runtime}".encode() not in environ.split(b"\0"), f"pid {entry.name} left"


def _zombie(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True
