"""What every screen-capture backend does (mss on X11 today; Windows/macOS later).

A backend is used from ONE thread only (the agent's capture thread): mss and most native
capture APIs keep per-thread handles. The stream converts and paces; a backend only grabs.
"""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class CaptureError(RuntimeError):
    """The screen cannot be captured (no display, permission refused, ...)."""


@dataclass(frozen=True)
class Size:
    width: int
    height: int


@dataclass(frozen=True)
class Region:
    """A rectangle of the desktop in root-window pixels: one monitor, or the whole desktop.

    The console's coordinates are relative to the region it is shown; :meth:`to_desktop` turns
    them back into desktop pixels, pulled inside the region, so that input aimed at one monitor
    can never land on another whatever the console sends.
    """

    x: int
    y: int
    width: int
    height: int

    @property
    def size(self) -> Size:
        return Size(self.width, self.height)

    def to_desktop(self, x: int, y: int) -> tuple[int, int]:
        """Region-relative (x, y) as desktop pixels, clamped to the region."""
        return (
            self.x + min(max(x, 0), self.width - 1),
            self.y + min(max(y, 0), self.height - 1),
        )

    def clip(self, bounds: Region) -> Region | None:
        """The part of this region inside ``bounds`` (``None`` when they do not overlap)."""
        left, top = max(self.x, bounds.x), max(self.y, bounds.y)
        right = min(self.x + self.width, bounds.x + bounds.width)
        bottom = min(self.y + self.height, bounds.y + bounds.height)
        if right <= left or bottom <= top:
            return None
        return Region(left, top, right - left, bottom - top)


class ChangeWatcher(Protocol):
    """Tells the stream that the screen changed, so it grabs only then (nothing while still).

    ``veo.agent.damage.XDamageWatcher`` on X11; a capture that is itself told of each new picture
    (PipeWire) offers one through :meth:`ScreenCapture.change_watcher`.
    """

    #: False once it stopped reporting (the stream then polls at its rate cap)
    alive: bool

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Report changes from now on, by calling back on ``loop``."""

    def rearm(self) -> None:
        """The stream is about to grab: anything that changes from now on reports again."""

    def close(self) -> None: ...


class ScreenCapture(ABC):
    """Grabs the shared screen (the whole desktop, or one region of it after :meth:`set_region`)."""

    @abstractmethod
    def size(self) -> Size: ...

    @abstractmethod
    def grab(self) -> bytes | bytearray | memoryview:
        """The current screen as packed BGRA rows (``width * 4`` bytes per row)."""

    @abstractmethod
    def close(self) -> None: ...

    @property
    def grab_kept(self) -> bool:
        """True when the buffer of one grab stays unchanged until the grab after the next (two
        buffers used in turn): the stream may keep the last grab by reference, without a copy."""
        return False

    def changed_area(self) -> list[Region] | None:
        """The parts of the last grab (in its own pixels) that may differ from the grab before;
        nothing outside them changed, so nothing outside them needs comparing. ``None``: anywhere."""
        return None

    def set_region(self, region: Region | None) -> Size:
        """Grab only ``region`` of the desktop from now on (``None``: all of it); the new size.

        Backends that can only grab everything keep this default and refuse a region.
        """
        if region is not None:
            raise CaptureError("this capture backend can only show the whole screen")
        return self.size()

    def change_watcher(self, on_change: Callable[[], None]) -> ChangeWatcher | None:
        """A watcher that calls ``on_change`` whenever a new picture arrived, or ``None``.

        ``None`` (the default) leaves the stream to its other means (X DAMAGE, else polling at
        its rate cap). Backends that receive pictures only when the screen changed (PipeWire)
        return one, so that a still screen costs no grab at all and a change is taken at once.
        """
        return None
