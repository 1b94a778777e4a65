"""The stop key through the GlobalShortcuts portal, against a fake portal on a private bus.

A private ``dbus-daemon`` (started here) carries a fake ``org.freedesktop.portal.Desktop``
written with dbus-fast's ServiceInterface: it answers ``CreateSession`` and ``BindShortcuts``
through Request objects' ``Response`` signals, as xdg-desktop-portal does, records what veo
asked for, and emits ``Activated`` when the test "presses" the key. The real chooser
(``create_stop_hotkey`` with ``VEO_AGENT_BACKEND=portal``) is used, so the test also proves the
absent-interface and absent-portal cases end in ``no_stop_key``.
"""

import asyncio
import shutil
import threading
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from dbus_fast import DBusError, Message, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import DBusDict, DBusObjectPath, DBusSignature, DBusStr
from dbus_fast.service import ServiceInterface, method, signal
from tests.integration.dbus_support import OnlyInterface, Request, private_dbus

from veo.agent import backend as backend_module
from veo.agent.backend import BackendError
from veo.agent.hotkey.auto import create_stop_hotkey
from veo.agent.hotkey.base import GlobalHotkey

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon"),
]

PATH = "/org/freedesktop/portal/desktop"


class Session(ServiceInterface):
    def __init__(self, closed: list[str], path: str) -> None:
        super().__init__("org.freedesktop.portal.Session")
        self._closed, self._path = closed, path

    @method()
    def Close(self) -> None:
        self._closed.append(self._path)


class FakeShortcuts(ServiceInterface):
    """The portal's GlobalShortcuts as GNOME 48 / KDE offer it (no dialog: bound as asked)."""

    def __init__(self, bus: MessageBus) -> None:
        super().__init__("org.freedesktop.portal.GlobalShortcuts")
        self.bus = bus
        self.bound: list[tuple[str, str, dict[str, Any]]] = []
        self.closed: list[str] = []
        self.session = ""
        self.client = ""  # the caller's unique name (request paths are made from it)
        self.silent = False  # True: BindShortcuts never answers (a dialog nobody answers)
        self.refuse = False  # True: CreateSession refused as xdg-desktop-portal 1.21+ does without app id

    def _answer(self, sender: str, token: str, results: dict[str, Variant]) -> str:
        path = f"/org/freedesktop/portal/desktop/request/{sender.lstrip(':').replace('.', '_')}/{token}"
        request = Request()
        self.bus.export(path, request)
        # answered after the method's reply, as the real portal does (the client subscribed first)
        asyncio.get_running_loop().call_later(0.05, request.Response, 0, results)
        return path

    @method()
    def CreateSession(self, options: DBusDict) -> DBusObjectPath:
        if self.refuse:
            raise DBusError("org.freedesktop.portal.Error.NotAllowed", "An app id is required")
        sender = self.client
        self.session = f"/org/freedesktop/portal/desktop/session/x/{options['session_handle_token'].value}"
        self.bus.export(self.session, Session(self.closed, self.session))
        return self._answer(
            sender, options["handle_token"].value, {"session_handle": Variant("s", self.session)}
        )

    @method()
    def BindShortcuts(
        self,
        session: DBusObjectPath,
        shortcuts: Annotated[list[tuple[str, dict[str, Variant]]], DBusSignature("a(sa{sv})")],
        parent_window: DBusStr,
        options: DBusDict,
    ) -> DBusObjectPath:
        answered = []
        for shortcut_id, props in shortcuts:
            plain = {key: value.value for key, value in props.items()}
            self.bound.append((session, shortcut_id, plain))
            trigger = Variant("s", "Press Ctrl+Alt+Shift+End")
            answered.append(
                [shortcut_id, {"description": props["description"], "trigger_description": trigger}]
            )
        shortcut_list = Variant("a(sa{sv})", answered)
        if self.silent:
            return f"/org/freedesktop/portal/desktop/request/x/{options['handle_token'].value}"
        return self._answer(self.client, options["handle_token"].value, {"shortcuts": shortcut_list})

    @signal()
    def Activated(
        self, session: str, shortcut_id: str, timestamp: int, options: dict[str, Variant]
    ) -> Annotated[tuple[str, str, int, dict[str, Variant]], DBusSignature("osta{sv}")]:
        return (session, shortcut_id, timestamp, options)


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    with private_dbus(tmp_path) as address:
        yield address


@pytest.fixture
def portal_env(private_bus: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DBUS_SESSION_BUS_ADDRESS", private_bus)
    monkeypatch.setenv(backend_module.BACKEND_ENV, "portal")
    monkeypatch.setattr(backend_module, "_forced", "portal")
    return private_bus


async def serve(address: str, *interfaces: ServiceInterface) -> MessageBus:
    bus = await MessageBus(bus_address=address).connect()
    for interface in interfaces:
        bus.export(PATH, interface)
    await bus.request_name("org.freedesktop.portal.Desktop")
    return bus


@pytest.fixture
async def shortcuts(portal_env: str) -> AsyncIterator[FakeShortcuts]:
    bus = await MessageBus(bus_address=portal_env).connect()
    fake = FakeShortcuts(bus)
    bus.export(PATH, fake)
    await bus.request_name("org.freedesktop.portal.Desktop")

    # a ServiceInterface method is not told its caller: a handler that runs first notes it
    # (returning None lets the message go on to the method)
    def remember(message: Any) -> None:
        if message.member in ("CreateSession", "BindShortcuts"):
            fake.client = message.sender

    bus.add_message_handler(remember)
    yield fake
    bus.disconnect()


async def test_the_portal_binds_veos_combination_and_activated_stops(shortcuts: FakeShortcuts) -> None:
    pressed = threading.Event()
    hotkey: GlobalHotkey = await asyncio.to_thread(
        create_stop_hotkey, pressed.set, "Detener la sesión de veo"
    )
    try:
        assert shortcuts.bound == [
            (
                shortcuts.session,
                "veo-stop",
                {"description": "Detener la sesión de veo", "preferred_trigger": "CTRL+ALT+SHIFT+End"},
            )
        ]
        assert hotkey.trigger_description == "Press Ctrl+Alt+Shift+End"  # type: ignore[attr-defined]
        assert shortcuts.session.endswith("/veo_stop_key")  # stable: KDE finds the earlier choice
        shortcuts.Activated("/org/freedesktop/portal/desktop/session/x/other", "veo-stop", 1, {})
        shortcuts.Activated(shortcuts.session, "someone-else", 2, {})
        await asyncio.sleep(0.3)
        assert not pressed.is_set()  # another session's or another shortcut's activation
        shortcuts.Activated(shortcuts.session, "veo-stop", 3, {})
        assert await asyncio.to_thread(pressed.wait, 5)
    finally:
        await asyncio.to_thread(hotkey.stop)
    for _ in range(50):
        if shortcuts.closed:
            break
        await asyncio.sleep(0.05)
    assert shortcuts.closed == [shortcuts.session]  # the shortcut session ends with veo's


async def test_a_portal_without_global_shortcuts_means_no_stop_key(portal_env: str) -> None:
    bus = await serve(portal_env, OnlyInterface("org.freedesktop.portal.ScreenCast"))  # as GNOME 43's
    try:
        with pytest.raises(BackendError) as caught:
            await asyncio.to_thread(create_stop_hotkey, lambda: None)
    finally:
        bus.disconnect()
    assert caught.value.reason == "no_stop_key"
    assert "no GlobalShortcuts" in caught.value.detail


async def test_no_portal_at_all_means_no_stop_key(portal_env: str) -> None:
    with pytest.raises(BackendError) as caught:
        await asyncio.to_thread(create_stop_hotkey, lambda: None)
    assert caught.value.reason == "no_stop_key"
    assert "no desktop portal" in caught.value.detail


async def test_a_desktop_that_never_binds_the_key_means_no_stop_key_in_bounded_time(
    shortcuts: FakeShortcuts, portal_env: str
) -> None:
    from veo.agent.hotkey.base import HotkeyError
    from veo.agent.hotkey.portal import PortalHotkey

    shortcuts.silent = True
    hotkey = PortalHotkey(lambda: None, bus_address=portal_env, bind_timeout=1.0)
    started = time.monotonic()
    with pytest.raises(HotkeyError, match="did not answer in time"):
        await asyncio.to_thread(hotkey.start)
    assert time.monotonic() - started < 3  # the Tk thread is not held longer
    for _ in range(50):
        if shortcuts.closed:
            break
        await asyncio.sleep(0.05)
    assert shortcuts.closed == [shortcuts.session]  # the half-made shortcut session is closed


async def test_a_portal_that_refuses_the_session_means_no_stop_key(shortcuts: FakeShortcuts) -> None:
    shortcuts.refuse = True  # xdg-desktop-portal 1.21+ to a program without an app id
    with pytest.raises(BackendError) as caught:
        await asyncio.to_thread(create_stop_hotkey, lambda: None)
    assert caught.value.reason == "no_stop_key"
    assert "NotAllowed" in caught.value.detail


async def test_only_the_portal_can_press_the_stop_key(shortcuts: FakeShortcuts, portal_env: str) -> None:
    """Another program on the session bus emitting ``Activated`` for veo's session and shortcut
    (broadcast, or sent to veo's connection directly) does not stop the session."""
    pressed = threading.Event()
    hotkey: GlobalHotkey = await asyncio.to_thread(create_stop_hotkey, pressed.set, "stop")
    forger = await MessageBus(bus_address=portal_env).connect()
    try:
        for destination in (None, shortcuts.client):
            forged = Message.new_signal(
                PATH, "org.freedesktop.portal.GlobalShortcuts", "Activated", "osta{sv}",
                [shortcuts.session, "veo-stop", 1, {}],
            )  # fmt: skip
            forged.destination = destination
            await forger.send(forged)
        await asyncio.sleep(0.3)
        assert not pressed.is_set()
        shortcuts.Activated(shortcuts.session, "veo-stop", 2, {})  # the portal's own: heard
        assert await asyncio.to_thread(pressed.wait, 5)
    finally:
        forger.disconnect()
        await asyncio.to_thread(hotkey.stop)
