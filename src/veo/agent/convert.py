"""BGRA screen pixels -> the yuv420p frame the encoders want, converting only what changed.

Converting a whole 1920×1080 image with swscale costs 2-4 ms (``field-notes.md``), more than
grabbing and comparing it; typing changes a few thousand pixels of two million.
:class:`YuvCanvas` keeps ONE persistent yuv420p ``av.VideoFrame`` and re-converts only the
changed rectangles into it, so typing costs a fraction of a millisecond; when most of the frame
changed (scrolling) swscale converts the whole frame in one go, which skips the copies a patch
needs. Where libyuv loads (:data:`native`), pictures at the screen's own size are converted by
it instead: ~0.5 ms for a whole 1080p image, any rectangle straight into the canvas
("Unscaled", below). The canvas frame is handed to
the encoder as is: aiortc's sender awaits the encoder before it asks the track for the next
frame, and both libx264 and libvpx copy the picture in, so nothing reads the canvas while it
is being updated.

**Unscaled.** libyuv takes each 2×2 block's chroma from its own four pixels, so a rectangle with
even edges converted alone is, bit for bit, what the whole conversion gives there (tested): it
writes each changed rectangle straight into the canvas's planes. swscale, without libyuv, filters
chroma across neighbouring pixels: its rectangles are widened by :data:`MARGIN` pixels before
conversion and only their inside is written back, which makes a patch's edge what a whole-frame
conversion would give.

**Colour.** The screen's sRGB pixels become BT.601 limited-range YUV (:data:`COLORSPACE`,
:data:`COLOR_RANGE`), stated here rather than left to swscale's default. The browser must decode
with the same matrix: VP8 cannot say which one it used and is decoded as BT.601 by definition;
H.264 says it in its VUI (:mod:`veo.agent.low_latency` signals these very constants). Before,
H.264 signalled nothing and Chromium decoded it as BT.709: magenta 230,40,160 was shown as
245,65,161. Chroma comes from the lower row of each 2×2 block, its two pixels averaged
(:data:`CHROMA_LOCATION`, H.264's chroma sample location type 5); libyuv's and a scaled
picture's from the block's centre (:data:`NATIVE_CHROMA_LOCATION`,
:data:`SCALED_CHROMA_LOCATION`, type 1): :func:`chroma_location` says which.

**Scaled.** When the console shows the screen smaller than it is (:mod:`veo.agent.scaling`),
the canvas is smaller than the source and one swscale pass scales and converts together
(:data:`SCALE_INTERPOLATION`). A scaled patch must sample the source exactly where a whole pass
does, or its edges show. The picture is divided into a fixed grid of about :data:`CELL`-pixel
cells whose edges (and margins, :data:`CELL_MARGIN`: the filter's reach) fall on source pixel
edges; a change re-converts the cells whose source window it touches, each rectangle of them in
one call, and writes back their inside. swscale steps through the source in 1/65536-pixel
units: where the ratio is exact in those units (2×, 3×, 3:2) a patched frame is bit-identical
to a whole pass;
at 4:3 (2560 → 1920) the rounded step drifts by ~0.01 px across the frame and a patch differs
by at most 2 levels (tested). Where no window edge falls exactly on a source pixel edge (2160
-> 854: no small grid), one within :data:`MAX_PHASE` (1/32 px) does, and the patch then differs
from a whole pass by at most :func:`patch_bound` levels (proven there, measured <= 2 on text at
4K); only a size with windows farther off converts the whole frame at every change, and
:func:`veo.agent.scaling.fit_size` avoids those. Many changed cells also take one whole pass,
which is cheaper than their calls. While the screen moves (a scroll, a new window), a whole
picture is made smaller by libyuv first (4K -> 1520x854: 3.4 ms of CPU instead of 14.2 in one
swscale pass; 1080p: 1.9 instead of 2.6), a little softer, and converted again in one sharp
swscale pass once the screen rests (:data:`FAST_WHILE_MOVING`, :meth:`YuvCanvas.settle`).
"""

from __future__ import annotations

import ctypes
import functools
import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

import av
import numpy as np
import numpy.typing as npt
from av.video.reformatter import (
    ColorPrimaries,
    ColorRange,
    Colorspace,
    ColorTrc,
    Interpolation,
    VideoReformatter,
)

from veo.agent import libyuv
from veo.agent.capture.base import Size
from veo.agent.damage import Rect
from veo.agent.scroll import Scroll

MARGIN = 4  # even: keeps chroma (2×2 subsampled) aligned
#: a scroll moves the fast picture (see YuvCanvas.update) unless more than this share of its rows
#: would have to be converted anyway (a scroll beside a wide still sidebar, a window dragged)
SHIFT_MAX_REDONE = 0.5
#: after a moving picture that was not a scroll (shapes moving every way, a window opening), this
#: many of its next pictures are made whole without looking for one: an animation paid the search
#: (up to ~1 ms) in every frame for nothing; a scroll that starts then is moved a few frames later
SHIFT_RETRY_FRAMES = 3
#: changed area (tenths of the frame) from which the whole frame is converted at once
WHOLE_TENTHS = 6
#: ...and, once a scaled picture moves fast (:data:`FAST_WHILE_MOVING`), the share that keeps it
#: fast: a scroll whose damage hovers around WHOLE_TENTHS (a window scrolled beside a still
#: sidebar) would otherwise be converted sharp and fast by turns, each sharp picture a little
#: different everywhere from the fast ones around it, which x264 sends (and a sharp pass costs
#: 4x a fast one at 4K)
FAST_UNTIL_TENTHS = 4
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
#: where libyuv (:data:`native`) takes it: the average of the block's four pixels, its centre
#: (measured like the above), H.264's ``chroma_sample_loc_type`` 1
NATIVE_CHROMA_LOCATION = 1
#: where a scaled conversion (:data:`SCALE_INTERPOLATION`) sites it: at the centre of the block
#: (measured on grey/red steps: 0.49-0.53 luma px from the block's first row and column at 4K and
#: 1080p -> 1520x854, 1080p -> 960x540, 1440p -> 1080p), H.264's ``chroma_sample_loc_type`` 1
SCALED_CHROMA_LOCATION = 1
#: what the pixels are before conversion: sRGB, i.e. BT.709 primaries with the sRGB transfer
#: (IEC 61966-2-1); signalled so that a browser does not convert them as if they were TV video
PRIMARIES = ColorPrimaries.BT709
TRANSFER = ColorTrc.IEC61966_2_1
#: the filter of a scaled conversion: bilinear (swscale widens its triangle to the ratio when it
#: scales down, so it averages like area does). 11-px text on a 4K screen recognised by template
#: match after scaling (``docs/performance.md``, "Encoding at the console's size"): at 2.5x
#: bilinear 99.5 %, bicubic 99.5, area 97.1; at 2x 94.8 / 95.4 / 93.1; at 16:7 94.8 / 95.1 / 94.2.
#: Process CPU per 4K frame to the bench's 1520x854, same minute: bilinear 13.4-14.6 ms, bicubic
#: 16.3-22.2, area 10.2-12.8 (to 1920x1080: 11.5-13.4, 13.7-16.5, 11.1-13.4). Bicubic was the
#: choice before (the bench's readability check: its stream 79.8 % of the code words at fit, an
#: ideal area downscale 72.9 %); bilinear reads the same at the ratios most consoles get for 15-35
#: % less CPU. Point sampling, the unscaled choice, drops whole strokes when it scales (36 % at 2x).
#: FULL_CHR_H_INP: swscale reads the source's chroma at full width (its SIMD input path) and
#: filters it with the scaler, instead of averaging pixel pairs first (plain C, every source
#: pixel): the same luma bit for bit and the same chroma siting (centred), for about half the
#: CPU per 4K frame (4K -> 1514x852 21.6 -> 12.1 ms; 1080p -> 1518x854 4.5 -> 3.6 ms)
SCALE_INTERPOLATION = Interpolation.BILINEAR | Interpolation.FULL_CHR_H_INP
#: ...and from :data:`SHARP_FROM` times smaller on, bicubic luma (BICUBLIN; chroma stays bilinear).
#: There a 1-px stroke keeps ~2/5 of its contrast and x264's crf 24 erases grey ones; bicubic's
#: negative lobes keep more. The bench's 11-px page at 4K -> 1520x854 through x264 (words / codes
#: recognised, ``docs/performance.md``, "Readability at fit"): black 86.6 / 78.0 -> 88.2 / 79.4,
#: #777 82.1 / 76.8 -> 86.6 / 78.7, #999 74.6 / 73.2 -> 82.9 / 77.5, #bbb 53.9 / 61.6 -> 70.4 /
#: 71.9 (an ideal picture: 88.3 / 79.4), for 12.8 ms instead of 11.3 per 4K frame and 13-21 %
#: more bytes on a settled page. At 1080p -> 1520x854 it reads no better, so smaller ratios keep
#: bilinear
SHARP_SCALE_INTERPOLATION = Interpolation.BICUBLIN | Interpolation.FULL_CHR_H_INP
SHARP_FROM = 2.0
#: scaled patches: the grid's cell (encoded pixels, even) and the margin each cell is converted
#: with (encoded pixels, even: the filter's reach in luma and in the half-size chroma, even
#: bicubic's). A typed character at 4K -> 1080p cost 1.35 ms CPU with 256-px cells, 0.54 with
#: 128, 0.37 with 64 (more cells, each with its margins and a call: 128 is the balance)
CELL = 128
CELL_MARGIN = 8
#: how much further (encoded pixels) a cell's window may reach to start and end on (or near) a
#: source pixel edge (:func:`veo.agent.scaling.grid_size` picks sizes where one is always in
#: reach). 48 rather than 32: with 24 even candidates, every view of a 4K, 1440p, 1080p or
#: 3440x1440 screen has a size within 3 % whose windows all fall within MAX_PHASE (32: ~2 % none)
SNAP = 96
#: how far (source pixels) a cell window's edge may fall from a source pixel edge for patches.
#: A window whose edge is ``d`` px off samples the source shifted by at most ``d`` against a whole
#: pass (the shift varies linearly between its two edges), so a patch differs from it by at most
#: ``219 * d * TV / r + 1`` luma levels (:func:`patch_bound`): TV, the total variation of the
#: filter's kernel (:data:`KERNEL_TV`), stretched by the ratio ``r`` >= 1 when it scales down,
#: and 1 for rounding. 1/32 px: <= 5 levels at 4K -> 1520x854 (r 2.5) for the worst pattern
#: possible; measured <= 2 on 11-px text at 4K, <= 5 at ratios 1.26-1.35 (tests)
MAX_PHASE = 1 / 32
#: total variation of the scaling filters' luma kernels, the larger: swscale's bicubic (B=0
#: C=0.6) dips to -0.0889 at |x| = 4/3: 2 * (1 + 2 * 0.0889) = 2.356 (bilinear's triangle: 2)
KERNEL_TV = 2.356
#: cell windows start and end on even source columns (chroma is taken from pixel pairs)
COLUMN_STEP = 2
#: what one cell's conversion costs besides its pixels (a frame, a call), in source pixels'
#: worth: cells are converted while their cost stays under WHOLE_TENTHS of a whole pass
CELL_CALL_PIXELS = 20_000
#: swscale contexts kept for the shapes of cell rectangles, the most recently used: a window
#: dragged across the screen touches rectangles of a few dozen shapes, each set up once
KEPT_REFORMATTERS = 64


#: while the screen moves (a scroll, a new window), whole scaled pictures are made smaller by
#: libyuv: halved (2x2 averages) while twice the encoded size or more, the rest bilinear up to
#: :data:`BILINEAR_UP_TO` (else swscale scales the halved picture, as one pass would), converted
#: by libyuv straight into the canvas. Process CPU per frame, offline, the same idle minute: 4K ->
#: 1520x854 3.4 ms against 6.9 when libyuv halved and swscale scaled the rest (one swscale pass:
#: 14.2); 1080p -> 1520x854 1.9 against swscale's 2.6. Bytes at x264's cap are the same; the
#: picture is a little softer and aliased (29-31 dB against the sharp picture instead of 31-36),
#: so once the screen rests the last one is converted again in one sharp pass
#: (:meth:`YuvCanvas.settle`), and changes converted as cells always follow a sharp picture.
#: ``docs/performance.md``, "Moving pictures made smaller by libyuv"
FAST_WHILE_MOVING = True
#: the most libyuv's bilinear step makes a picture smaller (each way). Its 2 taps are ``r`` source
#: pixels apart, so the pixel between two of them keeps ``1 - r/2`` of its weight: a quarter at
#: 1.5x, nothing near 2x, where a 1-px stroke vanishes (swscale's filter widens with the ratio and
#: drops none)
BILINEAR_UP_TO = 1.5
#: libyuv, which converts pictures at the screen's own size (5-9x less CPU than swscale, exact
#: patches: :mod:`veo.agent.libyuv`), when it loads; ``None``: swscale converts them (tests set
#: it to check that path). Scaled pictures are swscale's, scaling and converting in one filtered
#: pass whose patches the grid below keeps exact; only their whole pictures may be libyuv's while
#: the screen moves (:data:`FAST_WHILE_MOVING`).
native: libyuv.Libyuv | None = libyuv.load()


def chroma_location(scaled: bool) -> int:
    """H.264's ``chroma_sample_loc_type`` of the pictures a canvas makes now: scaled, or at the
    screen's size by libyuv or by swscale (the encoder signals it; a wrong one shifts colour
    half a pixel)."""
    if scaled:
        return SCALED_CHROMA_LOCATION
    return CHROMA_LOCATION if native is None else NATIVE_CHROMA_LOCATION


def to_yuv(frame: av.VideoFrame, reformatter: VideoReformatter | None = None) -> av.VideoFrame:
    """``frame`` (BGRA) as yuv420p with this module's matrix, range and chroma sampling."""
    return (reformatter or VideoReformatter()).reformat(
        frame,
        format="yuv420p",
        interpolation=INTERPOLATION,
        dst_colorspace=COLORSPACE,
        dst_color_range=COLOR_RANGE,
    )


def scale_interpolation(size: Size, source: Size) -> int:
    """The swscale filter for ``source`` scaled to ``size``: :data:`SHARP_SCALE_INTERPOLATION`
    from :data:`SHARP_FROM` times narrower on, else :data:`SCALE_INTERPOLATION`."""
    sharp = source.width >= SHARP_FROM * size.width
    return int(SHARP_SCALE_INTERPOLATION if sharp else SCALE_INTERPOLATION)


def scale_to_yuv(
    frame: av.VideoFrame,
    size: Size,
    reformatter: VideoReformatter | None = None,
    threads: int | None = None,
    interpolation: int | None = None,
) -> av.VideoFrame:
    """``frame`` (BGRA) scaled to ``size`` and converted as :func:`to_yuv` does, in one pass.

    ``interpolation``: the whole picture's filter (:func:`scale_interpolation`), which a part of
    it converted alone (a cell) must use; by default the frame's own ratio's."""
    if interpolation is None:
        interpolation = scale_interpolation(size, Size(frame.width, frame.height))
    return (reformatter or VideoReformatter()).reformat(
        frame,
        width=size.width,
        height=size.height,
        format="yuv420p",
        interpolation=interpolation,
        dst_colorspace=COLORSPACE,
        dst_color_range=COLOR_RANGE,
        threads=threads,
    )


def _plane(frame: av.VideoFrame, index: int, height: int, width: int) -> npt.NDArray[np.uint8]:
    """A writable (height, width) view of one plane of ``frame`` (rows may be padded)."""
    plane = frame.planes[index]
    rows: npt.NDArray[np.uint8] = np.frombuffer(memoryview(plane), np.uint8)  # type: ignore[arg-type]
    return rows.reshape(-1, plane.line_size)[:height, :width]


@dataclass(frozen=True)
class _Span:
    """One cell of the scaled grid along one axis: the encoded pixels it writes (``inside``), the
    encoded pixels its conversion makes (``out``, with margins) and the source pixels it reads."""

    inside: tuple[int, int]
    out: tuple[int, int]
    source: tuple[int, int]
    #: the source pixels that can change what the cell writes (``inside`` widened by the filter's
    #: reach, :data:`CELL_MARGIN`): a change elsewhere in ``source`` only moves the cell's margin
    reach: tuple[int, int]

    @property
    def reads(self) -> int:
        """How many source pixels (along this axis) the cell's conversion reads."""
        return self.source[1] - self.source[0]


def _source_at(position: int, dst: int, src: int, step: int = 1) -> int:
    """The source pixel edge (a multiple of ``step``) an encoded pixel edge falls on (rounded)."""
    return (position * src + step * dst // 2) // (step * dst) * step


def _phase(position: int, dst: int, src: int, step: int = 1) -> int:
    """How far (in 1/``dst`` source pixel) encoded edge ``position`` falls from a source pixel
    edge that is a multiple of ``step``."""
    rest = position * src % (step * dst)
    return min(rest, step * dst - rest)


def max_phase(dst: int, src: int, step: int = 1) -> float:
    """How far (source pixels) the farthest cell window edge of an axis of ``src`` pixels scaled
    to ``dst`` falls from a source pixel edge (a multiple of ``step``): 0 on an exact grid."""
    return max(_phase(edge, dst, src, step) for span in _spans(dst, src, step) for edge in span.out) / dst


def patch_bound(dst: int, src: int, step: int = 1) -> int:
    """The most (luma levels) a patch may differ from a whole pass along this axis, for any
    picture: see :data:`MAX_PHASE`."""
    return math.floor(219 * max_phase(dst, src, step) * KERNEL_TV * dst / src) + 1


def _edge(candidates: range, dst: int, src: int, step: int) -> int:
    """Among even ``candidates`` (clipped to the picture), the one that falls closest to a source
    pixel edge, a multiple of ``step`` (exactly on one whenever the ratio allows it)."""
    inside = [p for p in candidates if 0 <= p <= dst and p % 2 == 0]
    near = MAX_PHASE * dst / 2

    def rank(p: int) -> tuple[int, int, int]:
        # an exact edge first, then the nearest within half MAX_PHASE (a smaller window), else
        # the one nearest an edge
        phase = _phase(p, dst, src, step)
        tier = 0 if phase == 0 else 1 if phase <= near else 2
        return (tier, phase if tier == 2 else 0, abs(p - candidates.start))

    return min(inside, key=rank)


def _spans(dst: int, src: int, step: int = 1) -> list[_Span]:
    """The grid along one axis: cells of :data:`CELL` encoded pixels, each converted from a window
    widened by at least :data:`CELL_MARGIN` to where it falls on (or nearest to) a source pixel
    edge, so that the window's conversion samples the source where a whole-frame pass does.

    ``step`` 2 for columns: swscale took an RGB picture's chroma from pairs of its pixels
    (averaged before it filters), so a window had to start at an even source column, or its pairs
    were not the whole pass's (on random colours up to 33 levels of chroma apart). The scaled
    conversion now reads chroma at full width (:data:`SCALE_INTERPOLATION`); even starts are kept
    (they cost nothing and hold if that flag is ever dropped).
    """
    spans = []
    for start in range(0, dst, CELL):
        end = min(start + CELL, dst)
        low, high = start - CELL_MARGIN, end + CELL_MARGIN
        low = 0 if low <= 0 else _edge(range(low, max(low - SNAP, 0) - 1, -1), dst, src, step)
        high = dst if high >= dst else _edge(range(high, min(high + SNAP, dst) + 1), dst, src, step)
        source = (_source_at(low, dst, src, step), min(_source_at(high, dst, src, step), src))
        # rounded outwards, and a column pair more: swscale averages RGB pixel pairs for chroma
        near = (
            max((start - CELL_MARGIN) * src // dst - step, 0),
            min(-(-(end + CELL_MARGIN) * src // dst) + step, src),
        )
        reach = (max(near[0], source[0]), min(near[1], source[1]))
        spans.append(_Span((start, end), (low, high), source, reach))
    return spans


class YuvCanvas:
    """A persistent yuv420p frame of ``size`` (even dimensions) updated patch by patch.

    ``source``: the size of the pictures given to :meth:`update` when it differs from ``size``
    (scaled down, see the module).
    """

    def __init__(self, size: Size, source: Size | None = None) -> None:
        if size.width % 2 or size.height % 2 or size.width <= 0 or size.height <= 0:
            raise ValueError("yuv420p needs even, non-zero dimensions")
        self.size = size
        self.source = source if source is not None else size
        self.scaled = self.source != size
        if self.scaled and (self.source.width < size.width or self.source.height < size.height):
            raise ValueError("the picture is only ever scaled down")
        self._adopt(av.VideoFrame(size.width, size.height, "yuv420p"))
        if self.scaled:
            self._columns = _spans(size.width, self.source.width, COLUMN_STEP)
            self._rows = _spans(size.height, self.source.height)
            #: patches only where every cell edge falls within MAX_PHASE of a source pixel edge; a
            #: patch is then within patch_bound of a whole pass (identical for 2x, 3x...); else
            #: every change converts the whole frame
            self.patches = (
                max_phase(size.width, self.source.width, COLUMN_STEP) <= MAX_PHASE
                and max_phase(size.height, self.source.height) <= MAX_PHASE
            )
            #: one reformatter per cell shape: swscale keeps its filters while the shape repeats
            self._reformatters: dict[tuple[int, int, int, int], VideoReformatter] = {}
            #: the whole picture's filter, for its cells too (a cell's own ratio may fall either side)
            self._interpolation = scale_interpolation(size, self.source)
        #: one reformatter for the whole picture: a new one per frame set swscale up again each
        #: time, 1.9 ms of CPU per 1080p -> 1520x854 frame (6.2 ms with, 4.3 ms without) and
        #: 1.8 ms per unscaled 1080p frame (6.4 against 4.6 ms on a loaded machine)
        self._whole_reformatter = VideoReformatter()
        #: and one for unscaled patches: set up again only when the patch's shape changes (a
        #: dragged window's, a line of typing's repeat): 0.58 -> 0.23 ms for a 408x308 patch
        self._patch_reformatter = VideoReformatter()
        #: libyuv for a canvas of the screen's own size, when it loaded (see :data:`native`)
        self._native = None if self.scaled else native
        #: libyuv scaling and converting a whole picture while the screen moves, when it loaded
        #: (:func:`scales_fast`); ``settled``: the picture now is the sharp one pass
        self._fast = native if self.scaled and scales_fast(self.source, size) else None
        self.settled = True
        #: libyuv's steps alone make the canvas's picture (no swscale finish): while it is not
        #: settled, its planes hold the fast picture of the last update's pixels, which a scroll
        #: can move (set with the steps below)
        self._moves = False
        #: how far (canvas rows) the moved picture lags behind where the screen's rows are
        self._carry = 0.0
        #: moving pictures still to be made whole without looking for a scroll (SHIFT_RETRY_FRAMES)
        self._scroll_wait = 0
        if self._fast is not None:
            #: libyuv's steps and the BGRA picture each makes: halvings, then a bilinear one or
            #: (from BILINEAR_UP_TO on) swscale's pass from the last halving
            self._finish = VideoReformatter()
            self._steps = [
                (
                    self._fast.halve_bgra
                    if 2 * step.width == before.width and 2 * step.height == before.height
                    else self._fast.scale_bgra,
                    np.zeros((step.height, step.width), np.uint32),
                )
                for before, step in itertools.pairwise([self.source, *_fast_steps(self.source, size)])
            ]
            self._moves = self._steps[-1][1].shape == (size.height, size.width)

    def _adopt(self, frame: av.VideoFrame) -> None:
        self.frame = frame
        self._y = _plane(frame, 0, self.size.height, self.size.width)
        self._u = _plane(frame, 1, self.size.height // 2, self.size.width // 2)
        self._v = _plane(frame, 2, self.size.height // 2, self.size.width // 2)

    def update(
        self,
        pixels: npt.NDArray[np.uint32],
        rects: list[Rect],
        scroll: Callable[[int], Scroll | None] | None = None,
    ) -> int:
        """Convert ``rects`` of ``pixels`` (BGRA as uint32, at least ``size``); the pixels converted.

        When the rectangles cover most of the frame (scrolling, a new window), one whole-frame
        conversion is cheaper than patches: it skips the copies a patch needs. ``scroll``: how the
        rows moved since the last update's pixels, asked only where a moving scaled picture can
        use it (:meth:`_update_shifted`), with how closely to check them (every row, or every
        other one where each canvas row mixes two or more, :func:`~veo.agent.scroll.matched_bands`).
        """
        if self.scaled:
            return self._update_scaled(pixels, rects, scroll)
        if self._native is not None:
            return self._update_native(self._native, pixels, rects)
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

    def _update_native(self, native: libyuv.Libyuv, pixels: npt.NDArray[np.uint32], rects: list[Rect]) -> int:
        """Each rectangle (its edges made even) converted by libyuv straight into the planes: its
        2x2 blocks are converted on their own, so a patch needs no margin and no copy, and a
        whole frame is one rectangle like any other."""
        converted = 0
        for rect in rects:
            even = self._even(rect)
            if even is None:
                continue
            x0, y0, x1, y1 = even
            native.bgra_to_i420(
                pixels[y0:y1, x0:x1],
                self._y[y0:y1, x0:x1],
                self._u[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
                self._v[y0 // 2 : y1 // 2, x0 // 2 : x1 // 2],
            )
            converted += (x1 - x0) * (y1 - y0)
        return converted

    def _even(self, rect: Rect) -> tuple[int, int, int, int] | None:
        """``rect`` widened to even edges (chroma's 2x2 blocks) and clipped to the (even) frame,
        as ``x0, y0, x1, y1``; ``None`` when nothing of it is inside."""
        x0, y0 = rect.x & ~1, rect.y & ~1
        x1 = min(rect.x + rect.width + (rect.x + rect.width) % 2, self.size.width)
        y1 = min(rect.y + rect.height + (rect.y + rect.height) % 2, self.size.height)
        if x1 <= x0 or y1 <= y0:
            return None
        return x0, y0, x1, y1

    def _update_whole(self, pixels: npt.NDArray[np.uint32]) -> int:
        self._adopt(to_yuv(self._whole_bgra(pixels), self._whole_reformatter))
        return self.size.width * self.size.height

    def _whole_bgra(self, pixels: npt.NDArray[np.uint32]) -> av.VideoFrame:
        """``pixels`` (the whole picture converted) as a BGRA frame: the grab itself, no copy.

        swscale reads the captured buffer in place (``from_numpy_buffer``; the frame lives only
        for this conversion). Copying it into a frame first cost 3.7 ms of thread CPU per
        3840x2160 grab (copy and scale to 1080p 11.0 ms, in place 7.1 ms) and 0.2 ms at 1080p
        (copy and convert 2.1 ms, in place 1.9 ms), on the bench's scrolling workload.
        """
        height, width = pixels.shape
        if pixels.flags.c_contiguous:
            in_place = pixels.view(np.uint8).reshape(height, width, 4)
            return av.VideoFrame.from_numpy_buffer(in_place, format="bgra")
        # a window of a larger image: let PyAV lay the rows out
        return av.VideoFrame.from_ndarray(
            np.ascontiguousarray(pixels).view(np.uint8).reshape(height, width, 4), format="bgra"
        )

    # ------------------------------------------------------------ scaled

    def _update_scaled(
        self,
        pixels: npt.NDArray[np.uint32],
        rects: list[Rect],
        scroll: Callable[[int], Scroll | None] | None = None,
    ) -> int:
        """Re-convert the grid cells whose source window a changed rectangle touches, each
        rectangle of touched cells in one call (:func:`_blocks`); or the whole picture where cells
        cost more, have no grid, or would sit next to a fast picture: fast (libyuv) only when most
        of the picture changed, and moved rather than made again where its rows scrolled."""
        pixels = pixels[: self.source.height, : self.source.width]
        whole = self.source.width * self.source.height
        # cells never sit next to a fast picture's (their seams would show)
        if self.patches and self.settled:
            blocks = self._cell_blocks(rects)
            cost = sum(row.reads * column.reads + CELL_CALL_PIXELS for row, column in blocks)
            if cost * 10 < whole * WHOLE_TENTHS:
                return sum(self._update_block(pixels, row, column) for row, column in blocks)
        # fast only where most of the picture changed anyway (a scroll, a new window): a fast
        # picture differs from a sharp one everywhere a little, which x264 would send as changes;
        # once moving, it stays fast while a good part of it still moves
        moved = sum(rect.width * rect.height for rect in rects)
        tenths = WHOLE_TENTHS if self.settled else FAST_UNTIL_TENTHS
        fast = moved * 10 >= whole * tenths
        if fast and self._moves and not self.settled and scroll is not None:
            if self._scroll_wait > 0:
                self._scroll_wait -= 1
            else:
                found = scroll(2 if self.source.height >= 2 * self.size.height else 1)
                converted = self._update_shifted(pixels, found) if found is not None else None
                if converted is not None:
                    return converted
                self._scroll_wait = SHIFT_RETRY_FRAMES
        return self._update_whole_scaled(pixels, fast=fast)

    def _cell_blocks(self, rects: list[Rect]) -> list[tuple[_Span, _Span]]:
        """The rectangles of grid cells ``rects`` touch, each as its merged row and column spans."""
        cells: set[tuple[int, int]] = set()
        for rect in rects:
            rows = _touched(self._rows, rect.y, rect.y + rect.height)
            columns = _touched(self._columns, rect.x, rect.x + rect.width)
            cells.update((r, c) for r in rows for c in columns)
        return [
            (_merged(self._rows[r0:r1]), _merged(self._columns[c0:c1])) for r0, r1, c0, c1 in _blocks(cells)
        ]

    def _update_whole_scaled(self, pixels: npt.NDArray[np.uint32], fast: bool) -> int:
        """The whole picture scaled: in one swscale pass, or, ``fast`` where libyuv can
        (:func:`scales_fast`), made smaller by libyuv's steps and converted by libyuv (or scaled
        the rest of the way by swscale); :attr:`settled` says which."""
        self.settled = not fast or self._fast is None
        self._carry = 0.0
        picture, reformatter = pixels, self._whole_reformatter
        if self._fast is not None and not self.settled:
            for scale, smaller in self._steps:
                scale(picture, smaller)
                picture = smaller
            if picture.shape == (self.size.height, self.size.width):
                self._fast.bgra_to_i420(picture, self._y, self._u, self._v)
                return self.source.width * self.source.height
            reformatter = self._finish  # swscale the rest of the way from the last halving
        whole = self._whole_bgra(picture)
        self._adopt(scale_to_yuv(whole, self.size, reformatter, interpolation=self._interpolation))
        return self.source.width * self.source.height

    def _update_shifted(self, pixels: npt.NDArray[np.uint32], scroll: Scroll) -> int | None:
        """The fast picture moved with the screen's rows, and only the pieces it cannot take from
        itself made again (libyuv's steps for just those, :meth:`_make_rows`, then converted);
        ``None`` (nothing done) when too many would be.

        The picture moves by an even number of its rows (chroma's 2×2 blocks move whole), the
        nearest to the scroll scaled down; what is left over is carried to the next scroll, so the
        moved rows are never more than one canvas row off where the screen has them, and the
        newly shown ones exactly where it has them. Both are fast pictures; the sharp pass once
        the screen rests (:meth:`settle`) makes every row exact again. A piece (two rows of a
        band, :attr:`Scroll.matched`) is taken from the picture only where every source row its
        filter reads now, and read then, moved whole in that band; the pieces made again reach a
        few columns into their neighbours (the filter's reach across a band's edge).
        """
        fast = self._fast
        assert fast is not None  # only a canvas whose fast picture moves gets here
        height, source_height = self.size.height, self.source.height
        matched = scroll.matched[:source_height]
        bands = matched.shape[1]
        ratio = source_height / height  # source rows per canvas row
        want = scroll.dy / ratio + self._carry
        step = 2 * round(want / 2)
        rows, lo, hi = self._rows_reach
        unmatched: npt.NDArray[np.int64] = np.zeros((source_height + 1, bands), np.int64)
        np.cumsum(~matched, axis=0, out=unmatched[1:])  # unmatched source rows above each row

        def clean(start: npt.NDArray[np.int64], end: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
            """Per band, whether source rows start..end (inclusive, clipped to the screen) moved whole."""
            start, end = start.clip(0, source_height - 1), end.clip(0, source_height - 1)
            result: npt.NDArray[np.bool_] = unmatched[end + 1] - unmatched[start] == 0
            return result

        taken = rows + step  # the row of the picture each row now comes from
        inside = (taken >= 0) & (taken < height)
        taken = taken.clip(0, height - 1)
        then_lo, then_hi = lo[taken] - scroll.dy, hi[taken] - scroll.dy  # its rows, on the new grab
        whole_rows = inside & (then_lo >= 0) & (then_hi < source_height)
        keep = whole_rows[:, None] & clean(lo, hi) & clean(then_lo, then_hi)
        redo = np.logical_not(np.all(keep.reshape(height // 2, 2, bands), axis=1))  # (row pairs, bands)
        if redo.sum() > SHIFT_MAX_REDONE * redo.size:
            return None
        for plane, rows_moved in ((self._y, step), (self._u, step // 2), (self._v, step // 2)):
            _move_rows(plane, rows_moved)
        self._carry = want - step
        column_ratio = self.source.width / self.size.width
        redone = 0
        picture = self._steps[-1][1]
        for r0, r1, b0, b1 in _pieces(redo):
            # the band's canvas columns, a few more each way (the filter reads across its edge)
            x0 = max(0, math.floor(b0 * scroll.band / column_ratio) - 2) & ~1
            x1 = min(self.size.width, math.ceil(b1 * scroll.band / column_ratio) + 3) & ~1
            first, count = 2 * r0, 2 * (r1 - r0)
            self._make_rows(pixels, first, first + count, x0, x1)
            fast.bgra_to_i420(
                picture[first : first + count, x0:x1],
                self._y[first : first + count, x0:x1],
                self._u[r0:r1, x0 // 2 : x1 // 2],
                self._v[r0:r1, x0 // 2 : x1 // 2],
            )
            redone += count * (x1 - x0)
        return round(redone * ratio * column_ratio)

    @functools.cached_property
    def _rows_reach(self) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The canvas's rows, and the first and last rows of the screen each is made from
        (through libyuv's steps, back from the canvas; bilinear's two taps and a row of margin
        each way, not clipped): fixed for a canvas, worked out at its first scroll."""
        rows = np.arange(self.size.height, dtype=np.int64)
        lo, hi = rows, rows
        for index in range(len(self._steps) - 1, -1, -1):
            lo, hi = self._step_reach(index, lo, hi)
        return rows, lo, hi

    def _step_reach(
        self, index: int, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
        """The rows of step ``index``'s input that its output rows ``lo .. hi`` are made from."""
        made, picture = self._steps[index]
        assert self._fast is not None
        if made == self._fast.halve_bgra:
            return 2 * lo, 2 * hi + 1
        before = self._steps[index - 1][1].shape[0] if index else self.source.height
        ratio = before / picture.shape[0]
        return libyuv.upper_tap(lo, ratio) - 1, libyuv.upper_tap(hi, ratio) + 2

    def _make_rows(self, pixels: npt.NDArray[np.uint32], first: int, end: int, x0: int, x1: int) -> None:
        """Rows ``first .. end`` (columns ``x0 .. x1``) of the fast picture made from ``pixels``
        through libyuv's steps: each halving makes just the rows the next step reads, whole
        (a halving is exact on any band of row pairs), and the last step just the piece."""
        fast = self._fast
        assert fast is not None
        wanted = [(first, end)]  # per step, back from the last: the rows of its output needed
        for index in range(len(self._steps) - 1, 0, -1):
            lo, hi = self._step_reach(index, np.array([wanted[-1][0]]), np.array([wanted[-1][1] - 1]))
            rows = self._steps[index - 1][1].shape[0]
            wanted.append((max(0, int(lo[0])), min(rows, int(hi[0]) + 1)))
        wanted.reverse()
        source = pixels
        for (made, picture), (start, stop) in zip(self._steps, wanted, strict=True):
            if made == fast.halve_bgra:
                made(source[2 * start : 2 * stop], picture[start:stop])
            else:  # the last step: the bilinear one, to the canvas's size
                fast.scale_bgra_rows(source, picture, start, stop - start, x0, x1 - x0)
            source = picture

    def settle(self, pixels: npt.NDArray[np.uint32]) -> int:
        """After whole pictures converted fast (by libyuv), the last one again in one sharp pass,
        once the screen rests (:class:`veo.agent.stream.FrameSource` calls it with its repeat):
        the pixels converted, 0 when the picture is already the sharp one."""
        if self.settled:
            return 0
        return self._update_whole_scaled(pixels[: self.source.height, : self.source.width], fast=False)

    def _update_block(self, pixels: npt.NDArray[np.uint32], row: _Span, column: _Span) -> int:
        """Convert one rectangle of cells (:func:`_merged` spans) and write back its inside."""
        (sy0, sy1), (sx0, sx1) = row.source, column.source
        (oy0, oy1), (ox0, ox1) = row.out, column.out
        (y0, y1), (x0, x1) = row.inside, column.inside
        window = np.ascontiguousarray(pixels[sy0:sy1, sx0:sx1])
        bgra = av.VideoFrame.from_ndarray(
            window.view(np.uint8).reshape(sy1 - sy0, sx1 - sx0, 4), format="bgra"
        )
        shape = (sx1 - sx0, sy1 - sy0, ox1 - ox0, oy1 - oy0)
        reformatter = self._reformatters.pop(shape, None) or VideoReformatter()
        self._reformatters[shape] = reformatter  # the most recent last
        if len(self._reformatters) > KEPT_REFORMATTERS:
            del self._reformatters[next(iter(self._reformatters))]
        # one thread: a cell is too small to share out, and a dragged window's rectangle took the
        # same CPU with swscale's threads (2.6-2.9 ms against 2.7-3.5 at 1080p, within the noise)
        out = scale_to_yuv(
            bgra, Size(ox1 - ox0, oy1 - oy0), reformatter, threads=1, interpolation=self._interpolation
        )
        self._write(out, (ox0, oy0, ox1, oy1), (x0, y0, x1, y1))
        return (sx1 - sx0) * (sy1 - sy0)

    def _update_one(self, pixels: npt.NDArray[np.uint32], rect: Rect) -> int:
        width, height = self.size.width, self.size.height
        even = self._even(rect)
        if even is None:
            return 0
        x0, y0, x1, y1 = even
        # converted with a margin, written back without it
        cx0, cy0 = max(x0 - MARGIN, 0), max(y0 - MARGIN, 0)
        cx1, cy1 = min(x1 + MARGIN, width), min(y1 + MARGIN, height)
        if (cx0, cy0, cx1, cy1) == (0, 0, width, height) and pixels.shape == (height, width):
            source = pixels
        else:
            source = np.ascontiguousarray(pixels[cy0:cy1, cx0:cx1])
        ph, pw = cy1 - cy0, cx1 - cx0
        bgra = av.VideoFrame.from_ndarray(source.view(np.uint8).reshape(ph, pw, 4), format="bgra")
        self._write(to_yuv(bgra, self._patch_reformatter), (cx0, cy0, cx1, cy1), (x0, y0, x1, y1))
        return (x1 - x0) * (y1 - y0)

    def _write(
        self, patch: av.VideoFrame, converted: tuple[int, int, int, int], kept: tuple[int, int, int, int]
    ) -> None:
        """Copy the ``kept`` rectangle (even edges, canvas pixels) of a ``patch`` converted over
        the larger ``converted`` one into the canvas's planes: the margin is dropped."""
        ox0, oy0, ox1, oy1 = converted
        x0, y0, x1, y1 = kept
        ph, pw = oy1 - oy0, ox1 - ox0
        iy, ix = y0 - oy0, x0 - ox0
        self._y[y0:y1, x0:x1] = _plane(patch, 0, ph, pw)[iy : iy + y1 - y0, ix : ix + x1 - x0]
        cy, cx, ch, cw = iy // 2, ix // 2, (y1 - y0) // 2, (x1 - x0) // 2
        inside = (slice(y0 // 2, y1 // 2), slice(x0 // 2, x1 // 2))
        self._u[inside] = _plane(patch, 1, ph // 2, pw // 2)[cy : cy + ch, cx : cx + cw]
        self._v[inside] = _plane(patch, 2, ph // 2, pw // 2)[cy : cy + ch, cx : cx + cw]


def _move_rows(plane: npt.NDArray[np.uint8], step: int) -> None:
    """Row ``y`` of ``plane`` (a frame's plane: rows of adjacent bytes ``strides[0]`` apart)
    becomes its row ``y + step``, in place; rows with nothing to take keep what they had (they
    are made again). One ``memmove``: numpy copies overlapping rows through a buffer, twice the
    time (0.2 ms a 1520x854 frame)."""
    height, width = plane.shape
    stride = plane.strides[0]
    if step == 0 or abs(step) >= height:
        return
    if plane.strides[1] != 1 or stride < width:
        raise ValueError("the plane's rows are not rows of adjacent bytes")
    count = (height - abs(step) - 1) * stride + width  # the last row's padding is not ours
    start = plane.ctypes.data
    target, source = (start, start + step * stride) if step > 0 else (start - step * stride, start)
    ctypes.memmove(target, source, count)


def _pieces(redo: npt.NDArray[np.bool_]) -> list[tuple[int, int, int, int]]:
    """``redo`` (row pairs x bands) as rectangles ``(r0, r1, b0, b1)``, half-open, covering exactly
    it: each band's runs of rows, neighbouring bands with the same run as one (the newly shown
    strip across the screen is one rectangle)."""
    padded = np.zeros((redo.shape[0] + 2, redo.shape[1]), np.int8)
    padded[1:-1] = redo
    edges = np.diff(padded, axis=0).T  # per band: +1 where a run starts, -1 after it ends
    band_starts, row_starts = np.nonzero(edges == 1)
    _, row_ends = np.nonzero(edges == -1)  # in the same (band, row) order: one end per start
    runs = sorted(zip(row_starts.tolist(), row_ends.tolist(), band_starts.tolist(), strict=True))
    pieces: list[tuple[int, int, int, int]] = []
    for r0, r1, band in runs:
        if pieces and pieces[-1][:2] == (r0, r1) and pieces[-1][3] == band:
            pieces[-1] = (r0, r1, pieces[-1][2], band + 1)
        else:
            pieces.append((r0, r1, band, band + 1))
    return pieces


def scales_fast(source: Size, size: Size) -> bool:
    """Whether the whole pictures of a ``source`` scaled down to ``size`` are libyuv's while the
    screen moves (:data:`FAST_WHILE_MOVING`): libyuv loaded, and steps it can take there
    (:func:`_fast_steps`)."""
    return FAST_WHILE_MOVING and native is not None and bool(_fast_steps(source, size))


def _fast_steps(source: Size, size: Size) -> list[Size]:
    """The sizes libyuv makes a ``source`` picture on its way to ``size``: halved while it stays
    twice as large or more each way (even sizes), then ``size`` itself (bilinear) when what is
    left is :data:`BILINEAR_UP_TO` or less each way; else swscale scales the rest from the last
    halving. None (no fast picture) when nothing was halved and libyuv's bilinear would drop
    strokes, or when what is left is still 2x or more one way (an odd size, an axis not halved)."""
    steps, step = [], source
    while (
        step.width % 2 == step.height % 2 == 0
        and step.width >= 2 * size.width
        and step.height >= 2 * size.height
    ):
        step = Size(step.width // 2, step.height // 2)
        steps.append(step)
    if step == size:
        return steps
    if step.width >= 2 * size.width or step.height >= 2 * size.height:
        return []
    if step.width <= BILINEAR_UP_TO * size.width and step.height <= BILINEAR_UP_TO * size.height:
        return [*steps, size]
    return steps  # swscale finishes (nothing halved: no fast picture at all)


def _merged(spans: list[_Span]) -> _Span:
    """A run of neighbouring cells as one: the first's start, the last's end, of each range.

    Converted in one call it gives what its cells give one by one, within the same bound: its
    window's edges are the outer edges of the first and last cells' windows, which fall on (or
    within :data:`MAX_PHASE` of) source pixel edges, and the inside it writes keeps their
    margins. It reads each source pixel once where the cells' windows overlap (margins, snap):
    a window dragged at 1080p -> 1520x854 touched ~30 cells whose windows together read more
    than a whole pass, so every such frame was converted whole: 4.0 ms of CPU a frame, 2.0 in
    rectangles (at 4K, 13 ms cell by cell, 7 in rectangles; offline, same frames, same minute)."""
    first, last = spans[0], spans[-1]
    return _Span(
        (first.inside[0], last.inside[1]),
        (first.out[0], last.out[1]),
        (first.source[0], last.source[1]),
        (first.reach[0], last.reach[1]),
    )


def _blocks(cells: set[tuple[int, int]]) -> list[tuple[int, int, int, int]]:
    """``cells`` (row, column) as rectangles ``(r0, r1, c0, c1)`` of cells, half-open, covering
    exactly them: each row's runs of columns, a run merged with the same run in the row above."""
    blocks: list[tuple[int, int, int, int]] = []
    growing: dict[tuple[int, int], int] = {}  # a run of columns still growing down -> its first row
    last_row = -2
    columns_of: dict[int, list[int]] = {}
    for row, column in sorted(cells):
        columns_of.setdefault(row, []).append(column)
    for row, columns in columns_of.items():
        runs: list[tuple[int, int]] = []
        for column in columns:
            if runs and runs[-1][1] == column:
                runs[-1] = (runs[-1][0], column + 1)
            else:
                runs.append((column, column + 1))
        adjacent = row == last_row + 1
        continued = {run: growing.pop(run) for run in runs if adjacent and run in growing}
        blocks += [(first, last_row + 1, *run) for run, first in growing.items()]
        growing = {run: continued.get(run, row) for run in runs}
        last_row = row
    blocks += [(first, last_row + 1, *run) for run, first in growing.items()]
    return blocks


def _touched(spans: list[_Span], start: int, end: int) -> range:
    """The cells whose output source pixels ``start..end`` can change (their :attr:`_Span.reach`;
    sorted: a run of cells). Not every cell whose window overlaps them: windows reach far into
    their neighbours (margin and snap: ~440 source px per 128-px cell at 4K -> 1520x854), and a
    typed letter at 4K converted 10-17 cells (3.5 Mpx, 13 ms of CPU) instead of 1-4."""
    first = next((i for i, span in enumerate(spans) if span.reach[1] > start), len(spans))
    last = first
    while last < len(spans) and spans[last].reach[0] < end:
        last += 1
    return range(first, last)
