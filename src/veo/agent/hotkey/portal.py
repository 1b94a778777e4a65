"""Wayland backend: the stop key through the ``org.freedesktop.portal.GlobalShortcuts`` portal.

Wayland lets no program grab a key for the whole desktop (an X11 grab through XWayland hears
only keys typed into X11 windows, so the bar would promise a key that does nothing while the
user's Wayland windows have the focus). Where the desktop's portal offers GlobalShortcuts
(KDE Plasma 5.27+, GNOME 48+), veo asks it for one shortcut: ``CreateSession``, then
``BindShortcuts`` with veo's combination as the preferred trigger; the desktop may show its own
window and the user may choose another key (``trigger_description`` of the answer says which).
The ``Activated`` signal for that shortcut calls ``on_press``. Only the portal's own signals
count: any program on the session bus can emit ``Activated`` or ``Response``, so signals from
another sender than the unique name owning the portal are ignored (the request/response
plumbing and that rule are :class:`veo.agent.portal.request.PortalBus`, shared with the screen
session).

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
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import TYPE_CHECKING

from veo.agent.hotkey.base import STOP_HOTKEY_KEYS, GlobalHotkey, HotkeyError

if TYPE_CHECKING:  # dbus-fast is imported when the key is bound, see _bind
    from dbus_fast import Message

    from veo.agent.portal.request import PortalBus, PortalReason

log = logging.getLogger(__name__)

GLOBAL_SHORTCUTS = "org.freedesktop.portal.GlobalShortcuts"
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
        self._portal: PortalBus | None = None
        self._session = ""
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
        from dbus_fast import Variant

        from veo.agent.portal.request import PATH, PortalBus, plain

        # no timeout of its own: _main bounds the whole binding by bind_timeout
        self._portal = portal = PortalBus(_hotkey_error, self._bus_address)
        await portal.connect()
        if GLOBAL_SHORTCUTS not in await portal.interfaces():
            raise HotkeyError("the desktop's portal has no GlobalShortcuts interface")
        await portal.learn_owner()
        await portal.listen(GLOBAL_SHORTCUTS, "Activated", PATH, self._on_activated)

        _, created = await portal.request(
            GLOBAL_SHORTCUTS,
            "CreateSession",
            "a{sv}",
            [],
            {"session_handle_token": Variant("s", SESSION_TOKEN)},
        )
        self._session = str(plain(created.get("session_handle", "")))
        if not self._session:
            raise HotkeyError("the portal created no session")
        shortcut = {
            "description": Variant("s", self._description),
            "preferred_trigger": Variant("s", STOP_TRIGGER),
        }
        _, answer = await portal.request(
            GLOBAL_SHORTCUTS,
            "BindShortcuts",
            "oa(sa{sv})sa{sv}",
            [self._session, [[SHORTCUT_ID, shortcut]], ""],
            {},
        )
        for shortcut_id, props in plain(answer.get("shortcuts")) or ():
            if shortcut_id == SHORTCUT_ID:
                self.trigger_description = str(plain(props.get("trigger_description", "")))
                return
        raise HotkeyError("the desktop did not bind veo's shortcut")

    def _on_activated(self, message: Message) -> None:
        """The portal's ``Activated``: veo's shortcut in veo's session is the stop key."""
        session, shortcut_id = message.body[0], message.body[1]
        if session == self._session and shortcut_id == SHORTCUT_ID and not self._stopped:
            log.info("stop hotkey pressed (portal)")
            self.on_press()

    async def _close(self) -> None:
        from dbus_fast import Message

        from veo.agent.portal.request import DEST, SESSION

        portal, self._portal = self._portal, None
        bus = portal.bus if portal is not None else None
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


def _hotkey_error(reason: PortalReason, detail: str) -> HotkeyError:
    """The portal's failure as the hotkey's: every reason means no stop key."""
    return HotkeyError(detail if reason == "no_portal" else f"the portal refused ({reason}): {detail}")
