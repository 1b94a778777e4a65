"""While the screen moves, whole scaled pictures are made smaller and converted by libyuv, and
made sharp again by swscale once the screen rests (``convert.FAST_WHILE_MOVING``,
``YuvCanvas.settle``, ``FrameSource.next``'s repeat).

What must hold: the fast picture drops no thin stroke (halved while 2x or more, 2 taps only for
the rest); a resting screen ends as exactly the one-pass picture; a change converted as cells
never sits next to a fast picture (it converts the whole picture sharply first); without libyuv
every picture is swscale's.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
import pytest
from tests.unit.agent.screens import ArrayScreen

from veo.agent import convert
from veo.agent.capture.base import Size
from veo.agent.convert import YuvCanvas, _fast_steps, _plane, scale_interpolation, scale_to_yuv, scales_fast
from veo.agent.damage import Rect
from veo.agent.libyuv import Libyuv
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
    return _visible(out)


def _visible(frame: av.VideoFrame) -> list[bytes]:
    """A yuv420p frame's three planes without their rows' padding (never written: any bytes)."""
    sizes = [(frame.height, frame.width), *[(frame.height // 2, frame.width // 2)] * 2]
    return [_plane(frame, index, height, width).tobytes() for index, (height, width) in enumerate(sizes)]


def _planes(canvas: YuvCanvas) -> list[bytes]:
    return _visible(canvas.frame)


def _fast_canvas(source: Size, size: Size, seed: int) -> tuple[YuvCanvas, npt.NDArray[np.uint32], Libyuv]:
    """A canvas whose picture is a random one converted fast, the picture, and libyuv."""
    pixels = _random(source, seed)
    canvas = YuvCanvas(size, source)
    canvas.update(pixels, _whole(source))
    assert not canvas.settled
    assert convert.native is not None
    return canvas, pixels, convert.native


def _whole(size: Size) -> list[Rect]:
    return [Rect(0, 0, size.width, size.height)]


def test_which_pictures_are_scaled_fast_and_in_which_steps() -> None:
    assert _fast_steps(Size(3840, 2160), Size(1520, 854)) == [Size(1920, 1080), Size(1520, 854)]
    assert _fast_steps(Size(3840, 2160), Size(1920, 1080)) == [Size(1920, 1080)]  # exactly half
    assert _fast_steps(Size(3840, 2160), Size(960, 540)) == [Size(1920, 1080), Size(960, 540)]
    assert _fast_steps(Size(1920, 1080), Size(1520, 854)) == [Size(1520, 854)]  # 1.26x: bilinear
    assert _fast_steps(Size(1920, 1080), Size(1280, 720)) == [Size(1280, 720)]  # 1.5x: still bilinear
    assert _fast_steps(Size(1920, 1080), Size(1010, 568)) == []  # 1.9x: 2 taps would drop strokes
    assert _fast_steps(Size(3840, 2160), Size(1100, 618)) == [Size(1920, 1080)]  # then swscale 1.75x
    assert _fast_steps(Size(3842, 2160), Size(1520, 854)) == [Size(1921, 1080), Size(1520, 854)]
    assert _fast_steps(Size(3841, 2160), Size(1520, 854)) == []  # odd: not halved, 2 taps would drop strokes
    assert scales_fast(Size(3840, 2160), Size(1520, 854)) and scales_fast(Size(1920, 1080), Size(1520, 854))
    assert not scales_fast(Size(3841, 2160), Size(1520, 854))
    assert not scales_fast(Size(1920, 1080), Size(1920, 1080))  # not scaled: libyuv's conversion alone


def test_a_fast_picture_is_made_the_one_pass_picture_when_the_screen_rests() -> None:
    pixels = _random(SOURCE, 1)
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(pixels, _whole(SOURCE))
    assert not canvas.settled  # libyuv's: fast, a little softer
    assert _planes(canvas) != _one_pass(pixels, SIZE)
    assert canvas.settle(pixels) == SOURCE.width * SOURCE.height
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)
    assert canvas.settle(pixels) == 0  # already sharp: nothing to do


@pytest.mark.parametrize(
    ("source", "size"),
    [(SOURCE, SIZE), (SOURCE, Size(640, 360)), (Size(960, 540), Size(760, 428))],
    ids=["2.5x: halved, then bilinear", "exactly half", "1.26x: bilinear"],
)
def test_a_fast_picture_is_libyuvs_steps_then_its_conversion(source: Size, size: Size) -> None:
    canvas, pixels, native = _fast_canvas(source, size, 2)
    picture = pixels
    for step in _fast_steps(source, size):
        smaller = np.zeros((step.height, step.width), np.uint32)
        if (2 * step.width, 2 * step.height) == (picture.shape[1], picture.shape[0]):
            native.halve_bgra(picture, smaller)
        else:
            native.scale_bgra(picture, smaller)
        picture = smaller
    expected = YuvCanvas(size)
    expected.update(picture, _whole(size))  # libyuv's conversion at the screen's size
    assert _planes(canvas) == _planes(expected)
    canvas.settle(pixels)
    assert _planes(canvas) == _one_pass(pixels, size)


def test_cells_never_sit_next_to_a_fast_picture() -> None:
    """The first change after a fast picture converts the whole picture in one sharp pass;
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


def test_a_moving_screen_stays_fast_until_little_of_it_moves() -> None:
    """Fast from WHOLE_TENTHS of the picture changed, and then fast while FAST_UNTIL_TENTHS or
    more keeps changing: a scroll whose damage hovers around the threshold (a window scrolled
    under a still sidebar) is not converted sharp and fast by turns, each sharp picture a
    little different everywhere from the fast ones around it (x264 would send the difference)."""
    pixels = _random(SOURCE, 11)
    canvas = YuvCanvas(SIZE, SOURCE)
    half = [Rect(0, 0, SOURCE.width, SOURCE.height // 2)]  # 50 %: not enough to start
    canvas.update(pixels, half)
    assert canvas.settled
    canvas.update(pixels, [Rect(0, 0, SOURCE.width, SOURCE.height * 7 // 10)])  # 70 %: fast
    assert not canvas.settled
    canvas.update(pixels, half)  # 50 % while moving: still fast
    assert not canvas.settled
    canvas.update(pixels, [Rect(0, 0, SOURCE.width, SOURCE.height // 5)])  # 20 %: sharp again
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)
    canvas.update(pixels, half)  # and a sharp picture needs WHOLE_TENTHS again to turn fast
    assert canvas.settled


def test_small_changes_all_over_are_converted_sharp() -> None:
    """Dots spread over the picture cost a whole pass, but most of it did not change: it stays
    the sharp picture (a fast one would differ a little everywhere, which x264 would send)."""
    pixels = _random(SOURCE, 7)
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(pixels, _whole(SOURCE))
    canvas.settle(pixels)
    dots = [Rect(x, y, 4, 4) for x in range(100, SOURCE.width, 300) for y in range(100, SOURCE.height, 300)]
    for dot in dots:
        pixels[dot.y : dot.y + 4, dot.x : dot.x + 4] ^= np.uint32(0x00FFFFFF)
    assert canvas.update(pixels, dots) == SOURCE.width * SOURCE.height  # one whole pass
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)


@pytest.mark.parametrize(
    ("source", "size", "fast"),
    [
        (Size(3840, 2160), Size(1520, 854), True),  # halved, then bilinear 1.26x
        (Size(1920, 1080), Size(1280, 720), True),  # bilinear 1.5x: the weakest pixel keeps 1/4
        (Size(3840, 2160), Size(1100, 618), True),  # halved, then swscale 1.75x
        (Size(1920, 1080), Size(1010, 568), False),  # 1.9x: one sharp pass, nothing fast
    ],
    ids=["4K to 1520", "1080p to 1280", "4K to 1100", "1080p to 1010"],
)
def test_no_thin_stroke_is_dropped(source: Size, size: Size, fast: bool) -> None:
    """1-px grey columns every 11 px: each still darkens the picture where it lands by a sixth of
    its contrast or more (measured: 17 of 88 levels at worst at 4K -> 1520, where one sharp pass
    keeps ~2/5). libyuv's 2 taps straight from 4K (a sample every 2.5 px), or near 2x (the pixel
    between two taps keeps ~5 % of its weight), step over some of them."""
    grey = np.full((source.height, source.width), 0xFFFFFFFF, dtype=np.uint32)
    grey[:, 5::11] = 0xFF999999
    canvas = YuvCanvas(size, source)
    canvas.update(grey, _whole(source))
    assert canvas.settled is not fast
    middle = size.height // 2
    row = np.frombuffer(_planes(canvas)[0], np.uint8).reshape(size.height, size.width)[middle].astype(int)
    contrast = 235 - (16 + 219 * 0x99 // 255)  # white's luma against #999's, limited range
    for x in range(5, source.width - 11, 11):
        at = x * size.width // source.width
        darkest = int(row.max()) - int(row[max(at - 1, 0) : at + 2].min())
        assert darkest >= contrast / 6, (x, darkest, contrast)


def test_from_the_last_halving_swscale_scales_the_rest() -> None:
    """Past BILINEAR_UP_TO after the halvings, the fast picture is swscale's pass from the halved
    picture, with the filter the ratio to the screen asks for."""
    source, size = Size(1280, 720), Size(350, 196)  # halved to 640x360, then 1.83x
    canvas, pixels, native = _fast_canvas(source, size, 8)
    halved = np.zeros((360, 640), np.uint32)
    native.halve_bgra(pixels, halved)
    frame = av.VideoFrame.from_ndarray(halved.view(np.uint8).reshape(360, 640, 4), format="bgra")
    expected = scale_to_yuv(frame, size, interpolation=scale_interpolation(size, source))
    assert _planes(canvas) == _visible(expected)


def test_without_libyuv_every_picture_is_swscales(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(convert, "native", None)
    assert not scales_fast(Size(3840, 2160), Size(1520, 854))
    canvas = YuvCanvas(SIZE, SOURCE)
    pixels = _random(SOURCE, 4)
    canvas.update(pixels, _whole(SOURCE))
    assert canvas.settled and _planes(canvas) == _one_pass(pixels, SIZE)


def test_the_stream_sharpens_a_fast_picture_with_its_repeat() -> None:
    """A scroll's frames go out fast; the repeat after it (REFINE_SECONDS) sends the sharp one."""
    screen = ArrayScreen(_random(SOURCE, 5))
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
    assert _visible(frame) == _one_pass(screen.pixels, SIZE)
