"""One picture of a desktop rectangle made of the pictures of several monitors (pure numpy).

On Wayland every monitor is its own PipeWire stream with its own pictures; the console still
shows "all monitors" as one image, as on X11, where they are parts of one root window. The
:class:`Canvas` is that image: each stream's newest picture is copied to where its monitor sits,
into one buffer kept for the whole session (a new 8 MB buffer per frame costs more than the copy,
field notes pitfall 6). Parts no monitor covers (monitors of different heights) stay black.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from veo.agent.capture.base import Region


@dataclass(frozen=True)
class Picture:
    """One picture of one stream: packed 32-bit rows (BGRx), ``width * 4`` bytes each."""

    width: int
    height: int
    data: bytes

    def pixels(self) -> npt.NDArray[np.uint32]:
        """The picture as a (height, width) array of 32-bit pixels (no copy, read-only)."""
        return np.frombuffer(self.data, np.uint32).reshape(self.height, self.width)


def packed(data: bytes, width: int, height: int) -> bytes:
    """``data`` as rows of exactly ``width * 4`` bytes: a producer may pad each row (its stride)."""
    row = width * 4
    if len(data) == row * height:
        return data
    if height <= 0 or len(data) < row * height:
        raise ValueError(f"a {width}x{height} picture cannot come in {len(data)} bytes")
    stride = len(data) // height
    rows = np.frombuffer(data, np.uint8, count=stride * height).reshape(height, stride)
    return rows[:, :row].tobytes()


class Canvas:
    """The picture of ``view`` (a desktop rectangle) drawn from the monitors' pictures."""

    def __init__(self, view: Region) -> None:
        if view.width <= 0 or view.height <= 0:
            raise ValueError(f"an empty view cannot be drawn: {view}")
        self.view = view
        self._pixels = np.zeros((view.height, view.width), np.uint32)

    def clear(self) -> None:
        """Black everywhere (a monitor shrank: what it covered before must not linger)."""
        self._pixels.fill(0)

    def draw(self, x: int, y: int, picture: Picture) -> None:
        """Copy ``picture`` of the monitor whose top-left corner sits at desktop (x, y)."""
        inside = Region(x, y, picture.width, picture.height).clip(self.view)
        if inside is None:
            return
        src_x, src_y = inside.x - x, inside.y - y
        dst_x, dst_y = inside.x - self.view.x, inside.y - self.view.y
        self._pixels[dst_y : dst_y + inside.height, dst_x : dst_x + inside.width] = picture.pixels()[
            src_y : src_y + inside.height, src_x : src_x + inside.width
        ]

    def data(self) -> memoryview:
        """The canvas as packed BGRx rows; the same buffer every time (copy what you keep)."""
        return self._pixels.reshape(-1).view(np.uint8).data
