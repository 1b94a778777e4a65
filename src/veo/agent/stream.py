"""The screen as a WebRTC video track: capture thread, conversion off the loop, own pacing.

Why it looks like this (numbers in ``/work/shared/field-notes.md``):

- grabbing and BGRA -> yuv420p conversion take milliseconds per frame, so both run in a
  dedicated capture thread that owns the capture backend (mss wants one instance per thread);
  the event loop only awaits the result;
- the BGRA frame buffer is allocated once and refilled, because allocating a fresh 8 MB
  buffer per frame costs more than the conversion itself (glibc returns it to the OS each time);
- aiortc's ``VideoStreamTrack`` paces at a fixed 30 fps and bursts after a stall: this track
  keeps its own clock, skips missed slots, and sends nothing new while the screen is unchanged
  (a refresh frame every second keeps late joiners and keyframe requests served);
- nothing is captured at all until the user pressed Allow: :meth:`ScreenTrack.recv` waits on
  the consent gate, so ICE and DTLS may connect early without a single pixel leaving.
"""

from __future__ import annotations

import asyncio
import contextlib
import fractions
import logging
import math
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import cast

import av
import numpy as np
from aiortc import MediaStreamTrack
from aiortc.mediastreams import MediaStreamError

from veo.agent.capture.base import Region, ScreenCapture, Size

log = logging.getLogger(__name__)

VIDEO_CLOCK = 90_000
TIME_BASE = fractions.Fraction(1, VIDEO_CLOCK)
DEFAULT_FPS = 30.0
REFRESH_SECONDS = 1.0


class FrameConverter:
    """BGRA bytes -> yuv420p ``av.VideoFrame``, reusing buffers; ``None`` when nothing changed.

    yuv420p needs even dimensions, so an odd last row/column is cropped; :attr:`size` is the
    size actually sent (and announced to the console as the coordinate space).
    """

    def __init__(self, screen: Size) -> None:
        self.source = screen
        self.size = Size(screen.width - screen.width % 2, screen.height - screen.height % 2)
        self._previous = np.zeros(screen.width * screen.height * 4, np.uint8)
        self._have_previous = False
        self._frame = av.VideoFrame(self.size.width, self.size.height, "bgra")
        self._direct = self.size == screen and self._frame.planes[0].line_size == screen.width * 4

    def convert(self, raw: bytes | bytearray | memoryview, force: bool = False) -> av.VideoFrame | None:
        pixels = np.frombuffer(raw, np.uint8)
        if pixels.size != self._previous.size:
            raise ValueError("the captured image does not match the screen size")
        if self._have_previous and not force and np.array_equal(pixels, self._previous):
            return None
        np.copyto(self._previous, pixels)
        self._have_previous = True
        if self._direct:
            self._frame.planes[0].update(cast(bytes, raw))  # any buffer works; stubs say bytes
            source = self._frame
        else:
            rows = pixels.reshape(self.source.height, self.source.width, 4)
            source = av.VideoFrame.from_ndarray(rows[: self.size.height, : self.size.width], format="bgra")
        return source.reformat(format="yuv420p")


class ScreenTrack(MediaStreamTrack):  # type: ignore[misc]
    """A video track fed from a :class:`ScreenCapture` that lives in its own thread."""

    kind = "video"

    def __init__(
        self,
        capture_factory: Callable[[], ScreenCapture],
        fps: float = DEFAULT_FPS,
        refresh_seconds: float = REFRESH_SECONDS,
    ) -> None:
        super().__init__()
        self._factory = capture_factory
        self._interval = 1.0 / fps
        self._refresh = refresh_seconds
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="veo-capture")
        # touched only in the capture thread:
        self._capture: ScreenCapture | None = None
        self._converter: FrameConverter | None = None
        # touched only in the event loop:
        self._gate = asyncio.Event()
        self._allowed = False
        self._start: float | None = None
        self._slot = 0
        self._last_sent = -math.inf
        self.frames_sent = 0
        #: called (on the loop) when capturing fails for good, so the session can end and say why
        self.on_failure: Callable[[str], None] | None = None

    # ------------------------------------------------------------ capture thread

    def _open(self) -> FrameConverter:
        if self._converter is None:
            self._capture = self._factory()
            self._converter = FrameConverter(self._capture.size())
        return self._converter

    def _grab(self, force: bool) -> av.VideoFrame | None:
        converter = self._open()
        assert self._capture is not None
        return converter.convert(self._capture.grab(), force)

    def _close_capture(self) -> None:
        if self._capture is not None:
            self._capture.close()
            self._capture = None

    def _apply_region(self, region: Region | None) -> Size:
        """Switch the capture to ``region``; new converter and buffers for the new size.

        Runs in the capture thread between two grabs, so the very next frame has the new size;
        aiortc's H.264 and VP8 encoders re-open their context (with a keyframe) on a size change.
        """
        self._open()
        assert self._capture is not None
        self._converter = FrameConverter(self._capture.set_region(region))
        return self._converter.size

    # ------------------------------------------------------------ event loop

    async def size(self) -> Size:
        """The size of the frames this track sends (the console's coordinate space)."""
        loop = asyncio.get_running_loop()
        converter = await loop.run_in_executor(self._executor, self._open)
        return converter.size

    async def set_region(self, region: Region | None) -> Size:
        """Show only ``region`` of the desktop (one monitor) or, with ``None``, all of it.

        Takes effect at the next frame (which is sent at once: the new converter has no previous
        frame to compare with); returns the new frame size, the console's new coordinate space.
        """
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._apply_region, region)

    def allow(self) -> None:
        """The user pressed Allow: frames may flow."""
        self._allowed = True
        self._gate.set()

    def stop(self) -> None:
        """Stop for good: wake a waiting ``recv``, close the capture in its own thread."""
        if self.readyState == "ended":
            return
        super().stop()
        self._gate.set()
        with contextlib.suppress(RuntimeError):
            self._executor.submit(self._close_capture)
        self._executor.shutdown(wait=False)

    async def _next_slot(self) -> None:
        now = time.monotonic()
        if self._start is None:
            self._start = now
            return
        slot = self._slot + 1
        if self._start + slot * self._interval < now:  # late: skip the missed slots, never burst
            slot = math.ceil((now - self._start) / self._interval)
        self._slot = slot
        delay = self._start + slot * self._interval - now
        if delay > 0:
            await asyncio.sleep(delay)

    async def recv(self) -> av.VideoFrame:
        await self._gate.wait()
        loop = asyncio.get_running_loop()
        while True:
            if self.readyState != "live" or not self._allowed:
                raise MediaStreamError
            await self._next_slot()
            force = time.monotonic() - self._last_sent >= self._refresh
            try:
                frame = await loop.run_in_executor(self._executor, self._grab, force)
            except (RuntimeError, ValueError) as exc:  # executor shut down by stop(), capture failed
                if self.readyState == "live" and self.on_failure is not None:
                    log.error("screen capture failed: %s", exc)
                    self.on_failure(str(exc))
                raise MediaStreamError from None
            if self.readyState != "live":
                raise MediaStreamError
            if frame is None:
                continue
            assert self._start is not None
            self._last_sent = time.monotonic()
            frame.pts = int((self._last_sent - self._start) * VIDEO_CLOCK)
            frame.time_base = TIME_BASE
            self.frames_sent += 1
            return frame
