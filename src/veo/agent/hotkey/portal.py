"""Wayland backend: the stop key through the ``org.freedesktop.portal.GlobalShortcuts`` portal.

Wayland lets no program grab a key for the whole desktop (an X11 grab through XWayland hears
only keys typed into X11 windows, so the bar would promise a key that does nothing while the
user's Wayland windows have the focus). Where the desktop's portal offers GlobalShortcuts
(KDE Plasma 5.27+, GNOME 48+), veo asks it for one shortcut: ``CreateSession``, then
``BindShortcuts`` with veo's combination as the preferred trigger; the desktop may show its own
window and the user may choose another key (``trigger_description`` of the answer says which).
The ``Activated`` signal for that shortcut calls ``on_press``. Only the portal's own signals
count: any program on the session bus can emit ``Activated`` or ``Response``, so signals from
another sender than the unique name owning the portal are ignored.

Where the portal lacks the interface (GNOME 43, the Debian 12 desktop: xdg-desktop-portal 1.16
with -gnome 43 has none), refuses the session (xdg-desktop-portal 1.21+ wants an app id from
programs outside a sandbox, which veo, shipping no ``.desktop`` file, cannot register yet) or
does not answer, :meth:`PortalHotkey.start` raises
:class:`~veo.agent.hotkey.base.HotkeyError`; the chooser turns it into ``no_stop_key`` and the bar
says that its Stop button is the way out.

Like the X11 backend it runs on a thread of its own, with its own event loop and bus connection:
``start``/``stop`` are called from the Tk thread and ``on_press`` is called from this thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from veo.agent.hotkey.base import STOP_HOTKEY_KEYS, GlobalHotkey, HotkeyError

log = logging.getLogger(__name__)

DEST = "org.freedesktop.portal.Desktop"
PATH = "/org/freedesktop/portal/desktop"
GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
REQUEST = "org.freedesktop.portal.Request"
SESSION = "org.freedesktop.portal.Session"
SHORTCUT_ID = "veo-stop"
#: the same session token every time: KDE keys what the user chose for a shortcut on it, so a
#: stable one lets the desktop find veo's earlier choice instead of asking again (the session's
#: path still differs per connection: it contains the caller's bus name)
SESSION_TOKEN = "veo_stop_key"
#: veo's combination in the XDG "shortcuts" notation (modifiers in capitals, then the keysym)
STOP_TRIGGER = "+".join({"Ctrl": "CTRL", "Alt": "ALT", "Shift": "SHIFT"}.get(k, k) for k in STOP_HOTKEY_KEYS)
#: how long start() waits for the desktop to bind the key; it blocks the caller (the Tk thread),
#: and a key the bar promised but never got is worse than saying plainly there is none
BIND_TIMEOUT_S = 5.0
DEFAULT_DESCRIPTION = "Stop the veo remote support session"


class PortalHotkey(GlobalHotkey):
    """The stop key bound through the GlobalShortcuts portal (``bus_address`` for tests)."""

    def __init__(
        self,
        on_press: Callable[[], None],
        description: str = DEFAULT_DESCRIPTION,
        bus_address: str | None = None,
        bind_timeout: float = BIND_TIMEOUT_S,
    ) -> None:
        super().__init__(on_press)
        self._description = description
        self._bus_address = bus_address
        self._bind_timeout = bind_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._done: asyncio.Event | None = None
        self._bus: Any = None
        self._session = ""
        self._portal_owner = ""  # the portal's unique bus name: the only sender heard
        self._pending: dict[str, asyncio.Future[tuple[int, dict[str, Any]]]] = {}
        self._stopped = False
        #: what the desktop says the key is (may differ from veo's if the user chose another)
        self.trigger_description = ""

    def start(self) -> None:
        bound: Future[None] = Future()
        self._thread = threading.Thread(target=self._run, args=(bound,), name="veo-hotkey", daemon=True)
        self._thread.start()
        try:
            bound.result(timeout=self._bind_timeout + 1)
        except HotkeyError:
            self._join()
            raise
        except Exception as exc:  # TimeoutError, or a bus failure the thread could not word
            self.stop()
            raise HotkeyError(f"the desktop did not bind the key: {type(exc).__name__} {exc}") from None
        log.info("stop hotkey bound through the portal trigger=%r", self.trigger_description)

    def stop(self) -> None:
        if self._stopped:
            return
        self._stopped = True
        loop, done = self._loop, self._done
        if loop is not None and done is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop ended on its own in the meantime
                loop.call_soon_threadsafe(done.set)
        self._join()

    def _join(self) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=3)

    # ------------------------------------------------------------ the hotkey's own thread

    def _run(self, bound: Future[None]) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._main(bound))
        except Exception:
            log.exception("the portal hotkey failed")
        finally:
            if not bound.done():
                bound.set_exception(HotkeyError("the portal hotkey ended before the key was bound"))
            loop.close()

    async def _main(self, bound: Future[None]) -> None:
        self._done = asyncio.Event()
        if self._stopped:
            return
        try:
            await asyncio.wait_for(self._bind(), self._bind_timeout)
        except HotkeyError as exc:
            bound.set_exception(exc)
        except TimeoutError:
            bound.set_exception(HotkeyError("the desktop did not answer in time"))
        except Exception as exc:  # the bus refused or dropped: no key, said plainly
            bound.set_exception(HotkeyError(f"the portal failed: {type(exc).__name__}: {exc}"))
        else:
            bound.set_result(None)
            await self._done.wait()
        await self._close()

    async def _bind(self) -> None:
        from dbus_fast import BusType, Variant
        from dbus_fast.aio import MessageBus

        try:
            if self._bus_address is not None:
                bus = MessageBus(bus_address=self._bus_address)
            else:
                bus = MessageBus(bus_type=BusType.SESSION)
            self._bus = await bus.connect()
        except Exception as exc:
            raise HotkeyError(f"no session bus: {exc}") from None
        bus = self._bus
        if GLOBAL_SHORTCUTS not in await self._interfaces():
            raise HotkeyError("the desktop's portal has no GlobalShortcuts interface")
        self._portal_owner = await self._owner()
        bus.add_message_handler(self._on_message)
        await self._add_match(
            f"type='signal',interface='{GLOBAL_SHORTCUTS}',member='Activated',path='{PATH}'"
        )

        created = await self._request(
            "CreateSession",
            "a{sv}",
            [{"handle_token": _token(), "session_handle_token": _fixed(SESSION_TOKEN)}],
        )
        self._session = str(_plain(created.get("session_handle", "")))
        if not self._session:
            raise HotkeyError("the portal created no session")
        shortcut = {
            "description": Variant("s", self._description),
            "preferred_trigger": Variant("s", STOP_TRIGGER),
        }
        answer = await self._request(
            "BindShortcuts",
            "oa(sa{sv})sa{sv}",
            [
                self._session,
                [[SHORTCUT_ID, shortcut]],
                "",
                {"handle_token": _token()},
            ],
        )
        for shortcut_id, props in _plain(answer.get("shortcuts")) or ():
            if shortcut_id == SHORTCUT_ID:
                self.trigger_description = str(_plain(props.get("trigger_description", "")))
                return
        raise HotkeyError("the desktop did not bind veo's shortcut")

    async def _interfaces(self) -> set[str]:
        from dbus_fast import Message, MessageType

        reply = await self._bus.call(
            Message(
                destination=DEST,
                path=PATH,
                interface="org.freedesktop.DBus.Introspectable",
                member="Introspect",
            )
        )
        if reply.message_type == MessageType.ERROR:
            raise HotkeyError(f"no desktop portal ({reply.error_name})")
        from dbus_fast.introspection import Node

        return {interface.name for interface in Node.parse(reply.body[0]).interfaces}

    async def _owner(self) -> str:
        """The unique name of the process answering as the portal (running: it was introspected)."""
        from dbus_fast import Message, MessageType

        reply = await self._bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="GetNameOwner",
                signature="s",
                body=[DEST],
            )
        )
        if reply.message_type == MessageType.ERROR:
            raise HotkeyError(f"no desktop portal ({reply.error_name})")
        return str(reply.body[0])

    async def _add_match(self, rule: str) -> None:
        from dbus_fast import Message

        await self._bus.call(
            Message(
                destination="org.freedesktop.DBus",
                path="/org/freedesktop/DBus",
                interface="org.freedesktop.DBus",
                member="AddMatch",
                signature="s",
                body=[rule],
            )
        )

    async def _request(self, member: str, signature: str, body: list[Any]) -> dict[str, Any]:
        """Call a portal method and wait for its Request's ``Response`` (subscribed before the call)."""
        from dbus_fast import Message, MessageType

        options = body[-1]
        sender = self._bus.unique_name.lstrip(":").replace(".", "_")
        handle = f"/org/freedesktop/portal/desktop/request/{sender}/{_plain(options['handle_token'])}"
        answered: asyncio.Future[tuple[int, dict[str, Any]]] = asyncio.get_running_loop().create_future()
        self._pending[handle] = answered
        await self._add_match(f"type='signal',interface='{REQUEST}',member='Response',path='{handle}'")
        reply = await self._bus.call(
            Message(
                destination=DEST,
                path=PATH,
                interface=GLOBAL_SHORTCUTS,
                member=member,
                signature=signature,
                body=body,
            )
        )
        if reply.message_type == MessageType.ERROR:
            raise HotkeyError(f"{member} failed: {reply.error_name}")
        if reply.body and reply.body[0] != handle:  # an old portal chose its own request path
            self._pending[str(reply.body[0])] = answered
        code, results = await answered
        if code != 0:
            raise HotkeyError(f"{member} was refused (response {code})")
        return results

    def _on_message(self, message: Any) -> None:
        if not self._portal_owner or message.sender != self._portal_owner:
            return  # not the portal: another program on the bus cannot press veo's key
        if message.interface == REQUEST and message.member == "Response":
            answered = self._pending.pop(message.path, None)
            if answered is not None and not answered.done():
                answered.set_result((int(message.body[0]), dict(message.body[1])))
        elif message.interface == GLOBAL_SHORTCUTS and message.member == "Activated":
            session, shortcut_id = message.body[0], message.body[1]
            if session == self._session and shortcut_id == SHORTCUT_ID and not self._stopped:
                log.info("stop hotkey pressed (portal)")
                self.on_press()

    async def _close(self) -> None:
        from dbus_fast import Message

        bus, self._bus = self._bus, None
        if bus is None:
            return
        try:
            if self._session:
                await asyncio.wait_for(
                    bus.call(
                        Message(destination=DEST, path=self._session, interface=SESSION, member="Close")
                    ),
                    2,
                )
        except Exception:
            log.debug("closing the shortcut session failed", exc_info=True)
        finally:
            bus.disconnect()


def _plain(value: Any) -> Any:
    from dbus_fast import Variant

    return value.value if isinstance(value, Variant) else value


def _fixed(token: str) -> Any:
    from dbus_fast import Variant

    return Variant("s", token)


def _token() -> Any:
    """A fresh request or session token (the last element of its object path)."""
    from dbus_fast import Variant

    return Variant("s", "veo" + secrets.token_hex(6))
