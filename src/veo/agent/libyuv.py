"""libyuv's BGRA -> I420 conversion, for pictures sent at the screen's own size, and its
scalers, which make a moving screen's whole pictures smaller fast (a scroll, a new window).

libyuv is Google's conversion library, the one Chromium's and WebRTC's own screen capture
convert with. Its ``ARGBToI420`` (libyuv's "ARGB" is BGRA in memory, as X11 and PipeWire hand
it out) converts a 1920x1080 grab in ~0.5 ms of CPU where swscale's point-sampled conversion
takes 2-4 ms (``docs/performance.md``, "A cheaper colour conversion"), and it works block by
block: each 2x2 block's chroma is the average of its four pixels, so a rectangle converted on
its own (even edges) is bit for bit what the whole picture's conversion gives there. The canvas
(:mod:`veo.agent.convert`) therefore writes patches straight into its planes, with no margin
and no copy.

Its matrix is swscale's (BT.601, limited range: luma within 1 level of swscale's, tested); its
chroma sits at the centre of each block, which the H.264 stream signals
(:func:`veo.agent.convert.chroma_location`).

No Python package binds libyuv; this is a ``ctypes`` binding of the functions veo calls.
The library comes from the agent's bundle (the one-file build copies the build machine's) or
the system (Debian and Ubuntu: ``libyuv0``). Absent or unloadable, :func:`load` says ``None``
and the canvas converts with swscale, as before.
"""

from __future__ import annotations

import ctypes
import functools
import logging
import sys
from pathlib import Path

import numpy as np
import numpy.typing as npt

log = logging.getLogger(__name__)

#: the library's file name: its ABI version 0 (Debian's ``libyuv0``, the one-file bundle's copy)
LIBRARY = "libyuv.so.0"
#: libyuv's ``kFilterBox``: at exactly 2x, the average of each 2x2 block. (Its BGRA scaler is a
#: real box only at exactly 2x and 4x; at other ratios it takes 2 taps whatever the filter.)
BOX = 3
#: libyuv's ``kFilterBilinear``: 2 taps each way, ``r`` source pixels apart when the picture is made
#: ``r`` times smaller, so the pixel between two taps keeps only ``1 - r/2`` of its weight: a
#: quarter at 1.5x, nothing near 2x (the canvas uses it up to 1.5x, ``convert.BILINEAR_UP_TO``)
BILINEAR = 2


class Libyuv:
    """The loaded library: :meth:`bgra_to_i420`, :meth:`halve_bgra` and :meth:`scale_bgra` into
    arrays the caller owns."""

    def __init__(self, library: ctypes.CDLL) -> None:
        convert = library.ARGBToI420
        pointer, integer = ctypes.c_void_p, ctypes.c_int
        convert.argtypes = (
            *(pointer, integer),  # the source and its row stride in bytes
            *(pointer, integer) * 3,  # y, u and v, each with its stride
            *(integer, integer),  # width, height
        )
        convert.restype = integer
        self._convert = convert
        scale = library.ARGBScale
        scale.argtypes = (
            *(pointer, integer, integer, integer),  # the source, its stride, width, height
            *(pointer, integer, integer, integer),  # the target, its stride, width, height
            integer,  # the filter
        )
        scale.restype = integer
        self._scale = scale
        clip = library.ARGBScaleClip
        clip.argtypes = (*scale.argtypes[:8], *(integer,) * 4, integer)  # ... the clip's x, y, w, h
        clip.restype = integer
        self._scale_clip = clip

    def bgra_to_i420(
        self,
        source: npt.NDArray[np.uint32],
        y: npt.NDArray[np.uint8],
        u: npt.NDArray[np.uint8],
        v: npt.NDArray[np.uint8],
    ) -> None:
        """Convert ``source`` (height x width BGRA pixels, even sizes, rows of any stride) into
        ``y`` (the same size) and ``u``, ``v`` (half each way): views into a frame's planes.

        The shapes are checked here, not in C: libyuv writes where the pointers say.
        """
        height, width = _even_size(source, "converts")
        half = (height // 2, width // 2)
        if y.shape != (height, width) or u.shape != half or v.shape != half:
            raise ValueError("the planes do not match the rectangle converted")
        _check_rows(source, (y, u, v), 1, "the planes must be writable")
        result = self._convert(
            source.ctypes.data,
            source.strides[0],
            y.ctypes.data,
            y.strides[0],
            u.ctypes.data,
            u.strides[0],
            v.ctypes.data,
            v.strides[0],
            width,
            height,
        )
        if result != 0:
            raise ValueError(f"libyuv refused the conversion ({result})")

    def halve_bgra(self, source: npt.NDArray[np.uint32], target: npt.NDArray[np.uint32]) -> None:
        """``source`` (BGRA, even sizes) at half its width and height into ``target``: each 2x2
        block's average (libyuv's box filter at exactly 2x)."""
        height, width = _even_size(source, "halves")
        if target.shape != (height // 2, width // 2):
            raise ValueError("the target is not half the rectangle halved")
        self._call_scale(source, target, BOX, "halve")

    def scale_bgra(self, source: npt.NDArray[np.uint32], target: npt.NDArray[np.uint32]) -> None:
        """``source`` (BGRA) made as small as ``target``, at most 2x smaller each way (refused
        beyond: 2 taps would skip whole pixels), and written there, bilinear (:data:`BILINEAR`)."""
        _check_scale(source, target)
        self._call_scale(source, target, BILINEAR, "scale")

    def scale_bgra_rows(
        self,
        source: npt.NDArray[np.uint32],
        target: npt.NDArray[np.uint32],
        first: int,
        rows: int,
        left: int = 0,
        columns: int | None = None,
    ) -> None:
        """Only the rows ``first .. first + rows`` (and columns ``left .. left + columns``, all by
        default) of what :meth:`scale_bgra` writes into ``target`` (``ARGBScaleClip``: the whole
        picture's sampling, the clip's pixels computed): a scrolled picture's newly shown pieces
        (:mod:`veo.agent.scroll`). Whole rows are exactly the whole picture's; a narrower clip's
        last few columns may round 1 level apart (libyuv's plain-C leftover path).

        libyuv bounds what a clip reads of each source row by the whole width counted from the
        clip's own first column, so a clip reaching the right edge reads a few pixels past the
        end of each row it uses: harmless inside the picture (the next row's first pixels, never
        used), but past its last row it crossed the end of the screen's shared memory and the
        agent crashed (bench, 1080p scrolling; the test's guard page). A clip that reads the last
        row reads a copy of the rows it uses, with one more row below."""
        height, width, target_height, target_width = _check_scale(source, target)
        columns = target_width - left if columns is None else columns
        if not 0 <= first < first + rows <= target_height:
            raise ValueError(f"rows {first}..{first + rows} are not within the {target_height} of the target")
        if not 0 <= left < left + columns <= target_width:
            raise ValueError(
                f"columns {left}..{left + columns} are not within the {target_width} of the target"
            )
        _check_rows(source, (target,), 4, "the target must be writable")
        ratio = height / target_height
        if int(upper_tap(first + rows - 1, ratio)) + 1 >= height - 1:  # it reads the source's last row
            top = max(0, int(upper_tap(first, ratio)) - 1)
            padded = np.empty((height + 1, width), np.uint32)
            padded[top:height] = source[top:]
            padded[height] = source[height - 1]
            source = padded[:height]
        result = self._scale_clip(
            source.ctypes.data,
            source.strides[0],
            width,
            height,
            target.ctypes.data,
            target.strides[0],
            target_width,
            target_height,
            left,
            first,
            columns,
            rows,
            BILINEAR,
        )
        if result != 0:
            raise ValueError(f"libyuv refused to scale rows of the picture ({result})")

    def _call_scale(
        self, source: npt.NDArray[np.uint32], target: npt.NDArray[np.uint32], filtering: int, doing: str
    ) -> None:
        """``ARGBScale`` from ``source`` into ``target`` (sizes checked by the caller).

        Whole pictures only: libyuv scales runs of pixels in SIMD and the columns left over in
        plain C, which rounds 1 level apart, so a rectangle scaled alone is not always what the
        whole picture's scaling gives there (a patch's seams)."""
        _check_rows(source, (target,), 4, "the target must be writable")
        result = self._scale(
            source.ctypes.data,
            source.strides[0],
            source.shape[1],
            source.shape[0],
            target.ctypes.data,
            target.strides[0],
            target.shape[1],
            target.shape[0],
            filtering,
        )
        if result != 0:
            raise ValueError(f"libyuv refused to {doing} the picture ({result})")


def _even_size(source: npt.NDArray[np.uint32], doing: str) -> tuple[int, int]:
    """``source``'s height and width, refused unless both are even and not zero."""
    height, width = _size(source, doing)
    if width % 2 or height % 2:
        raise ValueError(f"libyuv {doing} even, non-empty rectangles, not {width}x{height}")
    return height, width


def upper_tap(row: npt.ArrayLike, ratio: float) -> npt.NDArray[np.int64]:
    """The upper of the two source rows (or columns) libyuv's bilinear scaling reads for ``row``
    of a picture made ``ratio`` times smaller: pixel centres aligned, ``(row + 0.5) * ratio - 0.5``
    rounded down; the other is the next one."""
    taps: npt.NDArray[np.int64] = np.floor((np.asarray(row) + 0.5) * ratio - 0.5).astype(np.int64)
    return taps


def _check_scale(source: npt.NDArray[np.uint32], target: npt.NDArray[np.uint32]) -> tuple[int, int, int, int]:
    """The source's and the target's height and width, refused unless the target is the source
    made at most 2x smaller each way (beyond, 2 taps would skip whole pixels), never larger."""
    height, width = _size(source, "scales")
    target_height, target_width = _size(target, "scales into")
    if not (height <= 2 * target_height and width <= 2 * target_width):
        raise ValueError("libyuv scales pictures at most 2x smaller here")
    if target_height > height or target_width > width:
        raise ValueError("libyuv only makes pictures smaller here")
    return height, width, target_height, target_width


def _size(picture: npt.NDArray[np.uint32], doing: str) -> tuple[int, int]:
    """``picture``'s height and width, refused when it is empty."""
    height, width = picture.shape
    if width <= 0 or height <= 0:
        raise ValueError(f"libyuv {doing} non-empty rectangles, not {width}x{height}")
    return height, width


def _check_rows(
    source: npt.NDArray[np.uint32],
    targets: tuple[npt.NDArray[np.generic], ...],
    target_pixel: int,
    not_writable: str,
) -> None:
    """Refuse what libyuv cannot read or write as it assumes: rows of adjacent pixels (4 bytes
    in the source, ``target_pixel`` in the targets), and targets that may be written."""
    if source.strides[1] != 4 or any(target.strides[1] != target_pixel for target in targets):
        raise ValueError("libyuv reads and writes rows of adjacent pixels")
    if not all(target.flags.writeable for target in targets):
        raise ValueError(not_writable)


def _candidates() -> list[str]:
    """Where to look: the one-file bundle's own copy first (PyInstaller unpacks it into
    ``sys._MEIPASS``), then the system's search path."""
    bundle = getattr(sys, "_MEIPASS", None)
    found = [str(Path(bundle) / LIBRARY)] if bundle and (Path(bundle) / LIBRARY).is_file() else []
    return [*found, LIBRARY]


@functools.cache
def load() -> Libyuv | None:
    """The library, or ``None`` when it is not there or does not load (said once, in the log)."""
    failures = []
    for candidate in _candidates():
        try:
            loaded = Libyuv(ctypes.CDLL(candidate))
        except (OSError, AttributeError) as exc:  # not found, wrong architecture, no such symbol
            failures.append(str(exc))
            continue
        log.info("colour conversion at the screen's size: libyuv (%s)", candidate)
        return loaded
    log.info("libyuv not available (%s): the colour conversion uses swscale", "; ".join(failures))
    return None
