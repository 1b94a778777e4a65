"""The session side of annotation: the technician's strokes and pointer, onto the overlay.

The session's policy has already judged each message (``NEEDS``: annotation needs only the *view*
grant, so it works in view-only sessions and while control is paused: it shows, it never acts).
This module turns the console's coordinates (relative to the screen shown, see ``Screen``) into
desktop pixels, clamped to the region shown so a stroke cannot land on a monitor the technician
does not see, and hands them to the overlay, which is opened only when the first annotation
arrives and closed when the session ends. If no overlay can be shown on this desktop, the
session goes on without annotations (logged once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from veo.agent.backend import BackendError
from veo.agent.capture.base import Region
from veo.agent.overlay.base import Overlay, OverlayError
from veo.protocol.annotation import Annotate, Erase, TechPointer

log = logging.getLogger(__name__)


class AnnotationPeer(Protocol):
    """What the glue needs from :class:`veo.agent.session.AgentSession`."""

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None: ...


class SessionAnnotations:
    def __init__(
        self,
        session: AnnotationPeer,
        overlay_factory: Callable[[], Overlay],
        region: Callable[[], Region | None] = lambda: None,
        technician: Callable[[], str] = lambda: "",
    ) -> None:
        self._factory = overlay_factory
        self._region = region
        self._technician = technician
        self._overlay: Overlay | None = None
        self._unavailable = False
        self._closed = False
        self._keep_clear: list[int] = []
        self._shown_region: Region | None = None
        self._drawn = False
        session.on_data("annotate", self.annotate)
        session.on_data("annotate_erase", self.erase)
        session.on_data("tech_pointer", self.pointer)

    def annotate(self, message: Annotate) -> None:
        overlay = self._open()
        if overlay is not None:
            region = self._region()
            if self._drawn and region != self._shown_region:  # another monitor: old strokes point nowhere
                overlay.erase("")
            self._shown_region, self._drawn = region, True
            points = [self._desktop(x, y) for x, y in message.points]
            overlay.stroke(message.id, message.tool, points, message.color, message.width, message.done)

    def erase(self, message: Erase) -> None:
        if self._overlay is not None and not self._closed:
            self._overlay.erase(message.id)

    def pointer(self, message: TechPointer) -> None:
        overlay = self._open() if message.visible else self._overlay
        if overlay is not None and not self._closed:
            x, y = self._desktop(message.x, message.y)
            overlay.pointer(x, y, message.visible, self._technician())

    def keep_clear(self, window_id: int) -> None:
        """Never draw over this X window (the session bar with Stop): called from the loop."""
        self._keep_clear.append(window_id)
        if self._overlay is not None and not self._closed:
            self._overlay.keep_clear(self._keep_clear)

    def close(self) -> None:
        """The session ended: take everything off the user's screen."""
        self._closed = True
        overlay, self._overlay = self._overlay, None
        if overlay is not None:
            overlay.close()

    def _desktop(self, x: int, y: int) -> tuple[int, int]:
        region = self._region()
        return region.to_desktop(x, y) if region is not None else (x, y)

    def _open(self) -> Overlay | None:
        if self._overlay is None and not self._unavailable and not self._closed:
            try:
                self._overlay = self._factory()
                if self._keep_clear:
                    self._overlay.keep_clear(self._keep_clear)
            except (OverlayError, BackendError) as exc:  # BackendError: no_overlay from the chooser
                self._unavailable = True
                log.warning("annotations cannot be shown on this desktop: %s", exc)
        return self._overlay
