"""A screen capture for the stream's tests: the picture is whatever array the test sets."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from veo.agent.capture.base import ScreenCapture, Size


class ArrayScreen(ScreenCapture):
    """Grabs ``pixels`` (BGRA as uint32, one per pixel); each grab a new buffer, which the stream
    may keep as its last grab (as mss's)."""

    def __init__(self, pixels: npt.NDArray[np.uint32]) -> None:
        self.pixels = pixels

    def size(self) -> Size:
        return Size(self.pixels.shape[1], self.pixels.shape[0])

    def grab(self) -> bytes:
        return self.pixels.tobytes()

    def close(self) -> None:
        pass
