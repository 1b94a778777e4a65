"""libyuv's conversion of pictures at the screen's size (``agent/libyuv.py``, ``convert.native``).

What the canvas relies on: a rectangle converted alone is bit for bit the whole conversion's
there (so patches need no margin), the colours are swscale's within a level, bad calls are
refused in Python before C writes anywhere, and without the library the canvas uses swscale.
"""

from __future__ import annotations

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veo.agent import convert, libyuv
from veo.agent.capture.base import Size
from veo.agent.convert import YuvCanvas
from veo.agent.damage import Rect

pytestmark = pytest.mark.usefixtures("native_converter")

SIZE = Size(192, 108)


def _picture(seed: int, size: Size = SIZE) -> npt.NDArray[np.uint32]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**32, (size.height, size.width), dtype=np.uint64).astype(np.uint32)


def _planes(canvas: YuvCanvas) -> list[bytes]:
    return [bytes(plane) for plane in canvas.frame.planes]


@settings(max_examples=60, deadline=None)
@given(
    rects=st.lists(
        st.tuples(
            st.integers(0, SIZE.width - 1),
            st.integers(0, SIZE.height - 1),
            st.integers(1, SIZE.width),
            st.integers(1, SIZE.height),
        ),
        min_size=1,
        max_size=4,
    ),
    seed=st.integers(0, 2**16),
)
def test_changed_rectangles_give_what_the_whole_conversion_gives(
    rects: list[tuple[int, int, int, int]], seed: int
) -> None:
    """Odd edges, rectangles over the frame's edge, several at once: the canvas after the
    patches equals a canvas that converted the whole changed picture."""
    before, after = _picture(seed), _picture(seed + 1)
    changed = before.copy()
    rectangles = [Rect(x, y, w, h) for x, y, w, h in rects]
    for r in rectangles:
        changed[r.y : r.y + r.height, r.x : r.x + r.width] = after[r.y : r.y + r.height, r.x : r.x + r.width]
    patched = YuvCanvas(SIZE)
    patched.update(before, [Rect(0, 0, SIZE.width, SIZE.height)])
    frame = patched.frame
    patched.update(changed, rectangles)
    assert patched.frame is frame  # written in place: no new frame, no copy
    whole = YuvCanvas(SIZE)
    whole.update(changed, [Rect(0, 0, SIZE.width, SIZE.height)])
    assert _planes(patched) == _planes(whole)


def test_luma_is_swscales_within_one_level() -> None:
    """The same matrix and range as swscale's (BT.601, limited): random pixels, both converters.
    (Chroma sits elsewhere in the block, so only flat colours compare: ``test_agent_colour``.)"""
    pixels = _picture(7)
    ours = YuvCanvas(SIZE)
    ours.update(pixels, [Rect(0, 0, SIZE.width, SIZE.height)])
    height, width = pixels.shape
    bgra = av.VideoFrame.from_ndarray(pixels.view(np.uint8).reshape(height, width, 4), format="bgra")
    theirs = convert.to_yuv(bgra)
    luma = ours.frame.to_ndarray()[: SIZE.height].astype(int) - theirs.to_ndarray()[: SIZE.height]
    assert np.abs(luma).max() <= 1


def test_the_one_call_refuses_what_would_write_out_of_place(native_converter: libyuv.Libyuv) -> None:
    native = native_converter
    source = _picture(1)
    y = np.zeros((108, 192), np.uint8)
    u, v = np.zeros((54, 96), np.uint8), np.zeros((54, 96), np.uint8)
    with pytest.raises(ValueError, match="even"):
        native.bgra_to_i420(source[:107], y[:107], u, v)
    with pytest.raises(ValueError, match="planes"):
        native.bgra_to_i420(source, y, u[:53], v)
    with pytest.raises(ValueError, match="adjacent"):
        native.bgra_to_i420(source[:, ::2], y[:, :96], u[:, :48], v[:, :48])
    y.flags.writeable = False
    with pytest.raises(ValueError, match="writable"):
        native.bgra_to_i420(source, y, u, v)
    assert not u.any() and not v.any()  # nothing written


def test_without_the_library_the_canvas_converts_with_swscale(monkeypatch: pytest.MonkeyPatch) -> None:
    libyuv.load.cache_clear()
    monkeypatch.setattr(libyuv, "LIBRARY", "libveo-no-such-yuv.so.0")
    try:
        assert libyuv.load() is None
    finally:
        libyuv.load.cache_clear()
    monkeypatch.setattr(convert, "native", None)
    canvas = YuvCanvas(SIZE)
    assert canvas.update(_picture(3), [Rect(0, 0, SIZE.width, SIZE.height)]) == SIZE.width * SIZE.height
    assert convert.chroma_location(scaled=False) == convert.CHROMA_LOCATION


def test_halving_and_scaling_refuse_what_would_write_out_of_place(native_converter: libyuv.Libyuv) -> None:
    source = _picture(2)  # 192x108
    target = np.zeros((54, 96), np.uint32)
    with pytest.raises(ValueError, match="even"):
        native_converter.halve_bgra(source[:107], target)
    with pytest.raises(ValueError, match="half"):
        native_converter.halve_bgra(source, target[:53])
    with pytest.raises(ValueError, match="non-empty"):
        native_converter.scale_bgra(source[:0], target)
    with pytest.raises(ValueError, match="non-empty"):
        native_converter.scale_bgra(source, target[:0])
    with pytest.raises(ValueError, match="2x"):
        native_converter.scale_bgra(source, target[:50])  # 108 rows into 50: more than 2x
    with pytest.raises(ValueError, match="smaller"):
        native_converter.scale_bgra(source[:50], target)  # 50 rows into 54: larger
    for scaling in (native_converter.halve_bgra, native_converter.scale_bgra):
        with pytest.raises(ValueError, match="adjacent"):
            scaling(source[:, ::2], target[:, :48])
        with pytest.raises(ValueError, match="adjacent"):
            scaling(source[:, :96], target[:, ::2])  # the target's pixels not adjacent either
        target.flags.writeable = False
        with pytest.raises(ValueError, match="writable"):
            scaling(source, target)
        target.flags.writeable = True
    assert not target.any()


def test_halving_averages_each_block_and_scaling_reaches_every_pixel(native_converter: libyuv.Libyuv) -> None:
    """Halved: each 2x2 block's average. Scaled 1.25x smaller: 1-px black columns every 5 px,
    every one darkens a target pixel (2 taps under 2x reach every source pixel)."""
    source = _picture(2)
    halved = np.zeros((54, 96), np.uint32)
    native_converter.halve_bgra(source, halved)  # the 2x2 averages, within libyuv's rounding
    blocks = source.view(np.uint8).reshape(54, 2, 96, 2, 4).astype(int).sum(axis=(1, 3)) / 4
    assert np.abs(halved.view(np.uint8).reshape(54, 96, 4) - blocks).max() <= 1
    strokes = np.full((100, 200), 0xFFFFFFFF, np.uint32)
    strokes[:, 3::5] = 0xFF000000
    smaller = np.zeros((80, 160), np.uint32)
    native_converter.scale_bgra(strokes, smaller)
    row = smaller.view(np.uint8).reshape(80, 160, 4)[40, :, 0].astype(int)
    for stroke in range(3, 200, 5):
        at = stroke * 160 // 200
        assert row[max(at - 1, 0) : at + 2].min() <= 255 * 0.75, (stroke, row[at - 1 : at + 2])


def test_scaling_some_rows_gives_exactly_those_rows_of_the_whole(native_converter: libyuv.Libyuv) -> None:
    """A scrolled picture's new strip (whole rows) is what scaling the whole picture gives there;
    a narrower piece is within a level of it (libyuv's plain-C leftover columns)."""
    source = _picture(3)  # 192x108
    whole = np.zeros((86, 152), np.uint32)
    native_converter.scale_bgra(source, whole)
    rows = np.zeros_like(whole)
    native_converter.scale_bgra_rows(source, rows, 40, 6)
    assert (rows[40:46] == whole[40:46]).all() and not rows[:40].any() and not rows[46:].any()
    piece = np.zeros_like(whole)
    native_converter.scale_bgra_rows(source, piece, 10, 4, 50, 30)
    difference = np.abs(
        piece[10:14, 50:80].view(np.uint8).astype(int) - whole[10:14, 50:80].view(np.uint8).astype(int)
    )
    assert difference.max() <= 1 and not piece[:, :50].any() and not piece[:, 80:].any()
    with pytest.raises(ValueError, match="rows"):
        native_converter.scale_bgra_rows(source, rows, 84, 3)
    with pytest.raises(ValueError, match="columns"):
        native_converter.scale_bgra_rows(source, rows, 0, 2, 150, 3)
    with pytest.raises(ValueError, match="2x"):
        native_converter.scale_bgra_rows(source, rows[:50], 0, 2)


def test_the_last_rows_of_a_clip_are_the_whole_pictures(native_converter: libyuv.Libyuv) -> None:
    source = _picture(4)  # 192x108
    whole = np.zeros((86, 152), np.uint32)
    native_converter.scale_bgra(source, whole)
    for left in range(100, 108):
        rows = np.zeros_like(whole)
        native_converter.scale_bgra_rows(source, rows, 80, 6, left, 152 - left)
        difference = rows[80:86, left:].view(np.uint8).astype(int) - whole[80:86, left:].view(
            np.uint8
        ).astype(int)
        assert np.abs(difference).max() <= 1


_GUARDED = """
import ctypes, mmap, sys
import numpy as np
from veo.agent import libyuv
native = libyuv.load()
height, width = 1080, 1920
size = height * width * 4
page = mmap.PAGESIZE
length = -(-size // page) * page + page
area = mmap.mmap(-1, length)
base = ctypes.addressof(ctypes.c_char.from_buffer(area))
libc = ctypes.CDLL(None, use_errno=True)
libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
assert libc.mprotect(base + length - page, page, 0) == 0  # the page after the picture: no access
offset = length - page - size  # the picture ends where the guard page starts
source = np.frombuffer(area, np.uint32, height * width, offset).reshape(height, width)
source[:] = np.arange(height * width, dtype=np.uint32).reshape(height, width)
target = np.zeros((854, 1520), np.uint32)
native.scale_bgra_rows(source, target, 848, 6)
for left in range(1000, 1012):  # pieces reaching the right edge: libyuv reads a few pixels past it
    native.scale_bgra_rows(source, target, 846, 8, left, 1520 - left)
print("read nothing past the picture")
"""


def test_a_clip_at_the_bottom_of_shared_memory_does_not_crash() -> None:
    """The screen's grab ends where its shared memory ends: the bench's agent crashed there."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-c", _GUARDED], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-500:]
    assert "read nothing past the picture" in done.stdout
