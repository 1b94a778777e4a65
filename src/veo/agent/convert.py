"""BGRA screen pixels -> the yuv420p frame the encoders want, converting only what changed.

Converting a whole 1920×1080 image costs ~3.9 ms (``field-notes.md``), more than grabbing and
comparing it; typing changes a few thousand pixels of two million. :class:`YuvCanvas` keeps ONE
persistent yuv420p ``av.VideoFrame`` and re-converts only the changed rectangles into it, so
typing costs a fraction of a millisecond; when most of the frame changed (scrolling) it converts
the whole frame in one go, which skips the copies a patch needs. The canvas frame is handed to
the encoder as is: aiortc's sender awaits the encoder before it asks the track for the next
frame, and both libx264 and libvpx copy the picture in, so nothing reads the canvas while it
is being updated.

Rectangles are widened by :data:`MARGIN` pixels before conversion and only their inside is
written back: the colour converter filters chroma across neighbouring pixels, and the margin
makes the edge of a patch identical to what a whole-frame conversion would give.

**Colour.** The screen's sRGB pixels become BT.601 limited-range YUV (:data:`COLORSPACE`,
:data:`COLOR_RANGE`), stated here rather than left to swscale's default. The browser must decode
with the same matrix: VP8 cannot say which one it used and is decoded as BT.601 by definition;
H.264 says it in its VUI (:mod:`veo.agent.low_latency` signals these very constants). Before,
H.264 signalled nothing and Chromium decoded it as BT.709: magenta 230,40,160 was shown as
245,65,161. Chroma comes from the lower row of each 2×2 block, its two pixels averaged
(:data:`CHROMA_LOCATION`, H.264's chroma sample location type 5).
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import ColorPrimaries, ColorRange, Colorspace, ColorTrc

from veo.agent.capture.base import Size
from veo.agent.damage import Rect

MARGIN = 4  # even: keeps chroma (2×2 subsampled) aligned
#: changed area (tenths of the frame) from which the whole frame is converted at once
WHOLE_TENTHS = 6
#: swscale's point sampling: the same luma as its filters, chroma from one pixel of each 2×2
#: block instead of a filtered one, for a third less CPU (2.1 instead of 3.1 ms per 1080p frame)
INTERPOLATION = "POINT"
#: the YUV matrix: BT.601 (swscale's ITU601 = FFmpeg's AVCOL_SPC_BT470BG, 5: the same
#: coefficients as SMPTE 170M), the one VP8 is decoded with
COLORSPACE = Colorspace.ITU601
#: limited ("MPEG", studio) range: Y 16-235, U/V 16-240; what browsers assume without a signal
COLOR_RANGE = ColorRange.MPEG
#: where the chroma of a 2×2 block is taken with :data:`INTERPOLATION` (measured: the lower row,
#: both columns averaged): H.264's ``chroma_sample_loc_type`` 5
CHROMA_LOCATION = 5
#: what the pixels are before conversion: sRGB, i.e. BT.709 primaries with the sRGB transfer
#: (IEC 61966-2-1); signalled so that a browser does not convert them as if they were TV video
PRIMARIES = ColorPrimaries.BT709
TRANSFER = ColorTrc.IEC61966_2_1


def to_yuv(frame: av.VideoFrame) -> av.VideoFrame:
    """``frame`` (BGRA) as yuv420p with this module's matrix, range and chroma sampling."""
    return frame.reformat(
        format="yuv420p", interpolation=INTERPOLATION, dst_colorspace=COLORSPACE, dst_color_range=COLOR_RANGE
    )


def _plane(frame: av.VideoFrame, index: int, height: int, width: int) -> npt.NDArray[np.uint8]:
    """A writable (height, width) view of one plane of ``frame`` (rows may be padded)."""
    plane = frame.planes[index]
    rows: npt.NDArray[np.uint8] = np.frombuffer(memoryview(plane), np.uint8)  # type: ignore[arg-type]
    return rows.reshape(-1, plane.line_size)[:height, :width]


class YuvCanvas:
    """A persistent yuv420p frame of ``size`` (even dimensions) updated patch by patch."""

    def __init__(self, size: Size) -> None:
        if size.width % 2 or size.height % 2 or size.width <= 0 or size.height <= 0:
            raise ValueError("yuv420p needs even, non-zero dimensions")
        self.size = size
        self._adopt(av.VideoFrame(size.width, size.height, "yuv420p"))
        self._bgra: av.VideoFrame | None = None  # for whole-frame conversions, made on first use

    def _adopt(self, frame: av.VideoFrame) -> None:
        self.frame = frame
        self._y = _plane(frame, 0, self.size.height, self.size.width)
        self._u = _plane(frame, 1, self.size.height // 2, self.size.width // 2)
        self._v = _plane(frame, 2, self.size.height // 2, self.size.width // 2)

    def update(self, pixels: npt.NDArray[np.uint32], rects: list[Rect]) -> int:
        """Convert ``rects`` of ``pixels`` (BGRA as uint32, at least ``size``); the pixels converted.

        When the rectangles cover most of the frame (scrolling, a new window), one whole-frame
        conversion is cheaper than patches: it skips the copies a patch needs.
        """
        area = sum(r.width * r.height for r in rects)
        if area * 10 >= self.size.width * self.size.height * WHOLE_TENTHS and pixels.shape == (
            self.size.height,
            self.size.width,
        ):
            return self._update_whole(pixels)
        converted = 0
        for rect in rects:
            converted += self._update_one(pixels, rect)
        return converted

    def _update_whole(self, pixels: npt.NDArray[np.uint32]) -> int:
        if self._bgra is None:
            self._bgra = av.VideoFrame(self.size.width, self.size.height, "bgra")
        if self._bgra.planes[0].line_size == self.size.width * 4:
            self._bgra.planes[0].update(memoryview(pixels).cast("B"))  # type: ignore[arg-type]
            source = self._bgra
        else:  # padded rows: let PyAV lay them out
            source = av.VideoFrame.from_ndarray(
                pixels.view(np.uint8).reshape(*pixels.shape, 4), format="bgra"
            )
        self._adopt(to_yuv(source))
        return self.size.width * self.size.height

    def _update_one(self, pixels: npt.NDArray[np.uint32], rect: Rect) -> int:
        width, height = self.size.width, self.size.height
        # the patch, aligned to even pixels and clipped to the (even) frame
        x0, y0 = rect.x & ~1, rect.y & ~1
        x1 = min(rect.x + rect.width + (rect.x + rect.width) % 2, width)
        y1 = min(rect.y + rect.height + (rect.y + rect.height) % 2, height)
        if x1 <= x0 or y1 <= y0:
            return 0
        # converted with a margin, written back without it
        cx0, cy0 = max(x0 - MARGIN, 0), max(y0 - MARGIN, 0)
        cx1, cy1 = min(x1 + MARGIN, width), min(y1 + MARGIN, height)
        if (cx0, cy0, cx1, cy1) == (0, 0, width, height) and pixels.shape == (height, width):
            source = pixels
        else:
            source = np.ascontiguousarray(pixels[cy0:cy1, cx0:cx1])
        ph, pw = cy1 - cy0, cx1 - cx0
        bgra = av.VideoFrame.from_ndarray(source.view(np.uint8).reshape(ph, pw, 4), format="bgra")
        patch = to_yuv(bgra)
        iy, ix = y0 - cy0, x0 - cx0
        self._y[y0:y1, x0:x1] = _plane(patch, 0, ph, pw)[iy : iy + y1 - y0, ix : ix + x1 - x0]
        cy, cx, ch, cw = iy // 2, ix // 2, (y1 - y0) // 2, (x1 - x0) // 2
        inside = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
        self._u[inside] = _plane(patch, 1, ph // 2, pw // 2)[cy : cy + ch, cx : cx + cw]
        self._v[inside] = _plane(patch, 2, ph // 2, pw // 2)[cy : cy + ch, cx : cx + cw]
        return (x1 - x0) * (y1 - y0)
