"""Whole scaled pictures twice their encoded size or more are halved by libyuv before swscale
scales the rest, and made sharp again once the screen rests (``convert.HALVE_FIRST``,
``YuvCanvas.settle``, ``FrameSource.next``'s repeat).

What must hold: the fast picture keeps the contrast of thin strokes that one bicubic pass gives;
a resting screen ends as exactly the one-pass picture; a change converted as cells never sits
next to a halved picture (it converts the whole picture sharply first); without libyuv nothing
is halved.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
import pytest

from veo.agent import convert
from veo.agent.capture.base import ScreenCapture, Size
from veo.agent.convert import SHARP_SCALE_INTERPOLATION, YuvCanvas, halves, scale_interpolation, scale_to_yuv
from veo.agent.damage import Rect
from veo.agent.scaling import View
from veo.agent.stream import FrameSource

pytestmark = pytest.mark.usefixtures("native_converter")

SOURCE, SIZE = Size(1280, 720), Size(512, 288)  # 2.5x, as a 4K screen in a 1520-px console


def _random(size: Size, seed: int) -> npt.NDArray[np.uint32]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 2**32, (size.height, size.width), dtype=np.uint64).astype(np.uint32)
    return pixels | np.uint32(0xFF000000)


def _one_pass(pixels: npt.NDArray[np.uint32], size: Size) -> list[bytes]:
    height, width = pixels.shape
    frame = av.VideoFrame.from_ndarray(pixels.view(np.uint8).reshape(height, width, 4), format="bgra")
    out = scale_to_yuv(frame, size, interpolation=scale_interpolation(size, Size(width, height)))
    return [bytes(plane) for plane in out.planes]


def _planes(canvas: YuvCanvas) -> list[bytes]:
    return [bytes(plane) for plane in canvas.frame.planes]


def _whole(size: Size) -> list[Rect]:
    return [Rect(0, 0, size.width, size.height)]


def test_which_pictures_are_halved() -> None:
    assert halves(Size(3840, 2160), Size(1520, 854))
    assert halves(Size(3840, 2160), Size(1920, 1080))  # exactly half: then only a conversion
    assert not halves(Size(3840, 2160), Size(2000, 1124))  # under 2x: one pass
    assert not halves(Size(3842, 2160), Size(1520, 854))  # its half would be odd
    assert not halves(Size(1920, 1080), Size(1520, 854))


def test_a_halved_picture_is_made_the_one_pass_picture_when_the_screen_rests() -> None:
    pixels = _random(SOURCE, 1)
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(pixels, _whole(SOURCE))
    assert not canvas.settled  # halved: fast, a little softer
    assert _planes(canvas) != _one_pass(pixels, SIZE)
    assert canvas.settle(pixels) == SOURCE.width * SOURCE.height
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)
    assert canvas.settle(pixels) == 0  # already sharp: nothing to do


def test_exactly_half_is_halved_then_converted() -> None:
    pixels = _random(SOURCE, 2)
    half = Size(SOURCE.width // 2, SOURCE.height // 2)
    canvas = YuvCanvas(half, SOURCE)
    canvas.update(pixels, _whole(SOURCE))
    assert not canvas.settled
    native = convert.native
    assert native is not None
    halved = np.zeros((half.height, half.width), np.uint32)
    native.halve_bgra(pixels, halved)
    expected = YuvCanvas(half)
    expected.update(halved, _whole(half))  # libyuv's conversion at the screen's size
    assert _planes(canvas) == _planes(expected)
    canvas.settle(pixels)
    assert _planes(canvas) == _one_pass(pixels, half)


def test_cells_never_sit_next_to_a_halved_picture() -> None:
    """The first change after a halved picture converts the whole picture in one sharp pass;
    the changes after it are cells again."""
    pixels = _random(SOURCE, 3)
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(pixels, _whole(SOURCE))
    assert canvas.patches and not canvas.settled
    letter = Rect(400, 300, 10, 14)
    pixels[300:314, 400:410] ^= np.uint32(0x00FFFFFF)
    assert canvas.update(pixels, [letter]) == SOURCE.width * SOURCE.height
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)
    pixels[300:314, 420:430] ^= np.uint32(0x00FFFFFF)
    assert canvas.update(pixels, [Rect(420, 300, 10, 14)]) < SOURCE.width * SOURCE.height // 2


def test_thin_grey_strokes_keep_the_contrast_of_one_bicubic_pass() -> None:
    """Halved, the picture is scaled with the filter the ratio to the *screen* asks for (bicubic
    luma from 2x): 1-px #999 strokes at 4K keep the spread one pass gives (16.7 measured; the
    halved picture scaled bilinear: 14.1)."""
    source, size = Size(3840, 2160), Size(1520, 854)
    grey = np.full((source.height, source.width), 0xFFFFFFFF, dtype=np.uint32)
    grey[:, ::11] = grey[::11, :] = 0xFF999999
    canvas = YuvCanvas(size, source)
    canvas.update(grey, _whole(source))
    assert not canvas.settled
    bgra = grey.view(np.uint8).reshape(source.height, source.width, 4)
    one_pass = scale_to_yuv(
        av.VideoFrame.from_ndarray(bgra, format="bgra"), size, interpolation=int(SHARP_SCALE_INTERPOLATION)
    )

    def spread(frame: av.VideoFrame) -> float:
        plane = frame.planes[0]
        rows = np.frombuffer(bytes(plane), np.uint8).reshape(plane.height, plane.line_size)
        return float(np.std(rows[:, : plane.width].astype(np.float32)))

    assert spread(canvas.frame) >= 0.98 * spread(one_pass), (spread(canvas.frame), spread(one_pass))


def test_without_libyuv_nothing_is_halved(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "native", None)
    assert not halves(Size(3840, 2160), Size(1520, 854))
    canvas = YuvCanvas(SIZE, SOURCE)
    pixels = _random(SOURCE, 4)
    canvas.update(pixels, _whole(SOURCE))
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)


class _Screen(ScreenCapture):
    def __init__(self, pixels: npt.NDArray[np.uint32]) -> None:
        self.pixels = pixels

    def size(self) -> Size:
        return Size(self.pixels.shape[1], self.pixels.shape[0])

    def grab(self) -> bytes:
        return self.pixels.tobytes()

    def close(self) -> None:
        pass


def test_the_stream_sharpens_a_halved_picture_with_its_repeat() -> None:
    """A scroll's frames go out halved; the repeat after it (REFINE_SECONDS) sends the sharp one."""
    screen = _Screen(_random(SOURCE, 5))
    source = FrameSource(screen, keepalive_seconds=60.0)
    source.set_view(View(width=SIZE.width, height=SIZE.height + 40), now=0.0)
    assert source.next(now=0.0) is not None and source.encoded == SIZE
    screen.pixels = _random(SOURCE, 6)  # everything moved
    converted = source.pixels_converted
    assert source.next(now=0.05) is not None
    assert not source._canvas.settled
    assert source.next(now=0.06) is None  # nothing changed, no repeat due yet
    frame = source.next(now=source.repeat_at)  # the repeat: the same picture, now sharp
    assert frame is not None and source._canvas.settled
    assert source.pixels_converted - converted == 2 * SOURCE.width * SOURCE.height
    assert [bytes(p) for p in frame.planes] == _one_pass(screen.pixels, SIZE)
