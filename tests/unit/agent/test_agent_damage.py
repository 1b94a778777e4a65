"""The tile map finds exactly the changed tiles, and turns them into few rectangles."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from veo.agent.capture.base import Size
from veo.agent.damage import Rect, TileMap


def _image(width: int, height: int) -> npt.NDArray[np.uint32]:
    return np.full((height, width), 0xFF202020, np.uint32)


@pytest.mark.parametrize("width", [640, 641])  # even widths compare two pixels at a time
def test_finds_exactly_the_changed_tiles(width: int) -> None:
    tiles = TileMap(Size(width, 200), tile=64)
    image = _image(width, 200)
    assert tiles.diff(image).all()  # the first image is all new
    assert not tiles.diff(image.copy()).any()  # the same pixels: nothing
    changed = image.copy()
    changed[5, 70] = 0xFFFFFFFF  # tile (0, 1)
    changed[199, width - 1] = 0  # the last, partial tile (3, cols-1)
    changed[130:140, 300:400] = 1  # tiles (2, 4..6)
    found = tiles.diff(changed)
    expected = {(0, 1), (3, tiles.cols - 1), (2, 4), (2, 5), (2, 6)}
    assert {(int(r), int(c)) for r, c in zip(*np.nonzero(found), strict=True)} == expected
    assert not tiles.diff(changed.copy()).any()  # remembered


def test_rects_merge_tile_rows_and_span_their_columns() -> None:
    tiles = TileMap(Size(300, 200), tile=64)
    grid = np.zeros((tiles.rows, tiles.cols), np.bool_)
    grid[0, 1] = True
    grid[1, 3] = True  # rows 0-1 form one band spanning columns 1..3
    grid[3, 4] = True  # the last, partial row and column
    assert tiles.rects(grid) == [Rect(64, 0, 192, 128), Rect(256, 192, 44, 8)]
    assert tiles.rects(np.zeros_like(grid)) == []


def test_reset_reports_everything_again() -> None:
    tiles = TileMap(Size(128, 128), tile=64)
    image = _image(128, 128)
    tiles.diff(image)
    tiles.reset()
    assert tiles.diff(image).all()


def test_wrong_size_is_an_error() -> None:
    with pytest.raises(ValueError, match="screen size"):
        TileMap(Size(64, 64)).view(b"\x00" * 16)
