"""The pointer as data: position and shape to the console, which draws it over the video.

A pointer drawn into the video would travel through capture, encoder, network and decoder
(tens of milliseconds) and, moving, would dirty tiles every frame. Sent as a few bytes on the
data channel instead, it moves on the technician's screen as soon as the user's pointer moves,
and mss leaves it out of the picture anyway.

:class:`CursorWatcher` holds the logic (what to send, relative to which origin, when) with the
X calls behind a :class:`PointerSource`, so it is unit-tested without a display;
:class:`XPointerSource` reads the pointer with ``QueryPointer`` and its image with XFixes
``GetCursorImage`` (only when XFixes says the cursor changed). :class:`AgentCursor` runs the
watcher in its own thread (its own X connection) and hands messages to the event loop, which
sends them only while the data channel is open and the user's *view* grant holds.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from veo.agent.capture.base import Region
from veo.protocol.cursor import MAX_CURSOR_SIDE, Cursor, CursorShape
from veo.protocol.datachannel import AgentDataMessage, Need

log = logging.getLogger(__name__)

FAST_SECONDS = 1 / 60  # while the pointer moves
SLOW_SECONDS = 1 / 15  # after it rested for a while
IDLE_SECONDS = 0.25  # while nothing may be sent
REST_TICKS = 60


@dataclass(frozen=True)
class Image:
    """A cursor image: ``argb`` premultiplied 32-bit pixels as X hands them out."""

    serial: int
    width: int
    height: int
    hot_x: int
    hot_y: int
    argb: list[int]


class PointerSource(Protocol):
    def position(self) -> tuple[int, int]:
        """The pointer on the desktop (root window pixels)."""

    def changed_image(self) -> Image | None:
        """The cursor image if it changed since the last call (the first call always returns it)."""


def shape_message(image: Image) -> CursorShape:
    """XFixes' premultiplied ARGB as the protocol's straight RGBA, cut to the protocol's limit."""
    width, height = min(image.width, MAX_CURSOR_SIDE), min(image.height, MAX_CURSOR_SIDE)
    pixels = np.array(image.argb, np.uint64).astype(np.uint32).reshape(image.height, image.width)
    pixels = pixels[:height, :width]
    alpha = (pixels >> 24).astype(np.uint16)
    safe = np.maximum(alpha, 1)
    rgba = np.empty((height, width, 4), np.uint8)
    for index, shift in enumerate((16, 8, 0)):
        channel = ((pixels >> shift) & 0xFF).astype(np.uint16)
        rgba[..., index] = np.minimum(channel * 255 // safe, 255).astype(np.uint8)
    rgba[..., 3] = alpha.astype(np.uint8)
    return CursorShape(
        id=image.serial & 0x7FFFFFFF,
        width=width,
        height=height,
        hot_x=min(image.hot_x, width - 1),
        hot_y=min(image.hot_y, height - 1),
        rgba=base64.b64encode(rgba.tobytes()).decode("ascii"),
    )


class CursorWatcher:
    """Turns pointer readings into the messages the console needs, and nothing more.

    ``region`` is the part of the desktop shown (``None``: all of it): positions are relative to
    its origin, like the ``screen`` message, and the cursor is invisible outside it.
    """

    def __init__(self, source: PointerSource, region: Callable[[], Region | None]) -> None:
        self._source = source
        self._region = region
        self._shape: CursorShape | None = None
        self._last: Cursor | None = None
        self.resting = 0

    def reset(self) -> None:
        """A new console listens: send the shape and the position again."""
        self._last = None
        self._shape_sent = False

    _shape_sent = False

    def poll(self) -> list[AgentDataMessage]:
        """What changed since the last poll, as messages (empty when nothing did)."""
        out: list[AgentDataMessage] = []
        image = self._source.changed_image()
        if image is not None:
            self._shape = shape_message(image)
            self._shape_sent = False
        if self._shape is not None and not self._shape_sent:
            out.append(self._shape)
            self._shape_sent = True
        x, y = self._source.position()
        region = self._region()
        if region is not None:
            visible = region.x <= x < region.x + region.width and region.y <= y < region.y + region.height
            x, y = x - region.x, y - region.y
        else:
            visible = True
        cursor = Cursor(
            x=max(-32768, min(x, 32767)),
            y=max(-32768, min(y, 32767)),
            shape=self._shape.id if self._shape is not None else 0,
            visible=visible,
        )
        if cursor != self._last or out:
            out.append(cursor)
            self._last = cursor
            self.resting = 0
        else:
            self.resting += 1
        return out


class XPointerSource:
    """The X pointer: ``QueryPointer`` for the position, XFixes for the image. One thread only."""

    def __init__(self, display_name: str | None = None) -> None:
        from Xlib import display as xdisplay
        from Xlib.ext import xfixes

        self._display: Any = xdisplay.Display(display_name)
        self._root = self._display.screen().root
        self._xfixes = bool(self._display.has_extension("XFIXES"))
        self._dirty = True
        if self._xfixes:
            self._display.xfixes_query_version()
            self._display.xfixes_select_cursor_input(self._root, xfixes.XFixesDisplayCursorNotifyMask)
            self._display.flush()

    def position(self) -> tuple[int, int]:
        reply = self._root.query_pointer()
        return int(reply.root_x), int(reply.root_y)

    def changed_image(self) -> Image | None:
        if not self._xfixes:
            return None
        while self._display.pending_events():
            self._display.next_event()  # only cursor notifications were selected
            self._dirty = True
        if not self._dirty:
            return None
        self._dirty = False
        reply = self._display.xfixes_get_cursor_image(self._root)
        width, height = int(reply.width), int(reply.height)
        if width <= 0 or height <= 0 or len(reply.cursor_image) < width * height:
            return None
        return Image(
            int(reply.cursor_serial),
            width,
            height,
            int(reply.xhot),
            int(reply.yhot),
            list(reply.cursor_image[: width * height]),
        )

    def close(self) -> None:
        self._display.close()


class CursorPeer(Protocol):
    def send_data(self, message: AgentDataMessage) -> None: ...

    def data_open(self) -> bool: ...

    def allows(self, need: Need) -> bool: ...


class AgentCursor:
    """Runs a :class:`CursorWatcher` in its own thread while the console may see the screen."""

    def __init__(
        self,
        session: CursorPeer,
        region: Callable[[], Region | None],
        source_factory: Callable[[], PointerSource] = XPointerSource,
        loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        self._session = session
        self._region = region
        self._factory = source_factory
        self._loop = loop or asyncio.get_running_loop()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="veo-cursor", daemon=True)
        self._thread.start()

    def _wanted(self) -> bool:
        # read from the cursor thread: plain attribute reads; the loop re-checks before sending
        return self._session.data_open() and self._session.allows("view")

    def _run(self) -> None:
        try:
            source = self._factory()
        except Exception as exc:
            log.info("no pointer to follow (%s): the console shows none", exc)
            return
        watcher = CursorWatcher(source, self._region)
        was_wanted = False
        try:
            while not self._stop.is_set():
                wanted = self._wanted()
                if wanted and not was_wanted:
                    watcher.reset()
                was_wanted = wanted
                if not wanted:
                    self._stop.wait(IDLE_SECONDS)
                    continue
                messages = watcher.poll()
                if messages:
                    self._loop.call_soon_threadsafe(self._deliver, messages)
                self._stop.wait(FAST_SECONDS if watcher.resting < REST_TICKS else SLOW_SECONDS)
        except Exception as exc:  # the X connection died: the session goes on without a pointer
            log.warning("following the pointer failed: %s", exc)
        finally:
            close = getattr(source, "close", None)
            if close is not None:
                close()

    def _deliver(self, messages: list[AgentDataMessage]) -> None:
        if not (self._session.data_open() and self._session.allows("view")):
            return
        for message in messages:
            self._session.send_data(message)

    def close(self) -> None:
        """Stop following the pointer (the thread ends within one tick)."""
        self._stop.set()
