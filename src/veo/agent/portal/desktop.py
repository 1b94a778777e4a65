"""The user's Wayland desktop for one session, through the portal (:class:`PortalDesktop`).

Opened after the user's Allow in veo's own dialog: the desktop then shows its dialog (monitors,
and on GNOME an "Allow remote interaction" switch, off by default). Nothing is persisted: the
next session asks again. What the user chose there becomes the :class:`DesktopGrant`; a desktop
that cannot give control (no RemoteDesktop portal) or a user who left the switch off gives a
view-only grant that says why, so both sides can say it.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
from collections.abc import Callable
from typing import TYPE_CHECKING

from veo.agent.backend import Backend, BackendError, Reason
from veo.agent.desktop import Desktop, DesktopGrant, DesktopMonitors, StreamInfo
from veo.agent.input.base import InputError
from veo.agent.input.portal import PRESSED, RELEASED, SHIFT_L
from veo.agent.portal.bus import PortalGrant, PortalSession

if TYPE_CHECKING:
    from veo.agent.capture.base import ScreenCapture
    from veo.agent.input.base import InputInjector

log = logging.getLogger(__name__)


def gstreamer_missing() -> bool:
    """PyGObject is absent: no frames could be read, so the desktop's dialog is not even shown.

    (GStreamer's own PipeWire element is checked by the capture when it starts.)
    """
    return importlib.util.find_spec("gi") is None


def control_of(want_control: bool, grant: PortalGrant) -> tuple[bool, Reason | None]:
    """Whether input may be sent, and why not.

    Unticked in veo's dialog, control is the user's "no", not the desktop's; but the portal session
    then opens without input and cannot gain it later, so a mid-session "Ask for control" could
    never be honoured: ``control_at_start`` says so to the console (which offers no such question).
    """
    if not want_control:
        return False, "control_at_start"
    if not grant.remote_desktop:
        return False, "no_remote_desktop"
    if not grant.control:
        return False, "control_refused"
    return True, None


class PortalDesktop(Desktop):
    backend: Backend = "portal"

    def __init__(self, bus_address: str | None = None, *, check_gstreamer: bool = True) -> None:
        self._bus_address = bus_address
        self._session = PortalSession(bus_address)
        self._check_gstreamer = check_gstreamer
        self._grant: PortalGrant | None = None
        self._control = False
        self._capture: ScreenCapture | None = None  # the newest, for the monitors' current sizes

    @property
    def on_closed(self) -> Callable[[], None] | None:
        """Called on the agent loop when the desktop ends the sharing itself (its Stop button)."""
        return self._session.on_closed

    @on_closed.setter
    def on_closed(self, callback: Callable[[], None] | None) -> None:
        self._session.on_closed = callback

    async def open(self, want_control: bool) -> DesktopGrant:
        if self._check_gstreamer:
            await self._require_gstreamer()
        if self._grant is not None or self._session.used:  # opened before: a new portal session
            await self.close()
            on_closed, self._session = self._session.on_closed, PortalSession(self._bus_address)
            self._session.on_closed = on_closed
        grant = await self._session.open(want_control)
        self._grant = grant
        self._control, reason = control_of(want_control, grant)
        if self._control:
            self._wake_devices()
        return DesktopGrant(
            backend="portal",
            control=self._control,
            control_reason=reason,
            streams=grant.streams,
            pointer_in_picture=grant.cursor_embedded,
        )

    async def _require_gstreamer(self) -> None:
        """``no_gstreamer`` before the desktop's dialog, not after the user answered it.

        PyGObject, GStreamer and its ``pipewiresrc`` element are checked (GStreamer's start-up,
        tens of milliseconds, runs in a worker thread, away from the session's loop).
        """
        if gstreamer_missing():
            raise BackendError("no_gstreamer", "PyGObject is not installed")
        from veo.agent.capture.pipewire import load_gst

        await asyncio.to_thread(load_gst)

    def _wake_devices(self) -> None:
        """Tap Shift once and move the pointer by nothing, now, so that the technician's first
        keys and clicks are not lost.

        Measured on mutter 43 (headless): what is sent in the first moments after a portal
        session's *first* keyboard (or pointer) event never reaches the application: "Hola"
        typed twice 0.5 s apart arrived once, and of three clicks the first was lost; with this
        tap and a (0, 0) relative motion at open, all arrived. A lone Shift tap types nothing
        and the pointer stays where the user left it.
        """
        self._session.notify("NotifyKeyboardKeysym", "iu", SHIFT_L, PRESSED)
        self._session.notify("NotifyKeyboardKeysym", "iu", SHIFT_L, RELEASED)
        self._session.notify("NotifyPointerMotion", "dd", 0.0, 0.0)

    def _opened(self) -> PortalGrant:
        if self._grant is None:
            raise RuntimeError("PortalDesktop used before open()")
        return self._grant

    def capture(self) -> ScreenCapture:
        """Frames of the granted streams; the capture gets (and owns) its own copy of the descriptor."""
        grant = self._opened()
        try:
            from veo.agent.capture.pipewire import PipeWireCapture
        except ImportError as exc:  # PyGObject or GStreamer absent
            raise BackendError("no_gstreamer", str(exc)) from None
        capture: ScreenCapture = PipeWireCapture(os.dup(grant.fd), grant.streams)
        self._capture = capture
        return capture

    def _current_streams(self) -> tuple[StreamInfo, ...]:
        """The granted streams with their current sizes (a monitor resized since the dialog);
        any thread."""
        capture = self._capture
        current = getattr(capture, "current_streams", None)
        if current is not None:
            return tuple(current())
        grant = self._grant
        return grant.streams if grant is not None else ()

    def injector(self) -> InputInjector:
        grant = self._opened()
        if not self._control:
            raise InputError("remote control was not granted on this desktop")
        from veo.agent.input.portal import PortalInjector
        from veo.agent.input.portal_keymap import XKeymap

        keymap = XKeymap() if os.environ.get("DISPLAY") else None  # XWayland mirrors the layout
        return PortalInjector(self._session, grant.streams, self._current_streams, keymap)

    def monitors(self) -> DesktopMonitors:
        self._opened()
        from veo.agent.portal.monitors import PortalMonitors

        monitors: DesktopMonitors = PortalMonitors(self._current_streams)
        return monitors

    async def close(self) -> None:
        await self._session.close()
        grant, self._grant, self._capture = self._grant, None, None
        if grant is not None:
            with contextlib.suppress(OSError):
                os.close(grant.fd)
