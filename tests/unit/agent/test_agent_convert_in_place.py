"""A whole-frame conversion reads the grab in place (no copy of the captured picture first)."""

from __future__ import annotations

import mmap

import av
import numpy as np
import pytest

from veo.agent.capture.base import Size
from veo.agent.convert import YuvCanvas, to_yuv
from veo.agent.damage import Rect


def _picture(width: int, height: int) -> np.ndarray:
    rng = np.random.default_rng(3)
    return rng.integers(0, 2**32, (height, width), dtype=np.uint64).astype(np.uint32)


def test_the_whole_frame_is_the_grab_itself_and_converts_the_same() -> None:
    pixels = _picture(64, 48)
    canvas = YuvCanvas(Size(64, 48))
    frame = canvas._whole_bgra(pixels)
    plane = np.frombuffer(memoryview(frame.planes[0]), np.uint8)  # type: ignore[arg-type]
    assert np.shares_memory(plane, pixels)  # no copy
    copied = YuvCanvas(Size(64, 48))._whole_bgra(pixels.copy())
    for a, b in zip(to_yuv(frame).planes, to_yuv(copied).planes, strict=True):
        assert bytes(a) == bytes(b)


@pytest.mark.usefixtures("unscaled_converter")
def test_a_read_only_shared_buffer_converts() -> None:
    """The X11 capture hands out its read-only shared memory (``capture/x11.py``)."""
    picture = _picture(64, 48)
    with mmap.mmap(-1, picture.nbytes) as writable:
        writable.write(picture.tobytes())
        view = np.frombuffer(memoryview(writable).toreadonly(), np.uint32).reshape(48, 64)
        assert not view.flags.writeable
        canvas = YuvCanvas(Size(64, 48))
        canvas.update(view, [])  # nothing changed: nothing converted
        assert canvas.update(view, [Rect(0, 0, 64, 48)]) == 64 * 48
        expected = YuvCanvas(Size(64, 48))
        expected.update(picture, [Rect(0, 0, 64, 48)])
        for a, b in zip(canvas.frame.planes, expected.frame.planes, strict=True):
            assert bytes(a) == bytes(b)
        del view, canvas


@pytest.mark.usefixtures("swscale_only")  # 192x108 -> 96x54 is halved by libyuv where it loads
def test_a_scaled_canvas_keeps_one_reformatter_for_whole_frames_with_the_same_result() -> None:
    """swscale is set up once for the whole picture, not once per frame (``_whole_reformatter``)."""
    from veo.agent.convert import scale_to_yuv

    canvas = YuvCanvas(Size(96, 54), source=Size(192, 108))
    kept = canvas._whole_reformatter
    for seed in (1, 2):
        picture = (
            np.random.default_rng(seed).integers(0, 2**32, (108, 192), dtype=np.uint64).astype(np.uint32)
        )
        canvas._update_scaled(picture, [])  # nothing changed...
        canvas.update(picture, [_everything()])  # ...then everything: one whole pass
        assert canvas._whole_reformatter is kept
        fresh = scale_to_yuv(YuvCanvas(Size(192, 108))._whole_bgra(picture), Size(96, 54))
        for a, b in zip(canvas.frame.planes, fresh.planes, strict=True):
            assert bytes(a) == bytes(b)


def _everything() -> Rect:
    return Rect(0, 0, 192, 108)


def _count_reformatters(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every swscale reformatter the conversion makes from now on, in order."""
    import veo.agent.convert as convert

    made: list[object] = []
    real = convert.VideoReformatter

    def counted() -> object:
        made.append(real())
        return made[-1]

    monkeypatch.setattr(convert, "VideoReformatter", counted)
    return made


@pytest.mark.usefixtures("swscale_only")
def test_an_unscaled_canvas_sets_swscale_up_once_for_whole_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """A scroll converts the whole frame every time: a new reformatter per frame set swscale up
    again each time (1.8 ms of a 1080p frame's ~4.6). The same result as a fresh conversion."""
    made = _count_reformatters(monkeypatch)
    canvas = YuvCanvas(Size(64, 48))
    during_updates = 0
    for seed in (1, 2, 3):
        picture = np.random.default_rng(seed).integers(0, 2**32, (48, 64), dtype=np.uint64).astype(np.uint32)
        before = len(made)
        canvas.update(picture, [Rect(0, 0, 64, 48)])
        during_updates += len(made) - before
        fresh = to_yuv(av.VideoFrame.from_ndarray(picture.view(np.uint8).reshape(48, 64, 4), format="bgra"))
        for a, b in zip(canvas.frame.planes, fresh.planes, strict=True):
            assert bytes(a) == bytes(b)
    assert during_updates == 0  # the canvas's own, made with it, serves every frame


@pytest.mark.usefixtures("swscale_only")
def test_unscaled_patches_of_one_shape_set_swscale_up_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """A dragged window or a typed line repeats its patch's shape: one reformatter serves them
    all (a new one set swscale up for each: 0.58 against 0.23 ms for a 408x308 patch)."""
    made = _count_reformatters(monkeypatch)
    picture = _picture(64, 48)
    canvas = YuvCanvas(Size(64, 48))
    canvas.update(picture, [Rect(0, 0, 64, 48)])
    before = len(made)
    for x in (4, 12, 20):
        picture[10:20, x : x + 8] ^= np.uint32(0x00FFFFFF)
        canvas.update(picture, [Rect(x, 10, 8, 10)])
    assert len(made) == before
    fresh = to_yuv(av.VideoFrame.from_ndarray(picture.view(np.uint8).reshape(48, 64, 4), format="bgra"))
    for a, b in zip(canvas.frame.planes, fresh.planes, strict=True):
        assert bytes(a) == bytes(b)
