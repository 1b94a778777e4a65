"""What every overlay backend does: show strokes and the technician's pointer, click-through.

An overlay sits above every window of the user's desktop and never takes a click or a key: the
technician "shows, doesn't act". Calls come from the agent's event loop and must return at once
(a backend queues them to its own thread); coordinates are desktop pixels (the session adds the
shared screen's origin). A backend that cannot start raises :class:`OverlayError`; the session
then goes on without annotations.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

from veo.agent.overlay.geometry import Point


class OverlayError(RuntimeError):
    """The overlay cannot be shown here (no display, no SHAPE extension, ...)."""


class Overlay(ABC):
    @abstractmethod
    def stroke(
        self, stroke_id: str, tool: str, points: Sequence[Point], color: str, width: int, done: bool
    ) -> None:
        """Show a stroke, or its new points while it is drawn."""

    @abstractmethod
    def erase(self, stroke_id: str) -> None:
        """Remove one stroke, or all of them for ``""``."""

    @abstractmethod
    def pointer(self, x: int, y: int, visible: bool, label: str = "") -> None:
        """Move (or hide) the technician's pointer marker; ``label`` is the technician's name."""

    def keep_clear(self, window_ids: Sequence[int]) -> None:  # noqa: B027 (optional for backends)
        """Never draw over these windows (the session bar): strokes are cut around them."""

    @abstractmethod
    def close(self) -> None:
        """Remove everything from the screen and release the display (idempotent)."""
