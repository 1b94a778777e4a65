"""X11 screen capture: XShm into two shared buffers, only the rows drawn since the last grab.

Captures ``monitors[0]``, the whole X screen, or a region of it (one monitor, see
:mod:`veo.agent.capture.monitors`); a pixel of the image plus the region's origin is the root
coordinate XTEST moves the pointer to.

mss's own grab copies its shared memory into a new 8 MB ``bytearray`` per 1080p frame (1.0-1.3 ms
of the agent's CPU, the most of the grab). :class:`ShmFrames` has the X server write into one of
TWO shared-memory buffers of our own, in turn, and hands out that buffer without any copy: the
buffer of grab *k* stays untouched until grab *k+2*, so the stream keeps the last grab as the
"previous image" of its tile compare by reference (:attr:`MssCapture.grab_kept`).

And it asks the server only for what changed: :class:`~veo.agent.damage.DamageRegions` says
which rectangles were drawn since the last grab (taken right before the grab: nothing drawn is
ever missed, see there); the grab fetches each of them on its own (rectangles that overlap or
nearly touch joined, :mod:`.grab_parts`), plus those damaged for the grab before (this buffer
missed them, the other one got them), so every buffer is the whole current screen after its
grab. A wide part is grabbed as full-width rows, straight into place; a narrow one is copied by
the server straight into place too, where it shares pixmaps (each buffer is also a MIT-SHM
pixmap: ``CopyArea`` writes at the buffer's row stride), else grabbed into a third buffer and
copied into place (a grab is written packed at its own width): a typed letter and the bench's
pattern 1,700 rows below it are two small grabs, not every row between them.
:meth:`MssCapture.changed_area` tells the tile compare which parts can differ from the previous
grab: exactly what was grabbed (not just the damage: a drawing between the damage and the grab
may be anywhere in a grabbed part; unit test ``test_agent_damage_grab.py``); the rest is not
compared at all. A whole grab every :data:`FULL_SECONDS` keeps a screen whose drawing the
server does not report (DAMAGE is reliable on X servers, but a driver could misreport) from
staying stale for long. Without MIT-SHM, or when mss's internals differ or fail, mss's own grab.
"""

from __future__ import annotations

import contextlib
import logging
import mmap
import os
import time
from typing import Any

import mss
import numpy as np

from veo.agent.capture.base import CaptureError, Region, ScreenCapture, Size
from veo.agent.capture.grab_parts import clip_to_monitor, grab_parts
from veo.agent.capture.shm_pixmaps import ShmPixmaps
from veo.agent.damage import DamageRegions, open_damage_regions

log = logging.getLogger(__name__)

#: at least this often (seconds) a whole grab and a whole compare, whatever the damage says
FULL_SECONDS = 1.0


class ShmFrames:
    """Two MIT-SHM buffers of the desktop's size that the X server writes grabs into, in turn,
    and a third that a rectangle is grabbed into before it is copied into place (a grab is
    written packed, at its own width)."""

    def __init__(self, shot: Any) -> None:
        """``shot``: an open ``mss.MSS``; its XCB connection and root window are used (same thread)."""
        from mss.linux import xcb as xcb_module  # mss's XCB bindings (ctypes): its internals
        from mss.linux.base import ALL_PLANES

        impl = shot._impl
        xcb: Any = xcb_module
        self._xcb, self._planes = xcb, ALL_PLANES
        self._conn, self._root = impl.conn, impl.drawable
        self._depth, self._visual = impl.drawable_depth, impl.drawable_visual_id
        screen = impl.pref_screen
        self.capacity = int(screen.width_in_pixels) * int(screen.height_in_pixels) * 4
        self._buffers: list[mmap.mmap] = []
        self._segments: list[Any] = []
        try:
            for _ in range(3):
                fd = os.memfd_create("veo-grab", os.MFD_CLOEXEC)
                try:
                    os.ftruncate(fd, self.capacity)
                    self._buffers.append(mmap.mmap(fd, self.capacity))
                    segment = xcb.ShmSeg(xcb.generate_id(self._conn).value)
                    xcb.shm_attach_fd(self._conn, segment, fd, read_only=False)  # xcb closes fd
                    fd = -1
                finally:
                    if fd >= 0:
                        os.close(fd)
                self._segments.append(segment)
        except Exception:
            self.close()
            raise
        self._pixmaps: ShmPixmaps | None = None
        try:
            self._pixmaps = ShmPixmaps(xcb, self._conn, self._root, self._depth, self._segments[:2])
        except Exception as exc:  # no shared pixmaps (a GPU-backed server), mss's internals
            log.info("no shared pixmaps (%s): rectangles are copied into place", exc)

    def grab(self, index: int, monitor: dict[str, int], top: int, bottom: int) -> None:
        """Rows ``top..bottom`` of ``monitor`` into buffer ``index``, where a whole grab puts them."""
        if bottom <= top:
            return
        width = monitor["width"]
        self._get_image(
            index, monitor["left"], monitor["top"] + top, Region(0, top, width, bottom - top), top * width * 4
        )

    def _get_image(self, index: int, left: int, top: int, size: Region, offset: int) -> None:
        """The screen's rectangle at ``left, top`` of ``size``'s width and height, written packed
        into segment ``index`` at byte ``offset`` (MIT-SHM GetImage)."""
        reply = self._xcb.shm_get_image(
            self._conn,
            self._root,
            left,
            top,
            size.width,
            size.height,
            self._planes,
            self._xcb.ImageFormat.ZPixmap,
            self._segments[index],
            offset,
        )
        if reply.depth != self._depth or reply.visual != self._visual:
            raise CaptureError("the X server sent a picture of another depth")

    def grab_rect(self, index: int, monitor: dict[str, int], region: Region) -> None:
        """``region`` of ``monitor`` into buffer ``index``, where a whole grab puts it.

        Where the server shares pixmaps (MIT-SHM), the buffer is also a pixmap of the monitor's
        size and the server copies the region straight into place (:mod:`.shm_pixmaps`);
        otherwise it is grabbed into the third buffer and copied into place here (3.3 ms of the
        agent's CPU for a 1,800 x 1,800 box at 4K)."""
        if region.width <= 0 or region.height <= 0:
            return
        if self._pixmaps is not None:
            try:
                self._pixmaps.copy(index, monitor, region)
                return
            except Exception as exc:  # an X error, or ctypes: the copy through the third buffer
                log.info("no copies into shared pixmaps (%s)", exc)
                self._pixmaps = None
        self._get_image(2, monitor["left"] + region.x, monitor["top"] + region.y, region, 0)
        width = monitor["width"]
        scratch = np.frombuffer(self._buffers[2], np.uint32, region.width * region.height)
        target = np.frombuffer(self._buffers[index], np.uint32, width * monitor["height"])
        target = target.reshape(monitor["height"], width)
        window = (slice(region.y, region.y + region.height), slice(region.x, region.x + region.width))
        target[window] = scratch.reshape(region.height, region.width)

    def view(self, index: int, length: int) -> memoryview:
        """The first ``length`` bytes of buffer ``index``, read-only: the frame handed on must
        not be written into (the next grab into the same buffer is the only writer)."""
        return memoryview(self._buffers[index])[:length].toreadonly()

    def close(self) -> None:
        for buffer in self._buffers:
            with contextlib.suppress(BufferError):  # a view still held: freed with it
                buffer.close()
        self._buffers = []


class MssCapture(ScreenCapture):
    def __init__(self) -> None:
        try:
            self._mss = mss.MSS()
            self._desktop = dict(self._mss.monitors[0])
        except Exception as exc:  # mss raises its own ScreenShotError and OSError variants
            raise CaptureError(f"cannot capture the screen: {exc}") from None
        self._monitor = self._desktop
        self._frames: ShmFrames | None = None
        self._damage: DamageRegions | None = None
        try:
            self._frames = ShmFrames(self._mss)
        except Exception as exc:  # no MIT-SHM (a remote X), or mss's internals changed
            log.info("grabbing through mss (%s)", exc)
        if self._frames is not None:
            self._damage = open_damage_regions()
        self._restart()

    def _restart(self) -> None:
        """The next two grabs take everything (each buffer once)."""
        self._index = 1
        self._whole = [True, True]
        self._last: list[Region] = []
        self._area: list[Region] | None = None
        self._full_at = 0.0

    @property
    def grab_kept(self) -> bool:
        return self._frames is not None

    def size(self) -> Size:
        return Size(int(self._monitor["width"]), int(self._monitor["height"]))

    def set_region(self, region: Region | None) -> Size:
        """Grab ``region`` (clipped to the desktop) from the next frame on; ``None``: everything."""
        self._restart()
        if region is None:
            self._monitor = self._desktop
            return self.size()
        desktop = Region(
            int(self._desktop["left"]),
            int(self._desktop["top"]),
            int(self._desktop["width"]),
            int(self._desktop["height"]),
        )
        inside = region.clip(desktop)
        if inside is None:
            raise CaptureError(f"the region {region} is outside the desktop {desktop}")
        self._monitor = {"left": inside.x, "top": inside.y, "width": inside.width, "height": inside.height}
        return self.size()

    def changed_area(self) -> list[Region] | None:
        return self._area

    def grab(self) -> bytes | bytearray | memoryview:
        if self._frames is None:
            return self._grab_mss()
        try:
            return self._grab_shm(self._frames)
        except Exception as exc:  # mss's internals, the shared memory: its own grab from now on
            log.warning("grabbing through mss from now on (%s)", exc)
            self._frames = None
            return self._grab_mss()

    def _grab_mss(self) -> bytearray:
        self._area = None
        try:
            shot = self._mss.grab(self._monitor)
        except Exception as exc:
            raise CaptureError(f"screen grab failed: {exc}") from None
        raw: bytearray = shot.raw
        return raw

    def _grab_shm(self, frames: ShmFrames) -> memoryview:
        width, height = int(self._monitor["width"]), int(self._monitor["height"])
        self._index = index = 1 - self._index
        # the damage BEFORE the grab: what is drawn from here on is in the next answer
        known = self._damage is not None
        damaged = self._damage.take() if self._damage is not None else []
        now = time.monotonic()
        rects = [inside for rect in damaged if (inside := clip_to_monitor(rect, self._monitor))]
        if not known or self._whole[index] or now >= self._full_at:
            frames.grab(index, self._monitor, 0, height)
            self._whole[index] = False
            # the other buffer still misses what this damage covers
            self._last = rects if known else [Region(0, 0, width, height)]
            self._area = None
            if not known or now >= self._full_at:
                self._full_at = now + FULL_SECONDS
            return frames.view(index, width * height * 4)
        # this damage, and the last one (this buffer missed it: the other one took it), each
        # part on its own: whole rows when it is wide, else the rectangle alone
        self._area = []
        for part in grab_parts(rects + self._last, width):
            if part.width == width:
                frames.grab(index, self._monitor, part.y, part.y + part.height)
            else:
                frames.grab_rect(index, self._monitor, part)
            self._area.append(part)
        self._last = rects
        # every grabbed pixel may differ from the other buffer, not only the damage's: a drawing
        # that came between the damage and the grab is in it (and would be in both buffers by
        # the next compare, never seen, had it not been compared now); nothing else was written
        return frames.view(index, width * height * 4)

    def close(self) -> None:
        if self._damage is not None:
            self._damage.close()
        if self._frames is not None:
            self._frames.close()
        self._mss.close()
