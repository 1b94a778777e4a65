"""A session with the xdg-desktop-portal RemoteDesktop + ScreenCast portals, over D-Bus (dbus-fast).

Wayland gives no program the screen or the input devices: the desktop hands them out through
the portal, after its own dialog (GNOME: monitors to share and an "Allow remote interaction"
switch). The exchange is the portal's request/response pattern: every step returns a Request
object whose ``Response`` signal carries the answer (that plumbing, and the rule that only the
portal's own signals count, is :class:`veo.agent.portal.request.PortalBus`, shared with the
stop key's GlobalShortcuts client).

The steps: ``CreateSession`` -> ``SelectDevices`` (keyboard + pointer; never persisted:
``persist_mode`` 0 where the portal knows the option, version 2 on) -> ``SelectSources`` (every
monitor, the pointer drawn into the picture because GStreamer's ``pipewiresrc`` cannot read the
cursor metadata) -> ``Start`` (the dialog) -> ``OpenPipeWireRemote`` (a file descriptor on
PipeWire, passed over the bus). A desktop without the RemoteDesktop portal (wlroots) gets a
ScreenCast-only session: view only, and the grant says so.

Input notifications come from the agent's input thread: :meth:`PortalSession.notify` hands
them to the loop that owns the bus (``call_soon_threadsafe``); they are sent in the order they
were given, each after the previous one's reply. At most :data:`MAX_QUEUED` wait for the bus: a
console sending faster than the compositor answers (a flood of keys, a 2,000-character paste
typed as Ctrl+Shift+U sequences) holds the input thread back, as a slow X server would, instead
of growing a queue of D-Bus calls without end; a compositor that stops answering altogether
costs dropped notifications, never a stuck input thread or session end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from dbus_fast import Message, MessageType, Variant
from dbus_fast.aio import MessageBus

from veo.agent.backend import BackendError
from veo.agent.desktop import StreamInfo
from veo.agent.portal.request import DEST, PATH, SESSION, PortalBus, plain, token
from veo.tasks import spawn

log = logging.getLogger(__name__)

REMOTE_DESKTOP = "org.freedesktop.portal.RemoteDesktop"
SCREEN_CAST = "org.freedesktop.portal.ScreenCast"
PROPERTIES = "org.freedesktop.DBus.Properties"

#: RemoteDesktop device types (a bit mask).
KEYBOARD, POINTER = 1, 2
CONTROL_DEVICES = KEYBOARD | POINTER
#: ScreenCast source types and cursor modes (bit masks).
MONITOR = 1
CURSOR_HIDDEN, CURSOR_EMBEDDED, CURSOR_METADATA = 1, 2, 4
#: RemoteDesktop version from which SelectDevices knows ``persist_mode`` (0: do not persist).
PERSIST_MODE_SINCE = 2
MOTION = "NotifyPointerMotionAbsolute"
#: Seconds to wait for a step that shows nothing to the user; the dialog itself waits for them.
STEP_TIMEOUT_S = 30.0
#: input notifications handed to the bus loop and not yet sent, at the most
MAX_QUEUED = 256
#: how long the input thread waits for room in that queue before it drops a notification
QUEUE_WAIT_S = 2.0


@dataclass(frozen=True)
class PortalGrant:
    """What ``Start`` gave: the streams, the PipeWire descriptor and the devices switched on."""

    streams: tuple[StreamInfo, ...]
    fd: int
    remote_desktop: bool  # a RemoteDesktop session (False: ScreenCast only, input impossible)
    devices: int  # KEYBOARD | POINTER as the user allowed them (0 when the switch stayed off)
    cursor_embedded: bool  # the pointer is drawn in the frames

    @property
    def control(self) -> bool:
        """Input can be sent: both the keyboard and the pointer were granted."""
        return self.remote_desktop and self.devices & CONTROL_DEVICES == CONTROL_DEVICES


def parse_streams(value: Any) -> tuple[StreamInfo, ...]:
    """``Start``'s ``streams`` (``a(ua{sv})``) as :class:`StreamInfo` (missing fields -> 0).

    No name: the stream's ``id`` is an opaque token, not something to show the technician.
    """
    streams = []
    for node, props in value or ():
        position = plain(props.get("position")) or (0, 0)
        size = plain(props.get("size")) or (0, 0)
        streams.append(
            StreamInfo(
                node_id=int(node),
                x=int(position[0]),
                y=int(position[1]),
                width=int(size[0]),
                height=int(size[1]),
            )
        )
    return tuple(streams)


class PortalSession:
    """One portal session on its own bus connection, used from the loop that opened it.

    ``bus_address`` is for tests (a private bus); by default the user's session bus.
    """

    def __init__(
        self,
        bus_address: str | None = None,
        step_timeout: float = STEP_TIMEOUT_S,
        max_queued: int = MAX_QUEUED,
        queue_wait: float = QUEUE_WAIT_S,
    ) -> None:
        self._bus_address = bus_address
        self._step_timeout = step_timeout
        self._max_queued = max_queued
        self._queue_wait = queue_wait
        #: notifications handed to the loop and not yet sent or dropped (any thread, under _room)
        self._queued = 0
        self._room = threading.Condition()
        self._stalled = False  # a wait for room timed out: drop at once until the bus drains
        self._bus: MessageBus | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._session: str | None = None
        self._portal = PortalBus(BackendError, bus_address, step_timeout, negotiate_unix_fd=True)
        self._remote_desktop = False
        self._closed = False
        self._failures_logged = 0
        self._outbox: deque[Message] = deque()  # input notifications not yet sent (loop only)
        self._sender: asyncio.Task[None] | None = None
        self.on_closed: Callable[[], None] | None = None  # the desktop ended the sharing itself

    @property
    def used(self) -> bool:
        """Opened (or tried to) already: a portal session is not opened twice."""
        return self._loop is not None or self._closed

    # ------------------------------------------------------------ opening

    async def open(self, want_control: bool) -> PortalGrant:
        """Create, configure and start a session; shows the desktop's dialog.

        Raises :class:`BackendError`: ``no_portal``, ``portal_cancelled``, ``portal_failed``.
        Without ``want_control`` the session is ScreenCast only: the user is not asked for input.
        """
        try:
            return await self._open(want_control)
        except BaseException:
            await self.close()
            raise

    async def _open(self, want_control: bool) -> PortalGrant:
        self._loop = asyncio.get_running_loop()
        self._bus = await self._portal.connect()
        interfaces = await self._portal.interfaces()
        await self._portal.learn_owner()
        if SCREEN_CAST not in interfaces:
            raise BackendError("no_portal", "the portal has no ScreenCast interface")
        self._remote_desktop = want_control and REMOTE_DESKTOP in interfaces
        if want_control and not self._remote_desktop:
            log.info("the portal has no RemoteDesktop interface: view only")
        first = REMOTE_DESKTOP if self._remote_desktop else SCREEN_CAST
        try:
            created = await self._create_session(first)
        except BackendError as exc:
            if first != REMOTE_DESKTOP or exc.reason != "portal_failed":
                raise
            # The interface is exported yet no backend serves it: xdg-desktop-portal before 1.17
            # falls back to any installed backend, so a sway computer that also has
            # xdg-desktop-portal-gnome offers a RemoteDesktop that GNOME's backend cannot run
            # without mutter (CreateSession: response 2). Nothing was shown to the user yet:
            # a screen-only session, view only, as where the interface is absent.
            log.info("the RemoteDesktop portal could not create a session (%s): view only", exc)
            self._remote_desktop, first = False, SCREEN_CAST
            created = await self._create_session(first)
        self._session = str(plain(created.get("session_handle")) or "")
        if not self._session:
            raise BackendError("portal_failed", "CreateSession gave no session handle")
        await self._portal.listen(SESSION, "Closed", self._session, self._on_closed)
        if self._remote_desktop:
            await self._select_devices()
        cursor_embedded = await self._select_sources()
        # the dialog: no timeout, the user takes the time they need
        started = await self._portal.request(
            first, "Start", "osa{sv}", [self._session, ""], {}, waits_for_user=True
        )
        results = started[1]
        streams = parse_streams(plain(results.get("streams")))
        if not streams:
            raise BackendError("portal_failed", "Start gave no stream")
        devices = int(plain(results.get("devices")) or 0) if self._remote_desktop else 0
        fd = await self._pipewire_fd()
        grant = PortalGrant(streams, fd, self._remote_desktop, devices, cursor_embedded)
        log.info(
            "portal session started: %d stream(s), devices %d, control %s, pointer in picture %s",
            len(streams), devices, grant.control, cursor_embedded,
        )  # fmt: skip
        return grant

    async def _create_session(self, interface: str) -> dict[str, Any]:
        _, created = await self._portal.request(
            interface, "CreateSession", "a{sv}", [], {"session_handle_token": Variant("s", token("veos"))}
        )
        return created

    async def _property(self, interface: str, name: str, default: int) -> int:
        """A portal property as an int (``default`` when the portal lacks it)."""
        try:
            reply = await self._call(PATH, PROPERTIES, "Get", "ss", [interface, name])
        except BackendError:
            return default
        return int(plain(reply.body[0]))

    async def _select_devices(self) -> None:
        assert self._session is not None
        available = await self._property(REMOTE_DESKTOP, "AvailableDeviceTypes", CONTROL_DEVICES)
        version = await self._property(REMOTE_DESKTOP, "version", 1)
        options: dict[str, Variant] = {"types": Variant("u", CONTROL_DEVICES & available)}
        if version >= PERSIST_MODE_SINCE:
            options["persist_mode"] = Variant("u", 0)  # every session asks again
        await self._portal.request(REMOTE_DESKTOP, "SelectDevices", "oa{sv}", [self._session], options)

    async def _select_sources(self) -> bool:
        """Every monitor, pointer embedded where offered; True when it is."""
        assert self._session is not None
        cursor_modes = await self._property(SCREEN_CAST, "AvailableCursorModes", 0)
        options: dict[str, Variant] = {"types": Variant("u", MONITOR), "multiple": Variant("b", True)}
        embedded = bool(cursor_modes & CURSOR_EMBEDDED)
        if embedded:
            options["cursor_mode"] = Variant("u", CURSOR_EMBEDDED)
        # a RemoteDesktop session's persistence is SelectDevices' option; the portal refuses it here
        if not self._remote_desktop and await self._property(SCREEN_CAST, "version", 1) >= 4:
            options["persist_mode"] = Variant("u", 0)
        await self._portal.request(SCREEN_CAST, "SelectSources", "oa{sv}", [self._session], options)
        return embedded

    async def _pipewire_fd(self) -> int:
        assert self._session is not None
        reply = await self._call(PATH, SCREEN_CAST, "OpenPipeWireRemote", "oa{sv}", [self._session, {}])
        index = int(reply.body[0])
        fds = list(reply.unix_fds)
        fd = fds.pop(index) if 0 <= index < len(fds) else None
        for other in fds:  # never leak a descriptor the portal added (all of them on a bad index)
            os.close(other)
        if fd is None:
            raise BackendError("portal_failed", "OpenPipeWireRemote passed no file descriptor")
        return fd

    # ------------------------------------------------------------ D-Bus plumbing

    async def _call(self, path: str, interface: str, member: str, signature: str, body: list[Any]) -> Message:
        return await self._portal.call(path, interface, member, signature, body)

    def _on_closed(self, message: Message) -> None:
        """The portal's ``Session.Closed`` for this session: the desktop ended the sharing."""
        if self._session is None:
            return
        log.info("the desktop ended the screen sharing")
        self._session = None
        if self.on_closed is not None:
            self.on_closed()

    # ------------------------------------------------------------ input

    def notify(self, member: str, signature: str, *args: Any) -> None:
        """Send ``RemoteDesktop.<member>(session, {}, *args)``; any thread.

        Waits (another thread than the bus loop's only) while :data:`MAX_QUEUED` notifications
        are already waiting for the bus; dropped when no room came within ``queue_wait``.
        """
        loop = self._loop
        if loop is None or self._closed or not self._remote_desktop:
            return
        if not self._reserve(loop):
            return
        try:
            loop.call_soon_threadsafe(self._send, member, signature, args)
        except RuntimeError:  # the loop has closed: the session is over
            self._sent(1)

    def _reserve(self, loop: asyncio.AbstractEventLoop) -> bool:
        """A place in the queue for one notification; False: none (dropped, said once a stall)."""
        try:
            on_loop = asyncio.get_running_loop() is loop
        except RuntimeError:
            on_loop = False
        with self._room:
            if self._queued >= self._max_queued and not on_loop and not self._stalled:
                self._room.wait_for(lambda: self._queued < self._max_queued or self._closed, self._queue_wait)
            if self._closed:
                return False
            if self._queued >= self._max_queued:
                if not self._stalled:
                    log.warning("the desktop is not taking input: dropping it until it catches up")
                self._stalled = True
                return False
            self._queued += 1
            return True

    def _sent(self, count: int) -> None:
        """``count`` queued notifications were sent or dropped: room for the input thread."""
        with self._room:
            self._queued = max(0, self._queued - count)
            self._stalled = self._stalled and self._queued >= self._max_queued
            self._room.notify_all()

    def _send(self, member: str, signature: str, args: tuple[Any, ...]) -> None:
        if self._bus is None or self._session is None or self._closed:
            self._sent(1)
            return
        message = Message(
            destination=DEST,
            path=PATH,
            interface=REMOTE_DESKTOP,
            member=member,
            signature="oa{sv}" + signature,
            body=[self._session, {}, *args],
        )
        self._outbox.append(message)
        if self._sender is None or self._sender.done():
            self._sender = spawn(self._deliver(), name="portal-input")

    async def _deliver(self) -> None:
        """Send the queued notifications one at a time, each after the previous one's reply.

        Sent without waiting, mutter 43 applied some out of order: typing "dc" gave "cd" and
        keys of a Ctrl+Shift+U sequence were lost. A pointer motion followed by another motion
        still waiting is skipped: only where the pointer ends up matters.
        """
        assert self._bus is not None
        while self._outbox and not self._closed:
            message = self._outbox.popleft()
            if message.member == MOTION and self._outbox and self._outbox[0].member == MOTION:
                self._sent(1)
                continue
            try:
                reply = await asyncio.wait_for(self._bus.call(message), self._step_timeout)
                error = f"{reply.error_name} {reply.body}" if reply.message_type is MessageType.ERROR else ""
            except (TimeoutError, OSError, EOFError) as exc:
                error = repr(exc)
            finally:
                self._sent(1)
            if error and self._failures_logged < 5:  # a refused device fails every event alike
                self._failures_logged += 1
                log.warning("portal refused %s: %s", message.member, error)

    # ------------------------------------------------------------ closing

    async def close(self) -> None:
        """End the portal session (the desktop stops sharing) and the bus; safe to repeat."""
        if self._closed:
            return
        self._closed = True
        self._outbox.clear()
        self._sent(self._max_queued)  # an input thread waiting for room returns
        if self._sender is not None and self._sender is not asyncio.current_task():
            self._sender.cancel()  # a notification the compositor has not answered is moot now
        bus, session = self._bus, self._session
        self._session = None
        self._portal.cancel_pending()
        if bus is None:
            return
        if session is not None and bus.connected:
            message = Message(destination=DEST, path=session, interface=SESSION, member="Close")
            try:
                await asyncio.wait_for(bus.call(message), self._step_timeout)
            except (TimeoutError, OSError, EOFError) as exc:
                log.warning("could not close the portal session: %r", exc)
        bus.disconnect()
