"""The xdg-desktop-portal request/response plumbing shared by veo's portal clients (dbus-fast).

Both the screen session (:mod:`veo.agent.portal.bus`) and the stop key
(:mod:`veo.agent.hotkey.portal`) talk to ``org.freedesktop.portal.Desktop`` the same way: a
method returns a Request object whose ``Response`` signal carries the answer, so the answer is
listened for *before* the call (a fast portal answers before the call returns). Only the
portal's own signals count: any program on the session bus can emit ``Response``, ``Closed`` or
``Activated`` (or send one to veo directly), so a signal from any sender other than the unique
name owning the portal is ignored, and none is heard before that owner is known.

Errors are raised through the ``error`` factory the client gives, ``error(reason, detail)`` with
``reason`` one of ``no_portal``, ``portal_cancelled``, ``portal_failed``: each client keeps its own
exception type and wording of the user-visible outcome.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any, Literal

from dbus_fast import BusType, Message, MessageType, Variant
from dbus_fast.aio import MessageBus
from dbus_fast.errors import DBusError

DEST = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
#: Response codes of a portal request: 0 success, 1 cancelled by the user, 2 ended otherwise.
CANCELLED = 1
#: dbus-fast's own bound on introspection, used when the caller bounds the exchange itself
INTROSPECT_TIMEOUT_S = 30.0

#: why a portal exchange failed (a subset of :data:`veo.agent.backend.Reason`)
PortalReason = Literal["no_portal", "portal_cancelled", "portal_failed"]
ErrorFactory = Callable[[PortalReason, str], Exception]
SignalHandler = Callable[[Message], None]


def sender_path_part(unique_name: str) -> str:
    """The request-path element of a bus name: ``:1.42`` -> ``1_42`` (the portal's rule)."""
    return unique_name.lstrip(":").replace(".", "_")


def plain(value: Any) -> Any:
    """A variant's value, anything else as it is (the portal's ``a{sv}`` results hold variants)."""
    return value.value if isinstance(value, Variant) else value


def token(prefix: str = "veo") -> str:
    """A fresh request or session token (the last element of its object path)."""
    return prefix + secrets.token_hex(8)


def _to_bus_daemon(member: str, argument: str) -> Message:
    """A call of the bus daemon's own ``org.freedesktop.DBus`` interface with one string."""
    return Message(
        destination="org.freedesktop.DBus",
        path="/org/freedesktop/DBus",
        interface="org.freedesktop.DBus",
        member=member,
        signature="s",
        body=[argument],
    )


class PortalBus:
    """One bus connection to the portal, used from the loop that connected it.

    ``timeout``: seconds for each call and for a response that shows the user nothing (None:
    the caller bounds the whole exchange itself). ``bus_address`` is for tests (a private bus).
    """

    def __init__(
        self,
        error: ErrorFactory,
        bus_address: str | None = None,
        timeout: float | None = None,
        negotiate_unix_fd: bool = False,
    ) -> None:
        self._error = error
        self._bus_address = bus_address
        self._timeout = timeout
        self._negotiate_unix_fd = negotiate_unix_fd
        self.bus: MessageBus | None = None
        self.owner: str | None = None  # the portal's unique bus name: the only voice heard
        self._pending: dict[str, asyncio.Future[tuple[int, dict[str, Any]]]] = {}
        self._listeners: dict[tuple[str, str, str], SignalHandler] = {}

    async def connect(self) -> MessageBus:
        """Connect and listen for every ``Response`` (an old portal may choose its own path)."""
        try:
            if self._bus_address is not None:
                bus = MessageBus(bus_address=self._bus_address, negotiate_unix_fd=self._negotiate_unix_fd)
            else:
                bus = MessageBus(bus_type=BusType.SESSION, negotiate_unix_fd=self._negotiate_unix_fd)
            self.bus = await asyncio.wait_for(bus.connect(), self._timeout)
        except (OSError, DBusError, TimeoutError, ValueError) as exc:
            raise self._error("no_portal", f"no session bus: {exc}") from None
        self.bus.add_message_handler(self._on_message)
        await self._add_match(f"type='signal',interface='{REQUEST}',member='Response'")
        return self.bus

    async def interfaces(self) -> set[str]:
        """The interfaces the portal exports (introspecting starts it when it is not running)."""
        assert self.bus is not None
        try:
            wait = INTROSPECT_TIMEOUT_S if self._timeout is None else self._timeout
            node = await self.bus.introspect(DEST, PATH, timeout=wait)
        except (DBusError, TimeoutError) as exc:
            raise self._error("no_portal", f"no desktop portal ({exc})") from None
        return {interface.name for interface in node.interfaces}

    async def learn_owner(self) -> str:
        """The unique name of the process answering as the portal: from now on its signals count."""
        reply = await self._bus_call(_to_bus_daemon("GetNameOwner", DEST), "no_portal")
        self.owner = str(reply.body[0])
        return self.owner

    async def call(self, path: str, interface: str, member: str, signature: str, body: list[Any]) -> Message:
        """A method call on the portal; an error reply or no reply in time -> ``portal_failed``."""
        message = Message(
            destination=DEST, path=path, interface=interface, member=member, signature=signature, body=body
        )
        return await self._bus_call(message, "portal_failed")

    async def request(
        self,
        interface: str,
        member: str,
        signature: str,
        args: list[Any],
        options: dict[str, Variant],
        waits_for_user: bool = False,
    ) -> tuple[int, dict[str, Any]]:
        """Call a request-style method and wait for its ``Response``; raise on anything but 0.

        ``options`` (the last argument) gets the ``handle_token``; ``waits_for_user``: the step
        shows the desktop's dialog, answered whenever the user is ready (no timeout).
        """
        assert self.bus is not None and self.bus.unique_name is not None
        handle_token = token()
        options = {**options, "handle_token": Variant("s", handle_token)}
        expected = f"{PATH}/request/{sender_path_part(self.bus.unique_name)}/{handle_token}"
        answer: asyncio.Future[tuple[int, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[expected] = answer
        try:
            reply = await self.call(PATH, interface, member, signature, [*args, options])
            handle = str(reply.body[0])
            if handle != expected:  # portals before 0.9 chose the path themselves
                self._pending[handle] = self._pending.pop(expected)
            wait = None if waits_for_user else self._timeout
            try:
                code, results = await asyncio.wait_for(answer, wait)
            except TimeoutError:
                raise self._error("portal_failed", f"{member}: no response") from None
        finally:
            for key in [key for key, value in self._pending.items() if value is answer]:
                del self._pending[key]
        if code == CANCELLED:
            raise self._error("portal_cancelled", member)
        if code != 0:
            raise self._error("portal_failed", f"{member}: response {code}")
        return code, results

    async def listen(self, interface: str, member: str, path: str, handler: SignalHandler) -> None:
        """Hear the portal's ``interface.member`` signals on ``path`` (never another sender's)."""
        self._listeners[(interface, member, path)] = handler
        await self._add_match(f"type='signal',interface='{interface}',member='{member}',path='{path}'")

    def cancel_pending(self) -> None:
        """Every request still waiting for its answer gives up (the client is closing)."""
        for answer in self._pending.values():
            if not answer.done():
                answer.cancel()

    async def _bus_call(self, message: Message, reason: PortalReason) -> Message:
        assert self.bus is not None
        try:
            reply = await asyncio.wait_for(self.bus.call(message), self._timeout)
        except (TimeoutError, OSError, EOFError) as exc:
            raise self._error(reason, f"{message.member}: {exc!r}") from None
        if reply.message_type is MessageType.ERROR:
            raise self._error(reason, f"{message.member}: {reply.error_name} {reply.body}")
        return reply

    async def _add_match(self, rule: str) -> None:
        assert self.bus is not None
        await self.bus.call(_to_bus_daemon("AddMatch", rule))

    def _on_message(self, message: Message) -> None:
        if message.message_type is not MessageType.SIGNAL:
            return
        if self.owner is None or message.sender != self.owner:
            return  # not the portal: another program on the bus cannot answer or end anything
        if message.interface == REQUEST and message.member == "Response":
            answer = self._pending.get(message.path or "")
            if answer is not None and not answer.done():
                code, results = message.body
                answer.set_result((int(code), dict(results)))
            return
        handler = self._listeners.get((message.interface or "", message.member or "", message.path or ""))
        if handler is not None:
            handler(message)
