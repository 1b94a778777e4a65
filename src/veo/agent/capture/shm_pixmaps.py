"""The capture's grab buffers as MIT-SHM pixmaps, so that the X server copies a damaged
rectangle straight into place (:mod:`.x11`).

A rectangle grabbed with GetImage is written packed at its own width and has to be copied into
the whole-screen buffer afterwards (3.3 ms of the agent's CPU for a 1,800 x 1,800 box at 4K);
``CopyArea`` into a pixmap backed by the same shared memory writes at the buffer's row stride.
libxcb's ShmCreatePixmap, CreateGC and CopyArea are called through ctypes (mss binds only what
it uses).
"""

from __future__ import annotations

from typing import Any

from veo.agent.capture.base import CaptureError, Region


class ShmPixmaps:
    """The two grab buffers as MIT-SHM pixmaps: ``CopyArea`` from the root window writes a
    rectangle into a buffer at the buffer's own row stride, so nothing is copied afterwards.

    libxcb's CopyArea, CreateGC and ShmCreatePixmap through ctypes (mss binds only what it
    uses); each copy is a checked request, so it returns once the server has written the pixels.
    """

    def __init__(self, xcb: Any, conn: Any, root: Any, depth: int, segments: list[Any]) -> None:
        import ctypes

        from mss.linux.xcbhelpers import LIB, Connection, VoidCookie

        version = xcb.shm_query_version(conn)
        if not version.shared_pixmaps or version.pixmap_format != int(xcb.ImageFormat.ZPixmap):
            raise CaptureError("the X server shares no ZPixmap pixmaps")
        u32, u16, i16, u8 = ctypes.c_uint32, ctypes.c_uint16, ctypes.c_int16, ctypes.c_uint8
        connection = ctypes.POINTER(Connection)
        self._create = LIB.shm.xcb_shm_create_pixmap_checked
        self._create.argtypes = [connection, u32, u32, u16, u16, u8, u32, u32]
        self._create.restype = VoidCookie
        self._free = LIB.xcb.xcb_free_pixmap
        self._free.argtypes = [connection, u32]
        self._free.restype = VoidCookie
        create_gc = LIB.xcb.xcb_create_gc_checked
        create_gc.argtypes = [connection, u32, u32, u32, ctypes.POINTER(u32)]
        create_gc.restype = VoidCookie
        self._copy_area = LIB.xcb.xcb_copy_area_checked
        self._copy_area.argtypes = [connection, u32, u32, u32, i16, i16, i16, i16, u16, u16]
        self._copy_area.restype = VoidCookie
        self._xcb, self._conn, self._depth = xcb, conn, depth
        self._root = int(root.value)
        self._segments = [int(segment.value) for segment in segments]
        self._gc = int(xcb.generate_id(conn).value)
        # GCSubwindowMode IncludeInferiors: the windows on the root are the screen too.
        # GCGraphicsExposures off: else every CopyArea queues a NoExpose event that nobody reads
        # on mss's connection (~77 bytes a copy, 10-30 MB an hour of typing at 4K)
        values = (u32 * 2)(1, 0)  # in the mask's bit order
        create_gc(conn, self._gc, self._root, (1 << 15) | (1 << 16), values).check(conn)
        #: (buffer, width, height) -> pixmap: one per buffer for the monitor's size
        self._pixmaps: dict[tuple[int, int, int], int] = {}

    def _pixmap(self, index: int, width: int, height: int) -> int:
        key = (index, width, height)
        if key not in self._pixmaps:
            for old in [k for k in self._pixmaps if k[0] == index]:
                self._free(self._conn, self._pixmaps.pop(old))
            pixmap = int(self._xcb.generate_id(self._conn).value)
            self._create(
                self._conn, pixmap, self._root, width, height, self._depth, self._segments[index], 0
            ).check(self._conn)
            self._pixmaps[key] = pixmap
        return self._pixmaps[key]

    def copy(self, index: int, monitor: dict[str, int], region: Region) -> None:
        pixmap = self._pixmap(index, monitor["width"], monitor["height"])
        self._copy_area(
            self._conn,
            self._root,
            pixmap,
            self._gc,
            monitor["left"] + region.x,
            monitor["top"] + region.y,
            region.x,
            region.y,
            region.width,
            region.height,
        ).check(self._conn)
