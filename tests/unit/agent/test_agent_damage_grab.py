"""Grabbing only what X DAMAGE reports, into two buffers in turn, misses no change.

A simulated X server (a pixel array, its damage rectangles, grabs of row bands and of
rectangles into two buffers) drives the real :class:`~veo.agent.capture.x11.MssCapture` grab
logic and the real :class:`~veo.agent.damage.TileMap`: after every frame, what the console would
show (the tiles sent so far) is compared with the screen. Drawing races the grab: some drawings
land between the damage being taken and the grab, some inside the grabbed parts, some outside.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from veo.agent.capture import grab_parts, x11
from veo.agent.capture.base import Region, Size
from veo.agent.damage import Rect, TileMap

W, H = 320, 256


class FakeServer:
    """The screen, the damage since the last take, and grabs into two buffers."""

    def __init__(self) -> None:
        self.screen = np.zeros((H, W), np.uint32)
        self.damage: list[tuple[int, int, int, int]] = []  # x, y, w, h drawn since the last take
        self.buffers = [np.full((H, W), 0xDEAD, np.uint32) for _ in range(2)]
        #: drawn right after the next take, before the grab (the race)
        self.between: list[tuple[int, int, int, int, int]] = []
        self.rows_grabbed = 0
        self.pixels_grabbed = 0

    def draw(self, x: int, y: int, w: int, h: int, value: int) -> None:
        self.screen[y : y + h, x : x + w] = value
        self.damage.append((x, y, w, h))

    def take(self) -> list[Rect]:
        taken, self.damage = self.damage, []
        for drawing in self.between:
            self.draw(*drawing)
        self.between = []
        return [Rect(*box) for box in taken]

    def damaged(self) -> npt.NDArray[np.bool_]:
        mask = np.zeros((H, W), np.bool_)
        for x, y, w, h in self.damage:
            mask[y : y + h, x : x + w] = True
        return mask

    # ShmFrames
    def grab(self, index: int, monitor: dict[str, int], top: int, bottom: int) -> None:
        self.buffers[index][top:bottom] = self.screen[top:bottom]
        self.rows_grabbed += max(bottom - top, 0)
        self.pixels_grabbed += max(bottom - top, 0) * W

    def grab_rect(self, index: int, monitor: dict[str, int], region: Region) -> None:
        window = (slice(region.y, region.y + region.height), slice(region.x, region.x + region.width))
        self.buffers[index][window] = self.screen[window]
        self.pixels_grabbed += region.width * region.height

    def view(self, index: int, length: int) -> memoryview:
        return self.buffers[index].reshape(-1).view(np.uint8).data[:length]


def _capture(server: FakeServer) -> Any:
    capture: Any = x11.MssCapture.__new__(x11.MssCapture)
    capture._monitor = {"left": 0, "top": 0, "width": W, "height": H}
    capture._desktop = capture._monitor
    capture._frames = server
    capture._damage = server
    capture._restart()
    return capture


class Console:
    """What the stream sends: the changed tiles of each grab, as FrameSource does."""

    def __init__(self, capture: Any) -> None:
        self.capture = capture
        self.tiles = TileMap(Size(W, H), tile=32)
        self.shown = np.zeros((H, W), np.uint32)

    def frame(self) -> npt.NDArray[np.bool_]:
        pixels = self.tiles.view(self.capture.grab())
        changed = self.tiles.diff(pixels, self.capture.grab_kept, self.capture.changed_area())
        for rect in self.tiles.rects(changed):
            band = (slice(rect.y, rect.y + rect.height), slice(rect.x, rect.x + rect.width))
            self.shown[band] = pixels[band]
        return changed


@pytest.fixture(autouse=True)
def _no_whole_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the damage decides what is grabbed (the periodic whole grab would hide a miss)."""
    monkeypatch.setattr(x11, "FULL_SECONDS", 1e9)


def _random_drawing(rng: random.Random) -> tuple[int, int, int, int, int]:
    w, h = rng.randint(1, 80), rng.randint(1, 60)
    return rng.randint(0, W - w), rng.randint(0, H - h), w, h, rng.randint(1, 2**32 - 1)


@pytest.mark.parametrize("seed", range(20))
def test_nothing_drawn_is_missed_even_between_the_damage_and_the_grab(seed: int) -> None:
    rng = random.Random(seed)
    server = FakeServer()
    console = Console(_capture(server))
    for _ in range(60):
        for _ in range(rng.randint(0, 3)):
            server.draw(*_random_drawing(rng))
        if rng.random() < 0.4:  # drawn after the damage was taken, before the grab
            server.between.append(_random_drawing(rng))
        console.frame()
        # whatever the console misses was drawn after the damage was taken: it is damage now
        missed = np.argwhere(console.shown != server.screen)
        assert server.damaged()[missed[:, 0], missed[:, 1]].all()
    console.frame()  # nothing drawn since: the next frame shows the screen exactly
    assert (console.shown == server.screen).all()
    assert server.damage == []


def test_an_unchanged_screen_grabs_no_rows_and_compares_nothing() -> None:
    server = FakeServer()
    console = Console(_capture(server))
    console.frame()
    console.frame()  # each buffer once whole
    server.rows_grabbed = 0
    assert not console.frame().any()
    assert server.rows_grabbed == 0
    assert console.capture.changed_area() == []


def test_a_small_drawing_grabs_itself_and_what_was_damaged_for_the_grab_before() -> None:
    server = FakeServer()
    console = Console(_capture(server))
    console.frame()
    console.frame()
    server.draw(10, 100, 5, 8, 7)
    server.pixels_grabbed = server.rows_grabbed = 0
    changed = console.frame()
    assert server.pixels_grabbed == 5 * 8 and server.rows_grabbed == 0  # not its rows: itself
    assert {(int(r), int(c)) for r, c in np.argwhere(changed)} == {(3, 0)}
    server.draw(200, 180, 4, 4, 9)
    server.pixels_grabbed = 0
    console.frame()
    assert server.pixels_grabbed == 4 * 4 + 5 * 8  # it, and what was damaged for the grab before
    assert console.capture.changed_area() == [Region(10, 100, 5, 8), Region(200, 180, 4, 4)]
    server.draw(150, 180, 4, 4, 3)  # less than a tile from the one before: one box
    console.frame()
    assert console.capture.changed_area() == [Region(150, 180, 54, 4)]
    assert (console.shown == server.screen).all()


def test_a_letter_and_a_pattern_far_below_are_grabbed_and_compared_on_their_own() -> None:
    """Two small drawings far apart (a typed letter, the bench's pattern at the bottom): two
    small grabs and two small compares, not every row between them (the rows of the top-most to
    the bottom-most damage, as the capture took before)."""
    server = FakeServer()
    capture = _capture(server)
    console = Console(capture)
    console.frame()
    console.frame()
    compared: list[int] = []
    real = console.tiles._compare_window

    def counted(pixels: Any, r0: int, r1: int, c0: int, c1: int) -> Any:
        compared.append((r1 - r0) * (c1 - c0))
        return real(pixels, r0, r1, c0, c1)

    console.tiles._compare_window = counted  # type: ignore[method-assign]
    for step in range(4):
        server.draw(40 + 8 * step, 20, 6, 10, 100 + step)  # the letter
        server.draw(100, H - 12, 60, 10, 200 + step)  # the pattern
        server.pixels_grabbed = 0
        changed = console.frame()
        assert server.pixels_grabbed <= 2 * (6 * 10 + 8 * 10 + 60 * 10)
        assert changed[0].any() and changed[-1].any() and not changed[1:-1].any()
    assert sum(compared) <= 4 * 2 * 2  # tiles: a couple per part
    assert (console.shown == server.screen).all()


def test_a_wide_drawing_is_grabbed_as_whole_rows() -> None:
    server = FakeServer()
    console = Console(_capture(server))
    console.frame()
    console.frame()
    server.draw(0, 50, W * 3 // 4, 10, 5)
    server.rows_grabbed = 0
    console.frame()
    assert server.rows_grabbed == 10
    assert console.capture.changed_area() == [Region(0, 50, W, 10)]
    assert grab_parts.grab_parts([Region(0, 50, W, 10), Region(30, 55, 4, 4)], W) == [Region(0, 50, W, 10)]


def test_bands_merge_when_they_overlap_or_are_close() -> None:
    bands = [(100, 108), (20, 24), (30, 40), (200, 200)]
    assert grab_parts.merge_bands(bands, gap=8) == [(20, 40), (100, 108)]


def test_a_redraw_of_identical_pixels_sends_nothing() -> None:
    """DAMAGE reports a redraw of the same pixels; the compare still finds nothing."""
    server = FakeServer()
    console = Console(_capture(server))
    server.draw(0, 0, W, H, 5)
    console.frame()
    console.frame()
    server.draw(0, 0, W, H, 5)  # the whole screen, identical: the sampled rows do not differ
    assert not console.frame().any()


def test_a_region_of_the_desktop_takes_the_damage_inside_it() -> None:
    monitor = {"left": 100, "top": 0, "width": 50, "height": 30}
    assert grab_parts.clip_to_monitor(Rect(90, 10, 40, 40), monitor) == Region(0, 10, 30, 20)
    assert grab_parts.clip_to_monitor(Rect(0, 0, 10, 10), monitor) is None


def test_tiles_outside_the_area_are_not_compared() -> None:
    tiles = TileMap(Size(256, 128), tile=64)
    image = np.zeros((128, 256), np.uint32)
    tiles.diff(image)
    changed = image.copy()
    changed[5, 5] = 1  # tile (0, 0): outside the area, as a capture vouches
    changed[70, 200] = 1  # tile (1, 3)
    found = tiles.diff(changed, area=Region(128, 64, 128, 64))
    assert {(int(r), int(c)) for r, c in np.argwhere(found)} == {(1, 3)}
    assert not tiles.diff(changed, area=Region(0, 0, 0, 0)).any()


def test_a_mostly_changed_area_is_taken_whole_without_comparing() -> None:
    tiles = TileMap(Size(256, 256), tile=64)
    image = np.zeros((256, 256), np.uint32)
    tiles.diff(image)
    scrolled = image.copy()
    scrolled[:, 64:192] = np.arange(256, dtype=np.uint32)[:, None]  # every row of columns 1-2
    found = tiles.diff(scrolled, area=Region(64, 0, 128, 256))
    assert found[:, 1:3].all() and not found[:, 0].any() and not found[:, 3].any()
