"""The user's desktop as the session sees it: opened after the user's Allow, then captured and
driven through whichever backend :mod:`veo.agent.backend` chose.

On X11 opening asks nothing more: veo's own consent dialog is the only one. On Wayland opening
shows the desktop's own sharing dialog (the portal's); it comes *after* veo's dialog, in
addition to it, never instead of it, and it is asked again in every session (nothing is
persisted). What the user allowed there is the :class:`DesktopGrant`: the streams (one per
monitor) and whether remote control was switched on.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from veo.agent.backend import Backend, Reason

if TYPE_CHECKING:
    from veo.agent.capture.base import ScreenCapture
    from veo.agent.capture.monitors import Layout
    from veo.agent.input.base import InputInjector


@dataclass(frozen=True)
class StreamInfo:
    """One PipeWire stream the portal opened: a monitor, where it sits on the desktop."""

    node_id: int
    x: int
    y: int
    width: int
    height: int
    name: str = ""


@dataclass(frozen=True)
class DesktopGrant:
    """What the desktop lets this session do once opened.

    ``control`` is False when the desktop has no remote control or the user left it off in the
    desktop's dialog; ``control_reason`` then says which. ``limits`` lists what else is missing
    (``no_overlay``, ``no_stop_key``) so that both sides can say it.
    """

    backend: Backend
    control: bool = True
    control_reason: Reason | None = None
    streams: tuple[StreamInfo, ...] = ()
    pointer_in_picture: bool = False
    limits: tuple[Reason, ...] = field(default=())


class DesktopMonitors(ABC):
    """Lists the monitors; used from one worker thread (as ``capture.monitors.MonitorLister``)."""

    @abstractmethod
    def layout(self) -> Layout: ...

    @abstractmethod
    def close(self) -> None: ...


class Desktop(ABC):
    """One session's access to the user's desktop."""

    backend: Backend

    @abstractmethod
    async def open(self, want_control: bool) -> DesktopGrant:
        """Ask the desktop for the screen (and input when ``want_control``): shows the desktop's
        own dialog where it has one. Raises :class:`veo.agent.backend.BackendError`
        (``portal_cancelled`` when the user cancelled it)."""

    @abstractmethod
    def capture(self) -> ScreenCapture:
        """A capture backend; called in the capture thread, after :meth:`open`."""

    @abstractmethod
    def injector(self) -> InputInjector:
        """An input backend; called in the input thread, after :meth:`open`."""

    @abstractmethod
    def monitors(self) -> DesktopMonitors:
        """A monitor lister; called in the listing thread, after :meth:`open`."""

    @abstractmethod
    async def close(self) -> None:
        """Give the screen back (ends the portal session); safe to call more than once."""
