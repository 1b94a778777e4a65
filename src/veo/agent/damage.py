"""What changed on the screen: a tile map of the last image, and an X DAMAGE listener.

Two questions, two pieces:

- *When* did the screen change? :class:`XDamageWatcher` asks the X server (DAMAGE extension) to
  report drawing on the root window, so the stream captures right after a change instead of
  polling, and not at all while nothing is drawn (idle costs no grab, no compare, no encode).
  It runs on the event loop (``add_reader`` on its own X connection; no thread).
- *What* changed, exactly? :class:`TileMap` compares each grabbed image with the previous one in
  64-pixel tiles. DAMAGE over-reports (a redraw of identical pixels is damage too) and says
  nothing about the pixels themselves, so the tile map is the authority: no changed tile, no
  frame; changed tiles become the few rectangles that :mod:`veo.agent.convert` re-converts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from veo.agent.capture.base import Size

log = logging.getLogger(__name__)

TILE = 64


@dataclass(frozen=True)
class Rect:
    """A rectangle of the captured image, in pixels (``x``/``y`` inclusive, ``width``/``height``)."""

    x: int
    y: int
    width: int
    height: int


class TileMap:
    """The previous image and which ``tile``-sized squares of the next one differ from it.

    :meth:`diff` keeps a fresh grab by reference, or else updates the stored image only where it
    changed (a full copy of 8 MB per frame would cost as much as the compare). The first image
    is all changed.
    """

    def __init__(self, size: Size, tile: int = TILE) -> None:
        if size.width <= 0 or size.height <= 0:
            raise ValueError("an empty screen has no tiles")
        self.size = size
        self.tile = tile
        self.rows = -(-size.height // tile)
        self.cols = -(-size.width // tile)
        self._previous = np.zeros((size.height, size.width), np.uint32)
        # compared two pixels at a time (uint64) when the width allows: half the work
        self._pair = size.width % 2 == 0 and tile % 2 == 0
        lanes, lane_tile = (size.width // 2, tile // 2) if self._pair else (size.width, tile)
        self._changed = np.zeros((size.height, lanes), np.bool_)
        self._full_rows = (size.height // tile) * tile
        self._col_starts = np.arange(0, lanes, lane_tile)
        self._fresh = True

    def reset(self) -> None:
        """Forget the previous image: the next :meth:`diff` reports every tile."""
        self._fresh = True

    def view(self, raw: bytes | bytearray | memoryview) -> npt.NDArray[np.uint32]:
        """``raw`` packed BGRA rows as a (height, width) array of 32-bit pixels (no copy)."""
        if len(memoryview(raw).cast("B")) != self.size.width * self.size.height * 4:
            raise ValueError("the captured image does not match the screen size")
        pixels = np.frombuffer(raw, np.uint32)
        return pixels.reshape(self.size.height, self.size.width)

    def diff(self, pixels: npt.NDArray[np.uint32], owned: bool = False) -> npt.NDArray[np.bool_]:
        """A (rows, cols) map of the tiles that differ from the previous image; remembers this one.

        ``owned``: nobody will write into ``pixels`` afterwards (a fresh buffer per grab, as mss
        hands out), so it is kept by reference instead of copied.
        """
        if self._fresh:
            if owned:
                self._previous = pixels
            else:
                self._previous = pixels.copy()
            self._fresh = False
            return np.ones((self.rows, self.cols), np.bool_)
        if self._pair:
            np.not_equal(pixels.view(np.uint64), self._previous.view(np.uint64), out=self._changed)
        else:
            np.not_equal(pixels, self._previous, out=self._changed)
        full = self._full_rows
        parts = []
        if full:
            whole_rows = self._changed[:full].reshape(full // self.tile, self.tile, -1)
            parts.append(np.asarray(whole_rows.any(axis=1)))
        if full < self.size.height:
            parts.append(np.asarray(self._changed[full:].any(axis=0)).reshape(1, -1))
        by_row = np.asarray(np.concatenate(parts) if len(parts) > 1 else parts[0], np.bool_)
        tiles: npt.NDArray[np.bool_] = np.logical_or.reduceat(by_row, self._col_starts, axis=1)
        if owned:
            self._previous = pixels
            return tiles
        if not self._previous.flags.writeable:
            self._previous = self._previous.copy()
        for row in np.flatnonzero(tiles.any(axis=1)):
            top = int(row) * self.tile
            band = slice(top, min(top + self.tile, self.size.height))
            self._previous[band] = pixels[band]
        return tiles

    def rects(self, tiles: npt.NDArray[np.bool_]) -> list[Rect]:
        """Changed tiles as rectangles: one per run of tile rows, spanning its changed columns.

        Few, wide rectangles are cheaper to convert than many tiles (each conversion call has a
        fixed cost); typing yields one small rectangle, scrolling one big one.
        """
        rows: npt.NDArray[np.bool_] = np.asarray(tiles.any(axis=1))
        rects: list[Rect] = []
        row = 0
        while row < self.rows:
            if not rows[row]:
                row += 1
                continue
            end = row
            while end + 1 < self.rows and rows[end + 1]:
                end += 1
            columns = np.flatnonzero(np.asarray(tiles[row : end + 1]).any(axis=0))
            x0 = int(columns[0]) * self.tile
            x1 = min((int(columns[-1]) + 1) * self.tile, self.size.width)
            y0 = row * self.tile
            y1 = min((end + 1) * self.tile, self.size.height)
            rects.append(Rect(x0, y0, x1 - x0, y1 - y0))
            row = end + 1
        return rects


class XDamageWatcher:
    """Calls ``on_damage`` on the event loop whenever something is drawn on the X screen.

    Uses ``DamageReportNonEmpty``: the server sends ONE event when the damage region becomes
    non-empty and nothing more until :meth:`rearm` empties it, so a busy screen costs one event
    per captured frame, not one per drawing request. Call :meth:`rearm` right before grabbing:
    anything drawn after it fires again, so no change is ever missed.
    """

    def __init__(self, on_damage: Callable[[], None], display_name: str | None = None) -> None:
        from Xlib import display as xdisplay
        from Xlib.ext import damage

        self._on_damage = on_damage
        self._display: Any = xdisplay.Display(display_name)
        try:
            if not self._display.has_extension("DAMAGE"):
                raise RuntimeError("the X server has no DAMAGE extension")
            self._display.damage_query_version()
            root = self._display.screen().root
            self._damage = root.damage_create(damage.DamageReportNonEmpty)
            self._event_code = self._display.extension_event.DamageNotify
            self._display.flush()
        except Exception:
            self._display.close()
            raise
        self._loop: asyncio.AbstractEventLoop | None = None
        #: False once the X connection is gone; the stream then polls
        self.alive = True

    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        """Listen on ``loop`` (its selector watches the X connection)."""
        self._loop = loop
        loop.add_reader(self._display.fileno(), self._readable)
        self._readable()  # events that arrived before we listened

    def rearm(self) -> None:
        """Empty the damage region, so the next drawing reports again.

        Nothing once closed: the stream may close the watcher (the user pressed *Stop*) while a
        frame waited, and a request on the closed X connection would raise in aiortc's sender.
        """
        if not self.alive:
            return
        self._display.damage_subtract(self._damage)
        self._display.flush()

    def _readable(self) -> None:
        damaged = False
        try:
            while self._display.pending_events():
                event = self._display.next_event()
                damaged = damaged or event.type == self._event_code
        except Exception as exc:  # the X connection died: keep the stream alive by polling
            log.warning("X damage listener failed (%s): the stream polls instead", exc)
            self.close()
            damaged = True
        if damaged:
            self._on_damage()

    def close(self) -> None:
        self.alive = False
        if self._loop is not None:
            try:
                self._loop.remove_reader(self._display.fileno())
            except Exception:
                log.debug("removing the X reader failed", exc_info=True)
            self._loop = None
        try:
            self._display.close()
        except Exception:
            log.debug("closing the X connection failed", exc_info=True)


def open_damage_watcher(on_damage: Callable[[], None]) -> XDamageWatcher | None:
    """A watcher for ``$DISPLAY``, or ``None`` (no X, no DAMAGE): the stream then polls."""
    try:
        return XDamageWatcher(on_damage)
    except Exception as exc:
        log.info("no X damage events (%s): the stream polls the screen", exc)
        return None
