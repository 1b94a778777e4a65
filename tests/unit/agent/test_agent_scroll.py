"""A scroll found between two grabs (``veo.agent.scroll``) and the fast picture moved with it
(``YuvCanvas`` via ``FrameSource``): the rows a scroll moved are found pixel for pixel, band by
band, beside anything that stayed; the canvas moves its picture by whole (even) rows, makes
exactly the newly shown rows again, gives up where too much is new, and ends as the one-pass
picture once the screen rests.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from tests.unit.agent.screens import ArrayScreen

from veo.agent import convert
from veo.agent.capture.base import Size
from veo.agent.convert import YuvCanvas, _plane, scale_interpolation, scale_to_yuv
from veo.agent.damage import Rect
from veo.agent.scaling import View
from veo.agent.scroll import Scroll, ScrollFinder, band_width, matched_bands, signatures, vote
from veo.agent.stream import FrameSource

pytestmark = pytest.mark.usefixtures("native_converter")

SOURCE, SIZE = Size(960, 540), Size(760, 428)  # 1.26x: one libyuv bilinear step, as 1080p -> 1520x854
BAND = band_width(SOURCE.width)


def _page(height: int, width: int = SOURCE.width, seed: int = 1) -> npt.NDArray[np.uint32]:
    """A tall page of distinct rows (random pixels), opaque."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 2**32, (height, width), dtype=np.uint64).astype(np.uint32) | np.uint32(0xFF000000)


def _window(page: npt.NDArray[np.uint32], top: int) -> npt.NDArray[np.uint32]:
    return page[top : top + SOURCE.height].copy()


def _whole() -> list[Rect]:
    return [Rect(0, 0, SOURCE.width, SOURCE.height)]


def _luma(canvas: YuvCanvas) -> npt.NDArray[np.uint8]:
    return _plane(canvas.frame, 0, canvas.size.height, canvas.size.width).copy()


def _fast_luma(pixels: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """The fast (libyuv) picture of ``pixels`` made whole, as a moving screen's is."""
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(pixels, _whole())
    assert not canvas.settled
    return _luma(canvas)


@pytest.mark.parametrize("dy", [6, -9, 1])
def test_a_scroll_is_found_and_checked_pixel_for_pixel(dy: int) -> None:
    page = _page(SOURCE.height + 20)
    before, after = _window(page, 10), _window(page, 10 + dy)
    scroll = ScrollFinder().find(before, after)
    assert scroll is not None and scroll.dy == dy
    moved = np.zeros(SOURCE.height, np.bool_)
    if dy > 0:
        moved[: SOURCE.height - dy] = True
    else:
        moved[-dy:] = True
    assert (scroll.matched == moved[:, None]).all()  # the newly shown rows are not


def test_one_changed_pixel_is_never_taken_as_moved() -> None:
    page = _page(SOURCE.height + 20)
    before, after = _window(page, 0), _window(page, 6)
    after[300, 700] ^= np.uint32(1)
    scroll = ScrollFinder().find(before, after)
    assert scroll is not None and scroll.dy == 6
    assert not scroll.matched[300, 700 // BAND]
    assert scroll.matched[300].sum() == scroll.matched.shape[1] - 1


def test_a_still_bar_over_the_scroll_leaves_only_its_pieces_unmatched() -> None:
    """The agent's own session bar stays over the top of the screen while the page scrolls."""
    page = _page(SOURCE.height + 20)
    bar = _page(40, 200, seed=9)
    before, after = _window(page, 0), _window(page, 6)
    for grab in (before, after):
        grab[10:50, 300:500] = bar
    scroll = ScrollFinder().find(before, after)
    assert scroll is not None and scroll.dy == 6
    touched = list(range(300 // BAND, (500 - 1) // BAND + 1))
    others = [band for band in range(scroll.matched.shape[1]) if band not in touched]
    assert scroll.matched[: SOURCE.height - 6][:, others].all()
    assert not scroll.matched[10:50][:, touched].any()


def test_a_sidebar_beside_the_scroll_in_every_row_still_finds_it() -> None:
    """No whole row matches (a still sidebar in every row): the bands vote."""
    page = _page(SOURCE.height + 20)
    sidebar = _page(SOURCE.height, 2 * BAND, seed=3)
    before, after = _window(page, 0), _window(page, 6)
    before[:, : 2 * BAND] = sidebar
    after[:, : 2 * BAND] = sidebar
    assert (
        vote(signatures(before).sum(axis=1, keepdims=True), signatures(after).sum(axis=1, keepdims=True))
        is None
    )
    scroll = ScrollFinder().find(before, after)
    assert scroll is not None and scroll.dy == 6
    assert not scroll.matched[:, :2].any() and scroll.matched[: SOURCE.height - 6, 2:].all()


def test_no_scroll_is_found_where_there_is_none() -> None:
    finder = ScrollFinder()
    assert finder.find(_page(SOURCE.height, seed=1), _page(SOURCE.height, seed=2)) is None  # all new
    blank = np.full((SOURCE.height, SOURCE.width), 0xFFFFFFFF, np.uint32)
    assert finder.find(blank, blank.copy()) is None  # nothing tells one row from another
    assert finder.find(blank, _page(SOURCE.height - 2)) is None  # another size


def test_matched_bands_of_an_odd_width() -> None:
    """Two pixels at a time only where the width allows: an odd width is compared pixel by pixel."""
    page = _page(120, 301)
    before, after = page[:100].copy(), page[4:104].copy()
    after[50, 300] ^= np.uint32(1)
    matched = matched_bands(before, after, 4)
    assert band_width(301) == 32 and matched.shape == (100, 10)
    assert not matched[50, 9] and matched[:96].sum() == 96 * 10 - 1 and not matched[96:].any()


def test_a_scrolled_picture_is_moved_and_only_its_new_rows_made_again() -> None:
    page = _page(SOURCE.height + 40)
    first, second = _window(page, 0), _window(page, 6)
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(first, _whole())
    before = _luma(canvas)
    finder = ScrollFinder()
    converted = canvas.update(second, _whole(), lambda every: finder.find(first, second, every))
    assert 0 < converted < SOURCE.width * SOURCE.height // 10  # the new strip, not the picture
    assert not canvas.settled
    after, expected = _luma(canvas), _fast_luma(second)
    step = 4  # 6 source rows are 4.75 canvas rows: the nearest even number
    # moved whole, but for the rows whose filter reached past the screen's edge then or now
    assert (after[2 : SIZE.height - 6] == before[2 + step : SIZE.height - 6 + step]).all()
    assert (after[-6:] == expected[-6:]).all()  # the newly shown rows are the fast picture's own
    assert (after[:2] == expected[:2]).all()
    assert canvas._carry == pytest.approx(6 / (SOURCE.height / SIZE.height) - step)


@pytest.mark.parametrize(
    ("source", "size", "dy", "step"),
    [
        (Size(1920, 1080), Size(760, 428), 12, 4),  # halved, then bilinear: as 4K in a 1520-px console
        (Size(1920, 1080), Size(960, 540), 12, 6),  # exactly halved
    ],
)
def test_a_picture_halved_on_its_way_is_moved_too(source: Size, size: Size, dy: int, step: int) -> None:
    page = _page(source.height + 40, source.width)
    first, second = page[: source.height].copy(), page[dy : dy + source.height].copy()
    whole = [Rect(0, 0, source.width, source.height)]
    canvas, finder = YuvCanvas(size, source), ScrollFinder()
    canvas.update(first, whole)
    before = _luma(canvas)
    assert (
        canvas.update(second, whole, lambda every: finder.find(first, second, every))
        < source.width * source.height // 10
    )
    fresh = YuvCanvas(size, source)
    fresh.update(second, whole)
    after, expected = _luma(canvas), _luma(fresh)
    assert (after[2:-6] == before[2 + step : size.height - 6 + step]).all()
    assert (after[-6:] == expected[-6:]).all()  # the new rows exactly the fast picture's own


def test_a_picture_scrolled_back_up_is_moved_down() -> None:
    page = _page(SOURCE.height + 40)
    first, second = _window(page, 20), _window(page, 11)  # 9 rows up: the picture moves down
    canvas, finder = YuvCanvas(SIZE, SOURCE), ScrollFinder()
    canvas.update(first, _whole())
    before = _luma(canvas)
    assert (
        canvas.update(second, _whole(), lambda every: finder.find(first, second, every))
        < SOURCE.width * SOURCE.height // 10
    )
    after, expected = _luma(canvas), _fast_luma(second)
    step = -8  # 9 source rows are 7.1 canvas rows: the nearest even number
    assert (after[10:-2] == before[10 + step : SIZE.height - 2 + step]).all()
    assert (after[:8] == expected[:8]).all()


def test_pieces_are_runs_of_rows_merged_across_bands() -> None:
    redo = np.zeros((10, 5), np.bool_)
    redo[8:10] = True  # the strip across the screen
    redo[1:4, 2:4] = True  # a bar over two bands
    redo[5, 0] = True
    assert convert._pieces(redo) == [(1, 4, 2, 4), (5, 6, 0, 1), (8, 10, 0, 5)]
    assert convert._pieces(np.zeros((3, 2), np.bool_)) == []


def test_the_carry_keeps_the_moved_picture_within_a_row_of_the_screen() -> None:
    page = _page(SOURCE.height + 200)
    canvas, finder = YuvCanvas(SIZE, SOURCE), ScrollFinder()
    canvas.update(_window(page, 0), _whole())
    top, previous = 0, _window(page, 0)
    for _ in range(30):
        top += 6
        grab = _window(page, top)
        canvas.update(grab, _whole(), lambda every, p=previous, g=grab: finder.find(p, g, every))
        previous = grab
        assert abs(canvas._carry) <= 1.0


def test_too_much_that_is_new_is_converted_whole() -> None:
    page = _page(SOURCE.height + 40)
    first, second = _window(page, 0), _window(page, 6)
    second[: SOURCE.height * 2 // 3] = _page(SOURCE.height * 2 // 3, seed=4)  # two thirds new
    canvas, finder = YuvCanvas(SIZE, SOURCE), ScrollFinder()
    canvas.update(first, _whole())
    converted = canvas.update(second, _whole(), lambda every: finder.find(first, second, every))
    assert converted == SOURCE.width * SOURCE.height
    assert (_luma(canvas) == _fast_luma(second)).all()


def test_after_moving_pictures_that_were_no_scroll_a_few_are_made_without_looking() -> None:
    """An animation is no scroll: it does not pay the search in every frame."""
    pages = [_page(SOURCE.height, seed=seed) for seed in range(10, 20)]
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(pages[0], _whole())
    asked: list[int] = []

    def search(every: int) -> Scroll | None:
        asked.append(every)
        return None

    for index, page in enumerate(pages[1:], start=1):
        canvas.update(page, _whole(), search)
        assert (_luma(canvas) == _fast_luma(page)).all(), index
    assert len(asked) == 3  # frames 1, 5 and 9 looked; three after each miss did not
    assert convert.SHIFT_RETRY_FRAMES == 3


def test_a_picture_not_made_fast_in_one_step_is_not_moved() -> None:
    """Only the planes of a one-step fast picture of the last pixels are moved: a sharp picture
    (cells, or the pass once the screen rests) is made again."""
    page = _page(SOURCE.height + 40)
    first, second = _window(page, 0), _window(page, 6)
    canvas = YuvCanvas(SIZE, SOURCE)
    canvas.update(first, _whole())
    canvas.settle(first)  # sharp
    asked = []
    canvas.update(second, _whole(), lambda every: asked.append(every) or None)  # type: ignore[func-returns-value]
    assert not asked  # not even asked: nothing to move


def test_after_a_scroll_the_resting_screen_is_the_one_pass_picture() -> None:
    page = _page(SOURCE.height + 40)
    first, second = _window(page, 0), _window(page, 6)
    canvas, finder = YuvCanvas(SIZE, SOURCE), ScrollFinder()
    canvas.update(first, _whole())
    canvas.update(second, _whole(), lambda every: finder.find(first, second, every))
    assert canvas.settle(second) == SOURCE.width * SOURCE.height and canvas.settled
    frame = scale_to_yuv(
        convert.av.VideoFrame.from_ndarray(
            second.view(np.uint8).reshape(SOURCE.height, SOURCE.width, 4), format="bgra"
        ),
        SIZE,
        interpolation=scale_interpolation(SIZE, SOURCE),
    )
    assert (_luma(canvas) == _plane(frame, 0, SIZE.height, SIZE.width)).all()


def test_the_stream_moves_a_scrolled_picture() -> None:
    page = _page(SOURCE.height + 40)
    screen = ArrayScreen(_window(page, 0))
    source = FrameSource(screen, keepalive_seconds=60.0)
    source.set_view(View(width=SIZE.width, height=SIZE.height + 40), now=0.0)
    assert source.next(now=0.0) is not None and source.scaled
    screen.pixels = _window(page, 3)  # everything moved: fast, whole
    assert source.next(now=0.05) is not None
    converted = source.pixels_converted
    screen.pixels = _window(page, 9)  # and on: moved
    assert source.next(now=0.1) is not None
    assert source.pixels_converted - converted < SOURCE.width * SOURCE.height // 10


def test_bands_are_whole_pairs_of_pixels_fifteen_across() -> None:
    assert [band_width(width) for width in (1920, 3840, 2560, 1366, 960, 100)] == [128, 256, 176, 96, 64, 16]
    assert Scroll(3, np.ones((4, 2), np.bool_), 64).band == 64


def test_every_other_row_checked_counts_a_row_between_where_both_neighbours_moved() -> None:
    page = _page(SOURCE.height + 20)
    before, after = _window(page, 0), _window(page, 6)
    after[301, 10] ^= np.uint32(1)  # between two checked rows: missed, as documented
    after[400, 10] ^= np.uint32(1)  # a checked row: it and the rows either side count as not moved
    matched = matched_bands(before, after, 6, every=2)
    assert matched[301, 0]
    assert not matched[399:402, 0].any() and matched[398, 0] and matched[402, 0]
    assert matched[: SOURCE.height - 6, 1:].all() and not matched[SOURCE.height - 6 :].any()
    with pytest.raises(ValueError, match="every other"):
        matched_bands(before, after, 6, every=3)
