"""Cursor messages carry the right position (relative to the shown region) and shape."""

from __future__ import annotations

import base64

from veo.agent.capture.base import Region
from veo.agent.cursor import CursorWatcher, Image, shape_message
from veo.protocol.cursor import Cursor, CursorShape


class FakePointer:
    def __init__(self) -> None:
        self.x, self.y = 100, 50
        self.image: Image | None = Image(7, 2, 1, 1, 0, [0x80800000, 0x00000000])

    def position(self) -> tuple[int, int]:
        return self.x, self.y

    def changed_image(self) -> Image | None:
        image, self.image = self.image, None
        return image


def test_first_poll_sends_shape_then_position_and_then_only_changes() -> None:
    pointer = FakePointer()
    watcher = CursorWatcher(pointer, lambda: None)
    first = watcher.poll()
    assert isinstance(first[0], CursorShape) and first[0].id == 7
    assert first[1] == Cursor(x=100, y=50, shape=7, visible=True)
    assert watcher.poll() == []  # nothing moved
    pointer.x = 101
    assert watcher.poll() == [Cursor(x=101, y=50, shape=7, visible=True)]


def test_positions_are_relative_to_the_region_and_invisible_outside() -> None:
    pointer = FakePointer()
    region: list[Region | None] = [Region(1920, 0, 1920, 1080)]
    watcher = CursorWatcher(pointer, lambda: region[0])
    pointer.x, pointer.y = 2000, 30
    assert watcher.poll()[-1] == Cursor(x=80, y=30, shape=7, visible=True)
    pointer.x = 1900  # on the other monitor
    assert watcher.poll() == [Cursor(x=-20, y=30, shape=7, visible=False)]
    region[0] = None  # the whole desktop again
    assert watcher.poll() == [Cursor(x=1900, y=30, shape=7, visible=True)]


def test_reset_sends_shape_and_position_again() -> None:
    pointer = FakePointer()
    watcher = CursorWatcher(pointer, lambda: None)
    watcher.poll()
    watcher.reset()
    again = watcher.poll()
    assert [m.type for m in again] == ["cursor_shape", "cursor"]


def test_shape_is_straight_rgba() -> None:
    # premultiplied half-transparent red (a=0x80, r=0x80) is straight red at alpha 0x80
    shape = shape_message(Image(3, 2, 1, 5, 5, [0x80800000, 0xFF00FF00]))
    assert (shape.width, shape.height, shape.hot_x, shape.hot_y) == (2, 1, 1, 0)  # hot spot inside
    assert base64.b64decode(shape.rgba) == bytes([255, 0, 0, 0x80, 0, 255, 0, 255])


def test_oversized_shape_is_cut_to_the_protocol_limit() -> None:
    shape = shape_message(Image(1, 200, 2, 0, 0, [0xFFFFFFFF] * 400))
    assert (shape.width, shape.height) == (128, 2)
    assert len(base64.b64decode(shape.rgba)) == 128 * 2 * 4
