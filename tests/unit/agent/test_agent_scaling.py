"""Encoding at the console's size: the size rule, its rate limit, scaled patches, the glue.

The console says how large it shows the screen (``view``); the agent encodes a larger screen at
that size (aspect kept, even, never up) while every coordinate stays the captured screen's.
"""

from __future__ import annotations

import asyncio
import fractions
import json

import av
import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given
from hypothesis import strategies as st

from veo.agent.capture.base import Region, ScreenCapture, Size
from veo.agent.convert import (
    COLUMN_STEP,
    SCALE_INTERPOLATION,
    WHOLE_TENTHS,
    YuvCanvas,
    _blocks,
    _touched,
    patch_bound,
    scale_interpolation,
    scale_to_yuv,
)
from veo.agent.damage import Rect
from veo.agent.low_latency import ScreenH264Encoder
from veo.agent.monitors import MonitorSwitch
from veo.agent.pacing import auto_max_fps
from veo.agent.policy import Policy
from veo.agent.scaling import (
    GRID_ASPECT,
    GRID_SHRINK,
    MIN_INTERVAL,
    ViewSizer,
    fit_size,
    fitted,
    on_grid,
    small_change,
)
from veo.agent.stream import FrameSource, ScreenTrack
from veo.agent.vp8 import ScreenVp8Encoder
from veo.protocol.base import ProtocolError
from veo.protocol.datachannel import NEEDS, AgentDataMessage, View, parse_console_data_message
from veo.protocol.permissions import Permission

K4, QHD, HD = Size(3840, 2160), Size(2560, 1440), Size(1920, 1080)


def fit(width: int, height: int) -> View:
    return View(width=width, height=height)


# ---------------------------------------------------------------- the size rule


@pytest.mark.parametrize(
    ("source", "view", "expected"),
    [
        (K4, fit(1920, 1080), HD),  # exactly half
        (QHD, fit(1920, 1080), HD),
        (K4, fit(1920, 960), Size(1706, 960)),  # the height limits; width rounded down to even
        (K4, fit(1000, 2000), Size(1000, 562)),  # the width limits; 562.5 -> 562
        (HD, fit(2560, 1440), HD),  # never up
        (HD, fit(1920, 1080), HD),  # equal: as it is
        (K4, View(width=1920, height=1080, zoom="full"), K4),  # 1:1
        (K4, None, K4),  # no view yet: full resolution
        (Size(1366, 768), fit(683, 500), Size(682, 384)),  # 683 made even
        (Size(1920, 1200), fit(1280, 720), Size(1152, 720)),  # a 16:10 monitor region
        (Size(1080, 1920), fit(1920, 1080), Size(606, 1080)),  # portrait: 607.5 -> 606
        (Size(4000, 16), fit(16, 16), Size(16, 2)),  # a sliver: at least 2
    ],
)
def test_the_fitted_size_fits_the_view_keeps_the_aspect_and_is_even(
    source: Size, view: View | None, expected: Size
) -> None:
    got = fitted(source, view)
    assert got == expected
    assert got.width % 2 == 0 and got.height % 2 == 0
    assert got.width <= source.width and got.height <= source.height
    if view is not None and view.zoom == "fit":
        assert got.width <= max(view.width, 2) and got.height <= max(view.height, 2)


@pytest.mark.parametrize("source", [K4, QHD, HD, Size(3440, 1440), Size(1920, 1200), Size(1366, 768)])
def test_the_encoded_size_is_nudged_onto_the_patch_grid_only_a_little(source: Size) -> None:
    """Where a size a little smaller has a simple ratio to the screen, the agent encodes that one:
    its changes then convert as exact patches (see ``convert``); never more than GRID_SHRINK
    narrower, never more than GRID_ASPECT off the screen's aspect (the console's monitor-switch
    guard allows 2 %)."""
    nudged = 0
    for width in range(640, source.width, 61):
        for height in range(400, source.height, 47):
            view = fit(width, height)
            plain, got = fitted(source, view), fit_size(source, view)
            assert got.width <= plain.width and got.height <= plain.height
            assert got.width % 2 == 0 and got.height % 2 == 0
            if got != plain:
                nudged += 1
                assert got.width >= plain.width * (1 - GRID_SHRINK)
                assert abs(got.height / source.height - got.width / source.width) <= GRID_ASPECT * (
                    got.width / source.width
                )
                assert YuvCanvas(got, source).patches
    assert nudged or source == Size(1366, 768)  # 1366 = 2 x 683: no simple ratio near any size
    assert fit_size(K4, fit(1920, 960)) == Size(1702, 958)  # within 1/32 px: 0.024 and 0.027


@pytest.mark.parametrize("source", [K4, QHD, HD, Size(3440, 1440)])
def test_every_view_of_the_common_screens_gets_a_size_that_patches(source: Size) -> None:
    """No view of these screens converts whole frames at every change (a typed character cost
    17-20 ms of CPU at 4K that way): each gets a size inside the view, at most GRID_SHRINK
    narrower, aspect within GRID_ASPECT, whose patch windows all fall within MAX_PHASE."""
    for width in range(640, source.width, 10):  # every 10th width: the exhaustive sweep took 36 s
        for view in (fit(width, 16384), fit(16384, width * source.height // source.width)):
            plain, got = fitted(source, view), fit_size(source, view)
            if plain == source:
                continue
            assert got.width <= view.width and got.height <= view.height
            assert got.width >= plain.width * (1 - GRID_SHRINK)
            assert abs(got.height * source.width / (got.width * source.height) - 1) <= GRID_ASPECT
            assert on_grid(source.width, got.width, COLUMN_STEP) and on_grid(source.height, got.height), view
    # the bench's own console (1920x1200 window) showing 4K: its size as fitted, not nudged
    assert fit_size(K4, fit(1520, 855)) == Size(1520, 854)
    assert YuvCanvas(Size(1520, 854), K4).patches  # on_grid is what the canvas decides by


def test_changes_under_five_percent_in_both_dimensions_are_ignored() -> None:
    assert small_change(HD, Size(1880, 1058))
    assert not small_change(HD, Size(1800, 1080))  # the width changes 6 %
    assert not small_change(HD, Size(1920, 1010))  # the height changes 6.5 %

    sizer = ViewSizer(K4)
    sizer.want(fit(1920, 1080), now=0.0)
    assert sizer.due(0.0) == HD
    sizer.want(fit(1900, 1069), now=5.0)  # a window dragged by a few pixels: no keyframe
    assert sizer.pending_at is None and sizer.due(10.0) is None and sizer.size == HD


def test_at_most_two_size_changes_a_second_and_the_last_view_wins() -> None:
    sizer = ViewSizer(K4)
    sizer.want(fit(1920, 1080), now=0.0)
    assert sizer.due(0.0) == HD  # the first change is at once
    sizer.want(fit(1280, 720), now=0.1)
    assert sizer.pending_at == MIN_INTERVAL
    assert sizer.due(0.2) is None  # held
    sizer.want(fit(960, 540), now=0.3)  # another one meanwhile: replaces the held one
    assert sizer.due(MIN_INTERVAL) == Size(960, 540)
    sizer.want(fit(1920, 1080), now=0.6)
    sizer.want(fit(960, 540), now=0.7)  # back to the size being sent: nothing held any more
    assert sizer.pending_at is None and sizer.due(5.0) is None
    sizer.want(View(width=960, height=540, zoom="full"), now=5.0)
    assert sizer.due(5.0) == K4


# ---------------------------------------------------------------- the message and its policy


def test_view_is_validated() -> None:
    message = parse_console_data_message(json.dumps({"type": "view", "width": 1920, "height": 1080}))
    assert message == View(width=1920, height=1080, zoom="fit")
    for bad in (
        {"type": "view", "width": 15, "height": 1080},
        {"type": "view", "width": 1920, "height": 16385},
        {"type": "view", "width": 1920, "height": 1080, "zoom": "2x"},
        {"type": "view", "width": 1920, "height": 1080, "extra": 1},
        {"type": "view", "height": 1080},
    ):
        with pytest.raises(ProtocolError):
            parse_console_data_message(json.dumps(bad))
    assert NEEDS["view"] == "view"


def test_view_needs_the_view_permission() -> None:
    raw = json.dumps({"type": "view", "width": 1920, "height": 1080})
    assert Policy().judge(raw).reason == "not_consented"
    granted = Policy()
    granted.grant(list(Permission), [Permission.VIEW])
    assert granted.judge(raw).allowed
    nothing_ticked = Policy()  # allowed the session (chat) but not the screen
    nothing_ticked.grant(list(Permission), [])
    assert nothing_ticked.judge(raw).reason == "view_not_granted"


# ---------------------------------------------------------------- scaled patches


def _planes(frame: av.VideoFrame) -> list[npt.NDArray[np.uint8]]:
    out = []
    for index, (height, width) in enumerate(
        [(frame.height, frame.width)] + [(frame.height // 2, frame.width // 2)] * 2
    ):
        plane = frame.planes[index]
        rows = np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)  # type: ignore[arg-type]
        out.append(rows[:height, :width].copy())
    return out


def _random(size: Size, seed: int) -> npt.NDArray[np.uint32]:
    rng = np.random.default_rng(seed)
    pixels = rng.integers(0, 2**32, (size.height, size.width), dtype=np.uint32)
    return pixels | np.uint32(0xFF000000)


def _one_pass(pixels: npt.NDArray[np.uint32], size: Size) -> av.VideoFrame:
    bgra = av.VideoFrame.from_ndarray(
        np.ascontiguousarray(pixels).view(np.uint8).reshape(*pixels.shape, 4), format="bgra"
    )
    return scale_to_yuv(bgra, size)


@pytest.mark.usefixtures("swscale_only")  # the first whole frame one swscale pass, not halved
@pytest.mark.parametrize(
    ("source", "size", "tolerance"),
    [
        (K4, HD, 0),  # 2x: swscale's step is exact, a patch is bit-identical
        (Size(2880, 1620), Size(960, 540), 0),  # 3x
        (Size(1600, 900), Size(800, 450 & ~1), 0),  # 2x, odd half height cropped to even
        (HD, Size(1280, 720), 0),  # 3/2 is exact too
        # 4/3: swscale's step (in 1/65536 px) is rounded, so a window converted alone samples up
        # to ~0.01 px off a whole pass's place: at most two levels apart on random noise
        (QHD, HD, 2),
        (K4, Size(1680, 936), 2),  # 7/16 x 13/30: a size nudged onto the grid (fit_size)
    ],
)
def test_a_scaled_patch_equals_a_whole_conversion(source: Size, size: Size, tolerance: int) -> None:
    pixels = _random(source, 1)
    canvas = YuvCanvas(size, source)
    assert canvas.patches
    canvas.update(pixels, [Rect(0, 0, source.width, source.height)])
    rng = np.random.default_rng(2)
    changes = [Rect(301, 97, 123, 81), Rect(0, 0, 7, 5), Rect(source.width - 70, source.height - 33, 70, 33)]
    for rect in changes:
        pixels[rect.y : rect.y + rect.height, rect.x : rect.x + rect.width] = _random(
            Size(rect.width, rect.height), int(rng.integers(1000))
        )
    converted = canvas.update(pixels, changes)
    assert 0 < converted < source.width * source.height // 2  # patches, not a whole frame
    for got, want in zip(_planes(canvas.frame), _planes(_one_pass(pixels, size)), strict=True):
        assert int(np.abs(got.astype(np.int16) - want).max()) <= tolerance


def _text(size: Size, seed: int) -> npt.NDArray[np.uint32]:
    """Dark 1-px strokes on a light page in lines of 11 px every 14 (what 11-px text is made
    of, the sharpest edges a screen shows)."""
    rng = np.random.default_rng(seed)
    ink = rng.random((size.height, size.width)) < 0.25
    ink[np.arange(size.height) % 14 >= 11] = False
    return np.where(ink, np.uint32(0xFF141414), np.uint32(0xFFFAFAFA)).astype(np.uint32)


@pytest.mark.usefixtures("swscale_only")  # the first whole frame one swscale pass, not halved
@pytest.mark.parametrize(
    ("source", "view", "text_worst"),
    [
        (K4, fit(1520, 855), 2),  # the bench's console: 1520x854, rows up to 0.023 px off
        (K4, fit(1920, 960), 2),  # 1702x958: 0.024 x 0.027 px
        (QHD, fit(1900, 1200), 4),  # 1900x1068: 0.021 x 0.011 px, a ratio of 1.35 (less smoothing)
        (HD, fit(1518, 900), 5),  # 1518x852: 0.024 x 0.014 px, ratio 1.26
    ],
)
def test_a_patch_off_the_grid_stays_within_its_bound_and_its_seams_do_not_show(
    source: Size, view: View, text_worst: int
) -> None:
    """Where cell windows fall up to MAX_PHASE off source pixel edges, a patch samples the source
    shifted by at most that: it differs from a whole pass by at most ``patch_bound`` levels (each
    axis's, summed) on any picture; measured on text, at its edges (the seams) and inside."""
    size = fit_size(source, view)
    assert size == fitted(source, view) or size.width < fitted(source, view).width
    canvas = YuvCanvas(size, source)
    assert canvas.patches
    bound = patch_bound(size.width, source.width, COLUMN_STEP) + patch_bound(size.height, source.height) - 1
    assert bound <= 16
    for pixels, worst in ((_text(source, 5), text_worst), (_random(source, 6), bound)):
        canvas.update(pixels, [Rect(0, 0, source.width, source.height)])
        changes = [Rect(301, 97, 200, 81), Rect(source.width // 2, source.height // 2, 9, 11)]
        for rect in changes:
            window = (slice(rect.y, rect.y + rect.height), slice(rect.x, rect.x + rect.width))
            pixels[window] = np.roll(pixels[window], 3, axis=1)
        converted = canvas.update(pixels, changes)
        assert 0 < converted < source.width * source.height // 2
        got, want = _planes(canvas.frame), _planes(_one_pass(pixels, size))
        for g, w in zip(got, want, strict=True):
            assert int(np.abs(g.astype(np.int16) - w).max()) <= min(worst, bound)
        # the seams: the luma step across every cell edge is what a whole pass has, within 2x
        steps_got = np.diff(got[0].astype(np.int16), axis=1)
        steps_want = np.diff(want[0].astype(np.int16), axis=1)
        edges = [span.inside[0] - 1 for span in canvas._columns if span.inside[0] > 0]
        assert int(np.abs(steps_got[:, edges] - steps_want[:, edges]).max()) <= 2 * worst


@pytest.mark.usefixtures("swscale_only")  # the first whole frame one swscale pass, not halved
@pytest.mark.parametrize(("source", "size"), [(K4, HD), (K4, Size(1520, 854)), (QHD, HD)])
def test_a_small_change_converts_only_the_cells_it_can_change(source: Size, size: Size) -> None:
    """A typed letter in the middle of a cell re-converts that cell alone, not every cell whose
    (wide: margin and snap) window overlaps it; and changes on every cell edge, where a
    neighbour's output can move too, still give what a whole pass gives."""
    canvas = YuvCanvas(size, source)
    assert canvas.patches
    pixels = _text(source, 8)
    canvas.update(pixels, [Rect(0, 0, source.width, source.height)])
    row, column = canvas._rows[2], canvas._columns[3]
    middle_y = (row.inside[0] + row.inside[1]) // 2 * source.height // size.height
    middle_x = (column.inside[0] + column.inside[1]) // 2 * source.width // size.width
    letter = Rect(middle_x, middle_y, 12, 20)
    pixels[letter.y : letter.y + letter.height, letter.x : letter.x + letter.width] ^= np.uint32(0x00FFFFFF)
    converted = canvas.update(pixels, [letter])
    assert converted == row.reads * column.reads  # one cell
    # one pixel either side of where two cells' own pixels meet: the filter reaches across, so
    # both cells' outputs move (measured: a source pixel changes the encoded pixels on both
    # sides of its place)
    starts = [-(-s.inside[0] * source.width // size.width) for s in canvas._columns[1:]]
    edges = [Rect(x - 1, 40, 1, 2) for x in starts] + [Rect(x, 60, 1, 2) for x in starts]
    rows = [-(-s.inside[0] * source.height // size.height) for s in canvas._rows[1:]]
    edges += [Rect(50, y - 1, 2, 1) for y in rows] + [Rect(70, y, 2, 1) for y in rows]
    for rect in edges:  # one at a time: patches (many at once convert the whole frame)
        pixels[rect.y : rect.y + rect.height, rect.x : rect.x + rect.width] ^= np.uint32(0x00FFFFFF)
        assert canvas.update(pixels, [rect]) < source.width * source.height // 2
    tolerance = 0 if source.width % size.width == 0 else 2
    tolerance = tolerance if size != Size(1520, 854) else patch_bound(1520, 3840, COLUMN_STEP)
    tolerance += 0 if size != Size(1520, 854) else patch_bound(854, 2160) - 1
    for got, want in zip(_planes(canvas.frame), _planes(_one_pass(pixels, size)), strict=True):
        assert int(np.abs(got.astype(np.int16) - want).max()) <= tolerance


@pytest.mark.usefixtures("swscale_only")  # the first whole frame one swscale pass, not halved
@pytest.mark.parametrize(
    ("source", "view"), [(HD, fit(1520, 855)), (K4, fit(1520, 855)), (QHD, fit(1900, 1200))]
)
def test_a_dragged_window_converts_the_cells_it_covers_in_one_call(source: Size, view: View) -> None:
    """A window moved across the screen (its old and new places) touches dozens of cells whose
    windows overlap (margin and snap): one call per rectangle of them reads each source pixel
    once, where cell by cell they cost more than a whole pass (which the frame then took: every
    dragged frame converted whole). The picture is still a whole pass's, within the bound."""
    size = fit_size(source, view)
    canvas = YuvCanvas(size, source)
    assert canvas.patches
    pixels = _text(source, 11)
    canvas.update(pixels, [Rect(0, 0, source.width, source.height)])
    scale = source.width // HD.width
    old, new = (
        Rect(300 * scale, 200 * scale, 520 * scale, 360 * scale),
        Rect(330 * scale, 214 * scale, 520 * scale, 360 * scale),
    )
    window = _random(Size(new.width, new.height), 12)
    pixels[old.y : old.y + old.height, old.x : old.x + old.width] = np.uint32(0xFFE0E0E0)
    pixels[new.y : new.y + new.height, new.x : new.x + new.width] = window
    converted = canvas.update(pixels, [old, new])
    whole = source.width * source.height
    assert converted * 10 < whole * WHOLE_TENTHS  # patches (at 1080p cell by cell: a whole pass)
    cells = {
        (r, c)
        for rect in (old, new)
        for r in _touched(canvas._rows, rect.y, rect.y + rect.height)
        for c in _touched(canvas._columns, rect.x, rect.x + rect.width)
    }
    assert converted < sum(canvas._rows[r].reads * canvas._columns[c].reads for r, c in cells)
    bound = patch_bound(size.width, source.width, COLUMN_STEP) + patch_bound(size.height, source.height) - 1
    for got, want in zip(_planes(canvas.frame), _planes(_one_pass(pixels, size)), strict=True):
        assert int(np.abs(got.astype(np.int16) - want).max()) <= bound


@given(st.sets(st.tuples(st.integers(0, 9), st.integers(0, 9)), max_size=40))
def test_cells_grouped_in_rectangles_cover_each_cell_once(cells: set[tuple[int, int]]) -> None:
    blocks = _blocks(cells)
    covered = [(r, c) for r0, r1, c0, c1 in blocks for r in range(r0, r1) for c in range(c0, c1)]
    assert sorted(covered) == sorted(cells)


def _grey_lines(size: Size) -> npt.NDArray[np.uint32]:
    """1-px #999 strokes on white, every 11 px both ways (light grey 11-px text's thinnest parts)."""
    grey = np.full((size.height, size.width), 0xFFFFFFFF, dtype=np.uint32)
    grey[:, ::11] = grey[::11, :] = 0xFF999999
    return grey


@pytest.mark.parametrize(
    ("source", "view", "sharper"), [(K4, fit(1520, 855), True), (HD, fit(1520, 855), False)]
)
def test_twice_smaller_and_more_a_thin_stroke_keeps_more_contrast(
    source: Size, view: View, sharper: bool
) -> None:
    """From SHARP_FROM times smaller on, the luma filter is bicubic (its negative lobes): 1-px grey
    strokes keep more of their contrast than bilinear leaves them, so x264 flattens less; at smaller
    ratios it is bilinear, as before. Cells use the whole picture's filter (the patch tests)."""
    size = fit_size(source, view)
    canvas = YuvCanvas(size, source)
    canvas.update(_grey_lines(source), [Rect(0, 0, source.width, source.height)])
    canvas.settle(_grey_lines(source))  # the sharp pass (a moving picture may be libyuv's)
    bgra = av.VideoFrame.from_ndarray(
        _grey_lines(source).view(np.uint8).reshape(source.height, source.width, 4), format="bgra"
    )
    bilinear = scale_to_yuv(bgra, size, interpolation=int(SCALE_INTERPOLATION))
    # the strokes' contrast: the luma's spread (both filters keep its mean); 4K: 16.7 against 14.2
    contrast = [float(np.std(_planes(f)[0].astype(np.float32))) for f in (canvas.frame, bilinear)]
    assert (contrast[0] > 1.1 * contrast[1]) == sharper
    assert (scale_interpolation(size, source) != int(SCALE_INTERPOLATION)) == sharper


def test_columns_start_on_even_source_pixels() -> None:
    """swscale takes an RGB picture's chroma from pixel pairs: a window starting on an odd source
    column pairs them differently from a whole pass (up to 33 levels of chroma on random colours)."""
    for size in (Size(1520, 854), Size(1702, 958), Size(1900, 1068)):
        canvas = YuvCanvas(size, K4 if size.width != 1900 else QHD)
        assert all(span.source[0] % 2 == 0 for span in canvas._columns)


def test_a_ratio_without_a_grid_converts_whole_frames() -> None:
    """1366x768 -> 1006x566: windows fall 0.036 x 0.053 px off source pixel edges, over MAX_PHASE,
    so every change converts the whole frame (still identical). fit_size never picks such a size
    where one within GRID_SHRINK patches."""
    source, size = Size(1366, 768), Size(1006, 566)
    canvas = YuvCanvas(size, source)
    assert not canvas.patches
    pixels = _random(source, 3)
    canvas.update(pixels, [Rect(0, 0, 1366, 768)])
    pixels[10:20, 10:20] = 0xFF00FF00
    assert canvas.update(pixels, [Rect(10, 10, 10, 10)]) == 1366 * 768
    for got, want in zip(_planes(canvas.frame), _planes(_one_pass(pixels, size)), strict=True):
        assert np.array_equal(got, want)


# ---------------------------------------------------------------- the stream


class Screen(ScreenCapture):
    def __init__(self, size: Size) -> None:
        self.pixels = np.zeros((size.height, size.width, 4), np.uint8)
        self.pixels[..., 3] = 255
        self.region: Region | None = None

    def size(self) -> Size:
        return self.region.size if self.region else Size(self.pixels.shape[1], self.pixels.shape[0])

    def set_region(self, region: Region | None) -> Size:
        self.region = region
        return self.size()

    def grab(self) -> bytes:
        r = self.region or Region(0, 0, self.pixels.shape[1], self.pixels.shape[0])
        return self.pixels[r.y : r.y + r.height, r.x : r.x + r.width].tobytes()

    def close(self) -> None:
        pass


def test_frames_follow_the_view_while_the_coordinates_stay_the_screens() -> None:
    screen = Screen(Size(1281, 721))  # odd: the coordinate space is cropped to even
    source = FrameSource(screen, keepalive_seconds=60.0)
    first = source.next(now=0.0)
    assert first is not None and (first.width, first.height) == (1280, 720)  # no view: full size
    source.set_view(fit(640, 400), now=0.1)
    frame = source.next(now=0.1)  # unchanged screen, yet sent at once at the new size
    assert frame is not None and (frame.width, frame.height) == (640, 360)
    assert source.size == Size(1280, 720) and source.encoded == Size(640, 360)
    source.set_view(fit(320, 200), now=0.2)  # too soon: held, and the source wakes up for it
    assert source.next(now=0.2) is None
    sizes = {}
    now = 0.2
    while now < 1.0:  # the track sleeps until ``repeat_at``: the held size is applied on time
        now = source.repeat_at
        frame = source.next(now=now)
        assert frame is not None
        sizes[round(now, 3)] = (frame.width, frame.height)
    assert sizes[0.35] == (640, 360)  # the refine repeat, still at the old size
    assert sizes[round(0.1 + MIN_INTERVAL, 3)] == (320, 180)
    # another monitor: the view applies to it at once
    assert source.set_region(Region(0, 0, 640, 720)) == Size(640, 720)
    assert source.encoded == fit_size(Size(640, 720), fit(320, 200))  # 640x720 fitted into 320x200


def test_a_scaled_change_keeps_the_picture_right() -> None:
    screen = Screen(Size(512, 256))
    source = FrameSource(screen, keepalive_seconds=60.0)
    source.set_view(fit(256, 256), now=0.0)
    assert source.next(now=0.0) is not None
    screen.pixels[100:140, 300:360, 2] = 255  # a red block
    frame = source.next(now=0.1)
    assert frame is not None and (frame.width, frame.height) == (256, 128)
    rgb = frame.to_ndarray(format="rgb24")
    assert rgb[60, 165, 0] > 200 and rgb[60, 165, 2] < 60  # at half its place
    assert rgb[10, 10].max() < 30


async def test_the_rate_cap_follows_the_encoded_size_and_size_stays_the_screens() -> None:
    screen = Screen(QHD)
    track = ScreenTrack(lambda: screen, damage_factory=None)
    try:
        assert await track.size() == QHD
        assert track._pacer.interval == pytest.approx(1 / auto_max_fps(QHD))
        await track.set_view(fit(1280, 720))
        track.allow()
        frame = await track.recv()
        assert (frame.width, frame.height) == (1280, 720)
        assert track._pacer.interval == pytest.approx(1 / auto_max_fps(Size(1280, 720)))
        assert await track.size() == QHD  # the console's coordinate space
    finally:
        track.stop()
        track._executor.shutdown(wait=True)


class ViewTrack:
    def __init__(self) -> None:
        self.views: list[View] = []

    async def set_region(self, region: Region | None) -> Size:
        return K4

    async def set_view(self, view: View) -> None:
        self.views.append(view)


async def test_the_switch_passes_the_view_to_the_track_and_keeps_it() -> None:
    sent: list[AgentDataMessage] = []
    track = ViewTrack()
    switch = MonitorSwitch(
        send=sent.append,
        track=lambda: track,
        input_path=type("In", (), {"set_region": lambda self, r: None})(),
        may_show=lambda: True,
    )
    try:
        switch.set_view(fit(1920, 1080))
        for _ in range(5):
            await asyncio.sleep(0)
        assert track.views == [fit(1920, 1080)] and switch.view == fit(1920, 1080)
        assert sent == []  # the coordinate space did not change: no new ``screen``
        for width in range(1000, 1100):  # a flood: the track gets the newest, not a queue of all
            switch.set_view(fit(width, 600))
        for _ in range(5):
            await asyncio.sleep(0)
        assert track.views[-1] == fit(1099, 600) and len(track.views) <= 3
    finally:
        switch.close()


# ---------------------------------------------------------------- the encoders


def _grey(width: int, height: int, pts: int) -> av.VideoFrame:
    frame = av.VideoFrame(width, height, "yuv420p")
    for plane in frame.planes:
        plane.update(bytes(np.full(plane.buffer_size, 128, np.uint8)))
    frame.pts, frame.time_base = pts, fractions.Fraction(1, 90_000)
    return frame


def _vp8_keyframe(payload: bytes) -> bool:
    """RFC 7741: skip the payload descriptor; the VP8 header's P bit is 0 on a keyframe."""
    at = 1
    if payload[0] & 0x80:  # extensions
        extensions, at = payload[1], 2
        if extensions & 0x80:  # picture id, 7 or 15 bits
            at += 2 if payload[at] & 0x80 else 1
        at += bool(extensions & 0x40) + bool(extensions & 0x30)
    return payload[at] & 1 == 0


def _h264_parameter_sets(payload: bytes) -> bool:
    """A STAP-A (type 24) whose first unit is a sequence parameter set (type 7)."""
    return payload[0] & 0x1F == 24 and payload[3] & 0x1F == 7


@pytest.mark.parametrize("codec", ["h264", "vp8"])
def test_the_encoder_reopens_with_a_keyframe_when_the_size_changes(codec: str) -> None:
    encoder = ScreenH264Encoder() if codec == "h264" else ScreenVp8Encoder()
    starts = []
    for index, (width, height) in enumerate([(640, 360), (640, 360), (320, 180), (320, 180)]):
        payloads, _ = encoder.encode(_grey(width, height, index * 3000))
        assert encoder.codec.width == width
        starts.append(_h264_parameter_sets(payloads[0]) if codec == "h264" else _vp8_keyframe(payloads[0]))
    assert starts == [True, False, True, False]
