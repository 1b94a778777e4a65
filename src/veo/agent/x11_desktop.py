"""The user's X11 desktop for one session (:class:`X11Desktop`): mss, XTEST and RandR, as always.

On X11 any program of the user's session may read the screen and send input, so opening asks
nothing more: veo's own consent dialog is the only one, and control is what the user allowed
there. The pointer is sent as data (the stream draws it in the console), never in the picture.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from veo.agent.backend import Backend
from veo.agent.desktop import Desktop, DesktopGrant, DesktopMonitors

if TYPE_CHECKING:
    from veo.agent.capture.base import ScreenCapture
    from veo.agent.capture.monitors import Layout, MonitorLister
    from veo.agent.input.base import InputInjector


class X11Monitors(DesktopMonitors):
    """:class:`MonitorLister` (RandR 1.5, else mss) behind the :class:`DesktopMonitors` interface."""

    def __init__(self, lister: MonitorLister) -> None:
        self._lister = lister

    def layout(self) -> Layout:
        return self._lister.layout()

    def close(self) -> None:
        self._lister.close()


class X11Desktop(Desktop):
    backend: Backend = "x11"

    def __init__(self, display_name: str | None = None) -> None:
        self._display_name = display_name

    async def open(self, want_control: bool) -> DesktopGrant:
        """X11 limits nothing: ``control`` is what the desktop allows (always), not what the user
        ticked. Control left unticked in veo's dialog is the user's own "no", kept by the policy:
        a grant saying the *desktop* refused it would make the console blame the desktop and hide
        *Ask for control*, and the session refuse a later yes to that question."""
        return DesktopGrant(backend="x11", control=True)

    def capture(self) -> ScreenCapture:
        from veo.agent.capture.x11 import MssCapture

        return MssCapture()

    def injector(self) -> InputInjector:
        from veo.agent.input.xtest import XTestInjector

        return XTestInjector(self._display_name)

    def monitors(self) -> DesktopMonitors:
        from veo.agent.capture.monitors import MonitorLister

        return X11Monitors(MonitorLister(self._display_name))

    async def close(self) -> None:
        """Nothing to give back: X11 granted nothing beyond veo's own consent."""
