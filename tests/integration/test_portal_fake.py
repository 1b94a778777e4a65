"""The portal session (PortalDesktop + PortalInjector) against a fake portal on a private bus.

A private ``dbus-daemon`` (started and stopped here) carries a fake
``org.freedesktop.portal.Desktop`` written with dbus-fast's ServiceInterface. It behaves as
xdg-desktop-portal does where veo depends on it: request-style methods return a Request path
built from the caller's unique name and the ``handle_token``, and answer through that Request's
``Response`` signal after the method's reply; ``Start`` answers as the dialog would (devices
granted, the streams, or a cancelled / failed code); ``OpenPipeWireRemote`` passes a real file
descriptor; every Notify* call is recorded with its arguments. What the fake cannot show: the
real dialog and real PipeWire frames (see the report's real check against GNOME).
"""

import asyncio
import os
import shutil
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from dbus_fast import Message, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.annotations import (
    DBusDict,
    DBusDouble,
    DBusInt32,
    DBusObjectPath,
    DBusStr,
    DBusUInt32,
    DBusUnixFd,
)
from dbus_fast.constants import PropertyAccess
from dbus_fast.service import ServiceInterface, dbus_property, method, signal
from tests.integration.dbus_support import OnlyInterface, Request, private_dbus

from veo.agent.backend import BackendError
from veo.agent.input.base import InputError
from veo.agent.portal.desktop import PortalDesktop
from veo.agent.portal.request import DEST, PATH
from veo.tasks import spawn

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(shutil.which("dbus-daemon") is None, reason="needs dbus-daemon"),
]

MOVE = "NotifyPointerMotionAbsolute"
STREAMS = [
    (44, {"position": (0, 0), "size": (1280, 720), "id": "0"}),
    (45, {"position": (1280, 0), "size": (1920, 1080), "id": "1"}),
]


@dataclass
class Script:
    """How the fake portal behaves and what it saw."""

    remote_desktop: bool = True
    screen_cast: bool = True
    rd_version: int = 1
    rd_create_code: int = 0  # RemoteDesktop.CreateSession's answer (2: no backend serves it)
    cursor_modes: int = 7
    start_code: int = 0
    devices: int | None = None  # granted devices (None: what was asked)
    start_hangs: bool = False  # the user never answers the dialog
    hung: list[str] = field(default_factory=list)  # the request paths of the unanswered dialogs
    calls: list[tuple[str, Any]] = field(default_factory=list)
    closed: list[str] = field(default_factory=list)
    sessions: dict[str, Any] = field(default_factory=dict)
    client: str = ""

    def named(self, member: str) -> list[Any]:
        return [args for name, args in self.calls if name == member]


def plain(options: dict[str, Variant]) -> dict[str, Any]:
    return {key: value.value for key, value in options.items() if key not in ("handle_token",)}


class Session(ServiceInterface):
    def __init__(self, script: Script, path: str) -> None:
        super().__init__("org.freedesktop.portal.Session")
        self._script, self._path = script, path

    @method()
    def Close(self) -> None:
        self._script.closed.append(self._path)

    @signal()
    def Closed(self) -> DBusDict:
        return {}


def stream_props(props: dict[str, Any]) -> dict[str, Variant]:
    return {
        "position": Variant("(ii)", list(props["position"])),
        "size": Variant("(ii)", list(props["size"])),
        "id": Variant("s", props["id"]),
        "source_type": Variant("u", 1),
    }


class Portal:
    """What both interfaces share: request answers, sessions, the Start answer."""

    def __init__(self, bus: MessageBus, script: Script) -> None:
        self.bus, self.script = bus, script
        self.devices = 0

    def answer(self, options: dict[str, Variant], results: dict[str, Variant], code: int = 0) -> str:
        token = options["handle_token"].value
        path = f"{PATH}/request/{self.script.client.lstrip(':').replace('.', '_')}/{token}"
        request = Request()
        self.bus.export(path, request)
        # after the method's reply, as the real portal does (the client subscribed before calling)
        asyncio.get_running_loop().call_later(0.05, request.Response, code, results)
        return path

    def create_session(self, member: str, options: dict[str, Variant]) -> str:
        self.script.calls.append((member, plain(options)))
        session = f"{PATH}/session/x/{options['session_handle_token'].value}"
        self.script.sessions[session] = Session(self.script, session)
        self.bus.export(session, self.script.sessions[session])
        return self.answer(options, {"session_handle": Variant("s", session)})

    def start(self, member: str, session: str, options: dict[str, Variant], with_devices: bool) -> str:
        self.script.calls.append((member, session))
        if self.script.start_hangs:
            token = options["handle_token"].value
            self.script.hung.append(
                f"{PATH}/request/{self.script.client.lstrip(':').replace('.', '_')}/{token}"
            )
            return self.script.hung[-1]
        if self.script.start_code:
            return self.answer(options, {}, self.script.start_code)
        streams = [[node, stream_props(props)] for node, props in STREAMS]
        results = {"streams": Variant("a(ua{sv})", streams)}
        if with_devices:
            granted = self.devices if self.script.devices is None else self.script.devices
            results["devices"] = Variant("u", granted)
        return self.answer(options, results)


class FakeRemoteDesktop(ServiceInterface):
    def __init__(self, portal: Portal) -> None:
        super().__init__("org.freedesktop.portal.RemoteDesktop")
        self.portal = portal

    @dbus_property(access=PropertyAccess.READ)
    def AvailableDeviceTypes(self) -> DBusUInt32:
        return 7

    @dbus_property(access=PropertyAccess.READ)
    def version(self) -> DBusUInt32:
        return self.portal.script.rd_version

    @method()
    def CreateSession(self, options: DBusDict) -> DBusObjectPath:
        if self.portal.script.rd_create_code:
            self.portal.script.calls.append(("RemoteDesktop.CreateSession", plain(options)))
            return self.portal.answer(options, {}, self.portal.script.rd_create_code)
        return self.portal.create_session("RemoteDesktop.CreateSession", options)

    @method()
    def SelectDevices(self, session: DBusObjectPath, options: DBusDict) -> DBusObjectPath:
        self.portal.script.calls.append(("SelectDevices", plain(options)))
        self.portal.devices = options["types"].value
        return self.portal.answer(options, {})

    @method()
    def Start(self, session: DBusObjectPath, parent: DBusStr, options: DBusDict) -> DBusObjectPath:
        return self.portal.start("RemoteDesktop.Start", session, options, with_devices=True)

    def _note(self, member: str, session: str, options: dict[str, Variant], *args: Any) -> None:
        self.portal.script.calls.append((member, (session, plain(options), *args)))

    @method()
    def NotifyPointerMotionAbsolute(
        self, session: DBusObjectPath, options: DBusDict, stream: DBusUInt32, x: DBusDouble, y: DBusDouble
    ) -> None:
        self._note("NotifyPointerMotionAbsolute", session, options, stream, x, y)

    @method()
    def NotifyPointerMotion(
        self, session: DBusObjectPath, options: DBusDict, dx: DBusDouble, dy: DBusDouble
    ) -> None:
        self._note("NotifyPointerMotion", session, options, dx, dy)

    @method()
    def NotifyPointerButton(
        self, session: DBusObjectPath, options: DBusDict, button: DBusInt32, state: DBusUInt32
    ) -> None:
        self._note("NotifyPointerButton", session, options, button, state)

    @method()
    def NotifyPointerAxisDiscrete(
        self, session: DBusObjectPath, options: DBusDict, axis: DBusUInt32, steps: DBusInt32
    ) -> None:
        self._note("NotifyPointerAxisDiscrete", session, options, axis, steps)

    @method()
    def NotifyKeyboardKeysym(
        self, session: DBusObjectPath, options: DBusDict, keysym: DBusInt32, state: DBusUInt32
    ) -> None:
        self._note("NotifyKeyboardKeysym", session, options, keysym, state)


class FakeScreenCast(ServiceInterface):
    def __init__(self, portal: Portal) -> None:
        super().__init__("org.freedesktop.portal.ScreenCast")
        self.portal = portal

    @dbus_property(access=PropertyAccess.READ)
    def AvailableCursorModes(self) -> DBusUInt32:
        return self.portal.script.cursor_modes

    @dbus_property(access=PropertyAccess.READ)
    def AvailableSourceTypes(self) -> DBusUInt32:
        return 3

    @dbus_property(access=PropertyAccess.READ)
    def version(self) -> DBusUInt32:
        return 4

    @method()
    def CreateSession(self, options: DBusDict) -> DBusObjectPath:
        return self.portal.create_session("ScreenCast.CreateSession", options)

    @method()
    def SelectSources(self, session: DBusObjectPath, options: DBusDict) -> DBusObjectPath:
        self.portal.script.calls.append(("SelectSources", plain(options)))
        return self.portal.answer(options, {})

    @method()
    def Start(self, session: DBusObjectPath, parent: DBusStr, options: DBusDict) -> DBusObjectPath:
        return self.portal.start("ScreenCast.Start", session, options, with_devices=False)

    @method()
    def OpenPipeWireRemote(self, session: DBusObjectPath, options: DBusDict) -> DBusUnixFd:
        self.portal.script.calls.append(("OpenPipeWireRemote", session))
        read, write = os.pipe()
        os.close(write)
        return read  # dbus-fast passes it (and the daemon duplicates it into the client)


@pytest.fixture
def private_bus(tmp_path: Path) -> Iterator[str]:
    with private_dbus(tmp_path) as address:
        yield address


async def serve(address: str, script: Script) -> MessageBus:
    bus = await MessageBus(bus_address=address, negotiate_unix_fd=True).connect()
    portal = Portal(bus, script)

    def remember_sender(message: Message) -> None:
        if message.path == PATH and message.sender:
            script.client = message.sender  # request paths are made from the caller's name

    bus.add_message_handler(remember_sender)
    if script.remote_desktop:
        bus.export(PATH, FakeRemoteDesktop(portal))
    if script.screen_cast:
        bus.export(PATH, FakeScreenCast(portal))
    if not script.remote_desktop and not script.screen_cast:
        bus.export(PATH, OnlyInterface("org.freedesktop.portal.Settings"))  # no ScreenCast
    await bus.request_name(DEST)
    return bus


@pytest.fixture
async def portal(private_bus: str) -> AsyncIterator[tuple[str, Script]]:
    script = Script()
    bus: MessageBus | None = None

    async def start(**changes: Any) -> None:
        nonlocal bus
        for key, value in changes.items():
            setattr(script, key, value)
        bus = await serve(private_bus, script)

    script.start = start  # type: ignore[attr-defined]
    yield private_bus, script
    if bus is not None:
        bus.disconnect()


async def opened(address: str, want_control: bool = True) -> tuple[PortalDesktop, Any]:
    desktop = PortalDesktop(address, check_gstreamer=False)
    grant = await desktop.open(want_control)
    return desktop, grant


async def test_full_grant_asks_for_everything_and_closes_the_session(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start()  # type: ignore[attr-defined]
    desktop, grant = await opened(address)
    assert grant.backend == "portal" and grant.control and grant.control_reason is None
    assert grant.pointer_in_picture
    assert [(s.node_id, s.x, s.y, s.width, s.height) for s in grant.streams] == [
        (44, 0, 0, 1280, 720),
        (45, 1280, 0, 1920, 1080),
    ]
    assert script.named("SelectDevices") == [{"types": 3}]  # version 1: nothing to persist, nothing said
    assert script.named("SelectSources") == [{"types": 1, "multiple": True, "cursor_mode": 2}]
    assert len(script.named("RemoteDesktop.Start")) == 1 and not script.named("ScreenCast.Start")
    assert len(script.named("OpenPipeWireRemote")) == 1
    fd = desktop._opened().fd
    assert os.fstat(fd)  # a real descriptor arrived
    session = script.named("RemoteDesktop.Start")[0]
    await desktop.close()
    await desktop.close()  # twice is harmless
    assert script.closed == [session]
    with pytest.raises(OSError):
        os.fstat(fd)


async def test_remote_desktop_v2_is_told_not_to_persist(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start(rd_version=2)  # type: ignore[attr-defined]
    desktop, _ = await opened(address)
    assert script.named("SelectDevices") == [{"types": 3, "persist_mode": 0}]
    await desktop.close()


async def test_no_embedded_cursor_mode_means_pointer_not_in_picture(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start(cursor_modes=1)  # type: ignore[attr-defined]
    desktop, grant = await opened(address)
    assert not grant.pointer_in_picture
    assert script.named("SelectSources") == [{"types": 1, "multiple": True}]
    await desktop.close()


async def test_switch_left_off_is_view_only_control_refused(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start(devices=0)  # type: ignore[attr-defined]
    desktop, grant = await opened(address)
    assert not grant.control and grant.control_reason == "control_refused"
    assert len(grant.streams) == 2
    with pytest.raises(InputError):
        desktop.injector()
    await desktop.close()


async def test_screencast_only_desktop_is_view_only_no_remote_desktop(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start(remote_desktop=False)  # type: ignore[attr-defined]
    desktop, grant = await opened(address)
    assert not grant.control and grant.control_reason == "no_remote_desktop"
    assert [name for name, _ in script.calls] == [
        "ScreenCast.CreateSession",
        "SelectSources",
        "ScreenCast.Start",
        "OpenPipeWireRemote",
    ]
    # a ScreenCast session (version 4) is told not to persist too
    assert script.named("SelectSources") == [
        {"types": 1, "multiple": True, "cursor_mode": 2, "persist_mode": 0}
    ]
    await desktop.close()
    assert script.closed == [script.named("ScreenCast.Start")[0]]


async def test_remote_desktop_that_cannot_create_a_session_is_view_only(portal: tuple[str, Script]) -> None:
    """xdg-desktop-portal 1.16 on sway with GNOME's backend also installed exports RemoteDesktop
    through that backend, which fails without mutter (CreateSession: response 2; seen on real
    sway in test_portal_wlroots): a screen-only session, as where the interface is absent."""
    address, script = portal
    await script.start(rd_create_code=2)  # type: ignore[attr-defined]
    desktop, grant = await opened(address)
    assert not grant.control and grant.control_reason == "no_remote_desktop"
    assert [name for name, _ in script.calls] == [
        "RemoteDesktop.CreateSession",
        "ScreenCast.CreateSession",
        "SelectSources",
        "ScreenCast.Start",
        "OpenPipeWireRemote",
    ]
    await desktop.close()


async def test_control_not_wanted_asks_only_for_the_screen(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start()  # type: ignore[attr-defined]
    desktop, grant = await opened(address, want_control=False)
    # the user said so in veo's dialog; a session without input cannot gain it later
    assert not grant.control and grant.control_reason == "control_at_start"
    assert not script.named("SelectDevices") and not script.named("RemoteDesktop.CreateSession")
    await desktop.close()


@pytest.mark.parametrize(("code", "reason"), [(1, "portal_cancelled"), (2, "portal_failed")])
async def test_dialog_cancelled_or_failed(portal: tuple[str, Script], code: int, reason: str) -> None:
    address, script = portal
    await script.start(start_code=code)  # type: ignore[attr-defined]
    desktop = PortalDesktop(address, check_gstreamer=False)
    with pytest.raises(BackendError) as raised:
        await desktop.open(True)
    assert raised.value.reason == reason
    assert not script.named("OpenPipeWireRemote")
    assert len(script.closed) == 1  # the half-made session is closed, not left behind
    await desktop.close()


async def test_no_portal_on_the_bus(private_bus: str) -> None:
    desktop = PortalDesktop(private_bus, check_gstreamer=False)
    with pytest.raises(BackendError) as raised:
        await desktop.open(True)
    assert raised.value.reason == "no_portal"


async def test_portal_without_screencast_is_no_portal(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start(remote_desktop=False, screen_cast=False)  # type: ignore[attr-defined]
    with pytest.raises(BackendError) as raised:
        await PortalDesktop(address, check_gstreamer=False).open(True)
    assert raised.value.reason == "no_portal"


async def wait_calls(script: Script, count: int) -> list[tuple[str, Any]]:
    notes = []
    for _ in range(200):
        notes = [(name, args[2:]) for name, args in script.calls if name.startswith("Notify")]
        if len(notes) >= count:
            return notes
        await asyncio.sleep(0.02)
    return notes


async def test_input_arrives_with_the_portal_arguments(
    portal: tuple[str, Script], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DISPLAY", raising=False)  # no XWayland: the layout is unknown, keysyms as they are
    address, script = portal
    await script.start()  # type: ignore[attr-defined]
    desktop, _ = await opened(address)
    session = script.named("RemoteDesktop.Start")[0]
    injector = desktop.injector()

    def drive() -> None:  # the input worker's thread
        injector.pointer_move(100, 50)  # first monitor
        time.sleep(0.3)  # sent before the next motion (a motion followed by a queued one is skipped)
        injector.pointer_button(1300, 10, "left", True)  # second monitor, relative (20, 10)
        injector.pointer_button(1300, 10, "left", False)
        injector.pointer_button(5, 5, "right", True)
        injector.pointer_button(5, 5, "right", False)
        injector.wheel(5, 5, 0, 3)
        injector.wheel(5, 5, -2, 0)
        injector.key("é", "Quote", True)
        injector.key("é", "Quote", False)
        injector.key("Enter", "Enter", True)
        injector.key("Enter", "Enter", False)
        injector.text("€\n")
        injector.pointer_button(5, 5, "middle", True)
        injector.key("Shift", "ShiftLeft", True)
        injector.release_all()  # lets go of what it holds: Shift, then the middle button

    await asyncio.to_thread(drive)
    notes = await wait_calls(script, 29)
    assert notes == [
        ("NotifyKeyboardKeysym", (0xFFE1, 1)),  # the Shift tap at open that wakes the keyboard
        ("NotifyKeyboardKeysym", (0xFFE1, 0)),
        ("NotifyPointerMotion", (0.0, 0.0)),  # and the pointer, without moving it
        (MOVE, (44, 100.0, 50.0)),
        (MOVE, (45, 20.0, 10.0)),
        ("NotifyPointerButton", (0x110, 1)),
        (MOVE, (45, 20.0, 10.0)),
        ("NotifyPointerButton", (0x110, 0)),
        (MOVE, (44, 5.0, 5.0)),
        ("NotifyPointerButton", (0x111, 1)),
        (MOVE, (44, 5.0, 5.0)),
        ("NotifyPointerButton", (0x111, 0)),
        (MOVE, (44, 5.0, 5.0)),
        ("NotifyPointerAxisDiscrete", (0, 3)),  # vertical, down
        (MOVE, (44, 5.0, 5.0)),
        ("NotifyPointerAxisDiscrete", (1, -2)),  # horizontal, left
        ("NotifyKeyboardKeysym", (0xE9, 1)),  # é: its Latin-1 keysym
        ("NotifyKeyboardKeysym", (0xE9, 0)),
        ("NotifyKeyboardKeysym", (0xFF0D, 1)),  # Return
        ("NotifyKeyboardKeysym", (0xFF0D, 0)),
        ("NotifyKeyboardKeysym", (0x010020AC, 1)),  # €: a Unicode keysym
        ("NotifyKeyboardKeysym", (0x010020AC, 0)),
        ("NotifyKeyboardKeysym", (0xFF0D, 1)),
        ("NotifyKeyboardKeysym", (0xFF0D, 0)),
        (MOVE, (44, 5.0, 5.0)),
        ("NotifyPointerButton", (0x112, 1)),
        ("NotifyKeyboardKeysym", (0xFFE1, 1)),  # Shift_L
        ("NotifyKeyboardKeysym", (0xFFE1, 0)),
        ("NotifyPointerButton", (0x112, 0)),
    ]
    assert {args[0] for name, args in script.calls if name.startswith("Notify")} == {session}
    assert {str(args[1]) for name, args in script.calls if name.startswith("Notify")} == {"{}"}
    await desktop.close()
    injector.pointer_move(1, 1)  # after the end: dropped, never raises
    await asyncio.sleep(0.1)
    assert len([name for name, _ in script.calls if name.startswith("Notify")]) == 29


async def test_queued_motions_collapse_to_where_the_pointer_ends(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start()  # type: ignore[attr-defined]
    desktop, _ = await opened(address)
    injector = desktop.injector()

    def sweep() -> None:
        for x in range(500):
            injector.pointer_move(x, 7)
        injector.pointer_button(499, 7, "left", True)

    await asyncio.to_thread(sweep)
    for _ in range(200):
        if script.named("NotifyPointerButton"):
            break
        await asyncio.sleep(0.02)
    motions = [args[2:] for name, args in script.calls if name == MOVE]
    assert motions[-1] == (44, 499.0, 7.0)  # the last one is always sent, before the button
    assert len(motions) < 500  # the ones overtaken while waiting were skipped
    assert [m[1] for m in motions] == sorted(m[1] for m in motions)  # in order
    await desktop.close()


async def test_opening_again_starts_a_new_portal_session(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start()  # type: ignore[attr-defined]
    desktop = PortalDesktop(address, check_gstreamer=False)
    seen: list[str] = []
    desktop.on_closed = lambda: seen.append("closed")
    await desktop.open(True)
    await desktop.close()
    grant = await desktop.open(True)  # a new support session on the same desktop object
    assert grant.control
    first, second = script.named("RemoteDesktop.Start")
    assert first != second and script.closed == [first]
    assert desktop.on_closed is not None  # carried over to the new portal session
    await desktop.close()
    assert script.closed == [first, second]


async def test_closing_while_the_dialog_is_open_ends_the_portal_session(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start(start_hangs=True)  # type: ignore[attr-defined]
    desktop = PortalDesktop(address, check_gstreamer=False)
    opening = spawn(desktop.open(True))
    for _ in range(200):
        if script.named("RemoteDesktop.Start"):
            break
        await asyncio.sleep(0.02)
    await desktop.close()  # veo's session ended (the technician left) while the user decides
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(opening, 5)
    assert script.closed == script.named("RemoteDesktop.Start")  # the dialog goes away with it


async def test_the_desktop_ending_the_sharing_is_reported(portal: tuple[str, Script]) -> None:
    address, script = portal
    await script.start()  # type: ignore[attr-defined]
    desktop = PortalDesktop(address, check_gstreamer=False)
    ended = asyncio.Event()
    desktop.on_closed = ended.set
    await desktop.open(True)
    session = script.named("RemoteDesktop.Start")[0]
    script.sessions[session].Closed()  # GNOME's "Stop sharing" in the top bar
    await asyncio.wait_for(ended.wait(), 5)
    injector = desktop.injector()
    injector.pointer_move(1, 1)  # the portal session is gone: nothing is sent
    await desktop.close()
    assert script.closed == []  # already closed by the desktop: not closed again
    assert not [name for name, _ in script.calls if name == MOVE]


async def test_only_the_portal_answers_the_dialog_or_ends_the_sharing(
    portal: tuple[str, Script], private_bus: str
) -> None:
    """Another program on the session bus forging the portal's signals (broadcast, and sent to
    veo's connection directly) neither answers the desktop's dialog for the user nor ends the
    sharing: only the portal's own bus name is heard."""
    address, script = portal
    await script.start(start_hangs=True)  # type: ignore[attr-defined]
    desktop = PortalDesktop(address, check_gstreamer=False)
    ended: list[str] = []
    desktop.on_closed = lambda: ended.append("closed")
    opening = spawn(desktop.open(True))
    for _ in range(200):
        if script.hung:
            break
        await asyncio.sleep(0.02)
    session = script.named("RemoteDesktop.Start")[0]
    streams = [[node, stream_props(props)] for node, props in STREAMS]
    granted = {"streams": Variant("a(ua{sv})", streams), "devices": Variant("u", 3)}
    forger = await MessageBus(bus_address=private_bus).connect()
    try:
        for destination in (None, script.client):
            await forger.send(
                Message.new_signal(
                    script.hung[0], "org.freedesktop.portal.Request", "Response", "ua{sv}", [0, granted]
                )
            )
            forged = Message.new_signal(session, "org.freedesktop.portal.Session", "Closed", "a{sv}", [{}])
            forged.destination = destination
            await forger.send(forged)
        await asyncio.sleep(0.3)
        assert not opening.done()  # still waiting for the user's answer in the desktop's window
        assert ended == [] and not script.named("OpenPipeWireRemote")
    finally:
        forger.disconnect()
        await desktop.close()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(opening, 5)
