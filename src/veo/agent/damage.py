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
import functools
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from veo.agent.capture.base import Region, Size

log = logging.getLogger(__name__)

TILE = 64
#: more damage rectangles than this are taken as their bounding box (each costs Python work)
MAX_RECTS = 32


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
        self._col_starts = np.arange(0, lanes, lane_tile)
        self._fresh = True

    def reset(self) -> None:
        """Forget the previous image: the next :meth:`diff` reports every tile."""
        self._fresh = True

    @property
    def previous(self) -> npt.NDArray[np.uint32] | None:
        """The image the next :meth:`diff` compares with (``None``: none yet, or forgotten). A
        diff of an ``owned`` image leaves it as it is; one of a borrowed image writes into it."""
        return None if self._fresh else self._previous

    def view(self, raw: bytes | bytearray | memoryview) -> npt.NDArray[np.uint32]:
        """``raw`` packed BGRA rows as a (height, width) array of 32-bit pixels (no copy)."""
        if len(memoryview(raw).cast("B")) != self.size.width * self.size.height * 4:
            raise ValueError("the captured image does not match the screen size")
        pixels = np.frombuffer(raw, np.uint32)
        return pixels.reshape(self.size.height, self.size.width)

    def diff(
        self,
        pixels: npt.NDArray[np.uint32],
        owned: bool = False,
        area: Region | Sequence[Region] | None = None,
    ) -> npt.NDArray[np.bool_]:
        """A (rows, cols) map of the tiles that differ from the previous image; remembers this one.

        ``owned``: nobody will write into ``pixels`` before the next call is over (a fresh buffer
        per grab, as mss hands out, or a capture's other buffer, see
        :attr:`~veo.agent.capture.base.ScreenCapture.grab_kept`), so it is kept by reference
        instead of copied. ``area``: the only parts of ``pixels`` that may differ from the previous
        image (the rows grabbed after X damage, see
        :meth:`~veo.agent.capture.base.ScreenCapture.changed_area`); tiles outside them are not
        compared at all. ``None``: anywhere.
        """
        if self._fresh:
            if owned:
                self._previous = pixels
            else:
                self._previous = pixels.copy()
            self._fresh = False
            return np.ones((self.rows, self.cols), np.bool_)
        tiles = np.zeros((self.rows, self.cols), np.bool_)
        areas: Sequence[Region | None] = [area] if area is None or isinstance(area, Region) else area
        for part in areas:
            window = self._window(part)
            if window is None:
                continue
            r0, r1, c0, c1 = window
            if (r1 - r0) * (c1 - c0) * 2 >= self.rows * self.cols and self._mostly_changed(pixels, r0, r1):
                tiles[r0:r1, c0:c1] = True  # a scroll, a new window: nothing to learn by comparing
            elif (c1 - c0) * 4 < self.cols * 3:  # a narrow part: its columns alone
                tiles[r0:r1, c0:c1] |= self._compare_window(pixels, r0, r1, c0, c1)
            else:
                tiles[r0:r1] |= self._compare(pixels, r0, r1)
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

    def _window(self, area: Region | None) -> tuple[int, int, int, int] | None:
        """The tile rows and columns ``[r0, r1) x [c0, c1)`` that ``area`` touches, or ``None``."""
        if area is None:
            return 0, self.rows, 0, self.cols
        inside = area.clip(Region(0, 0, self.size.width, self.size.height))
        if inside is None:
            return None
        r0, c0 = inside.y // self.tile, inside.x // self.tile
        r1 = -(-(inside.y + inside.height) // self.tile)
        c1 = -(-(inside.x + inside.width) // self.tile)
        return r0, r1, c0, c1

    def _mostly_changed(self, pixels: npt.NDArray[np.uint32], r0: int, r1: int) -> bool:
        """Whether one row in the middle of most tile rows ``r0..r1`` differs from the previous image.

        Then the whole damaged area is taken as changed without comparing it (~1 ms at 1080p, as
        much as the grab): a scroll or a new window changes nearly every tile of it anyway, and
        a tile taken as changed that was not only costs its conversion and a skipped macroblock
        in the encoder. A redraw of identical pixels (no sampled row differs) is compared in full,
        so it still sends no frame. One contiguous row per tile row: ~30 us at 1080p.
        """
        differ = 0
        for row in range(r0, r1):
            y = min(row * self.tile + self.tile // 2, self.size.height - 1)
            if not np.array_equal(pixels[y], self._previous[y]):
                differ += 1
        return differ * 2 > r1 - r0

    def _compare(self, pixels: npt.NDArray[np.uint32], r0: int, r1: int) -> npt.NDArray[np.bool_]:
        """The changed map of tile rows ``[r0, r1)``, all columns (whole rows are contiguous: a
        window of columns compared 3x slower per pixel than whole rows)."""
        tile = self.tile
        y0, y1 = r0 * tile, min(r1 * tile, self.size.height)
        new: npt.NDArray[np.unsignedinteger[Any]] = pixels
        old: npt.NDArray[np.unsignedinteger[Any]] = self._previous
        if self._pair:
            new, old = pixels.view(np.uint64), self._previous.view(np.uint64)
        changed = self._changed[y0:y1]
        np.not_equal(new[y0:y1], old[y0:y1], out=changed)
        return _by_tile(changed, tile, self._col_starts)

    def _compare_window(
        self, pixels: npt.NDArray[np.uint32], r0: int, r1: int, c0: int, c1: int
    ) -> npt.NDArray[np.bool_]:
        """The changed map of tiles ``[r0, r1) x [c0, c1)``: only their columns are read (a
        damaged rectangle grabbed on its own; on a 4K screen the box Tk redraws for a typed
        letter is 1,600 of 3,840 columns)."""
        tile = self.tile
        y0, y1 = r0 * tile, min(r1 * tile, self.size.height)
        x0, x1 = c0 * tile, min(c1 * tile, self.size.width)
        new: npt.NDArray[np.unsignedinteger[Any]] = pixels
        old: npt.NDArray[np.unsignedinteger[Any]] = self._previous
        lane = tile
        if self._pair and x1 % 2 == 0:
            new, old = pixels.view(np.uint64), self._previous.view(np.uint64)
            x0, x1, lane = x0 // 2, x1 // 2, tile // 2
        height, width = y1 - y0, x1 - x0
        # into the whole-row compare's buffer, contiguous (a new array per call: its page faults;
        # a reduceat over its rows: ten times the reshape's time)
        changed = self._changed.reshape(-1)[: height * width].reshape(height, width)
        np.not_equal(new[y0:y1, x0:x1], old[y0:y1, x0:x1], out=changed)
        return _by_tile(changed, tile, np.arange(0, width, lane))

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


class DamageRegions:
    """Where the X screen was drawn since the last :meth:`take`: the damage as rectangles.

    The capture thread's own X connection and its own DAMAGE object on the root window (the
    watcher's one only wakes the stream and is emptied by the loop). :meth:`take` moves the
    damage into an XFixes region (``DamageSubtract`` with a ``parts`` region: atomic in the
    server, so a drawing is either in this answer or in the next one, never in neither) and
    fetches its rectangles. The capture calls it right BEFORE it grabs: whatever is drawn from
    then on, even while the grab runs, is in the next answer, so no change is ever missed (a
    change inside the grab is simply grabbed twice). The DamageNotify events this connection
    receives are thrown away; the watcher reports changes.
    """

    def __init__(self, display_name: str | None = None) -> None:
        from Xlib import X
        from Xlib import display as xdisplay
        from Xlib.ext import damage

        self._none = X.NONE
        self._display: Any = xdisplay.Display(display_name)
        try:
            for extension in ("DAMAGE", "XFIXES"):
                if not self._display.has_extension(extension):
                    raise RuntimeError(f"the X server has no {extension} extension")
            self._display.damage_query_version()
            self._display.xfixes_query_version()
            self._fixes = self._display.display.get_extension_major("XFIXES")
            root = self._display.screen().root
            self._damage = root.damage_create(damage.DamageReportNonEmpty)
            self._region = self._display.display.allocate_resource_id()
            _CreateRegion(
                display=self._display.display, opcode=self._fixes, region=self._region, rectangles=[]
            )
            self._display.sync()
        except Exception:
            self._display.close()
            raise

    def take(self) -> list[Rect]:
        """The rectangles (root-window pixels) drawn since the last call; the damage is empty
        afterwards. Their bounding box alone when there are more than :data:`MAX_RECTS`."""
        self._display.damage_subtract(self._damage, self._none, self._region)
        reply = _FetchRegion(display=self._display.display, opcode=self._fixes, region=self._region)
        while self._display.pending_events():  # read with the reply; nobody else wants them
            self._display.next_event()
        parts = reply.rectangles if len(reply.rectangles) <= MAX_RECTS else [reply.extents]
        return [Rect(int(r.x), int(r.y), int(r.width), int(r.height)) for r in parts if r.width and r.height]

    def close(self) -> None:
        try:
            self._display.close()
        except Exception:
            log.debug("closing the X connection failed", exc_info=True)


def open_damage_regions(display_name: str | None = None) -> DamageRegions | None:
    """A damage tracker for the capture thread, or ``None`` (no DAMAGE/XFixes): grab everything."""
    try:
        return DamageRegions(display_name)
    except Exception as exc:
        log.info("no X damage regions (%s): every grab takes the whole screen", exc)
        return None


@functools.cache
def _xfixes_requests() -> tuple[Any, Any]:
    """XFixes ``CreateRegion`` and ``FetchRegion``, which python-xlib does not define."""
    from Xlib.protocol import rq, structs

    class CreateRegion(rq.Request):  # type: ignore[misc]
        _request = rq.Struct(
            rq.Card8("opcode"),
            rq.Opcode(5),
            rq.RequestLength(),
            rq.Card32("region"),
            rq.List("rectangles", structs.Rectangle),
        )

    class FetchRegion(rq.ReplyRequest):  # type: ignore[misc]
        _request = rq.Struct(rq.Card8("opcode"), rq.Opcode(19), rq.RequestLength(), rq.Card32("region"))
        _reply = rq.Struct(
            rq.ReplyCode(),
            rq.Pad(1),
            rq.Card16("sequence_number"),
            rq.ReplyLength(),
            rq.Object("extents", structs.Rectangle),
            rq.Pad(16),
            rq.List("rectangles", structs.Rectangle),
        )

    return CreateRegion, FetchRegion


def _CreateRegion(**kwargs: Any) -> Any:
    return _xfixes_requests()[0](**kwargs)


def _FetchRegion(**kwargs: Any) -> Any:
    return _xfixes_requests()[1](**kwargs)


def open_damage_watcher(on_damage: Callable[[], None]) -> XDamageWatcher | None:
    """A watcher for ``$DISPLAY``, or ``None`` (no X, no DAMAGE): the stream then polls."""
    try:
        return XDamageWatcher(on_damage)
    except Exception as exc:
        log.info("no X damage events (%s): the stream polls the screen", exc)
        return None


def _by_tile(
    changed: npt.NDArray[np.bool_], tile: int, col_starts: npt.NDArray[np.intp]
) -> npt.NDArray[np.bool_]:
    """Which tiles of ``changed`` (a pixel map of differences starting on a tile row; columns in
    lanes starting at ``col_starts``) hold a difference; the last tile row may be partial."""
    height = changed.shape[0]
    full = height // tile * tile  # rows in whole tile rows
    parts = []
    if full > 0:
        parts.append(np.asarray(changed[:full].reshape(full // tile, tile, -1).any(axis=1)))
    if full < height:  # the last, partial tile row
        parts.append(np.asarray(changed[full:].any(axis=0)).reshape(1, -1))
    by_row = np.asarray(np.concatenate(parts) if len(parts) > 1 else parts[0], np.bool_)
    window: npt.NDArray[np.bool_] = np.logical_or.reduceat(by_row, col_starts, axis=1)
    return window
