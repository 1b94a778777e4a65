"""What every screen-capture backend does (mss on X11 today; Windows/macOS later).

A backend is used from ONE thread only (the agent's capture thread): mss and most native
capture APIs keep per-thread handles. The stream converts and paces; a backend only grabs.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass


class CaptureError(RuntimeError):
    """The screen cannot be captured (no display, permission refused, ...)."""


@dataclass(frozen=True)
class Size:
    width: int
    height: int


class ScreenCapture(ABC):
    """Grabs the whole shared screen; coordinates of input are pixels of this image."""

    @abstractmethod
    def size(self) -> Size: ...

    @abstractmethod
    def grab(self) -> bytes | bytearray | memoryview:
        """The current screen as packed BGRA rows (``width * 4`` bytes per row)."""

    @abstractmethod
    def close(self) -> None: ...
