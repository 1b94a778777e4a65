"""Frame pacing: capture as soon as the screen changed, at most ``max_fps`` times a second.

aiortc's ``VideoStreamTrack`` ticks at a fixed 30 fps and bursts to catch up after a stall;
both add latency on a screen that changes now and then. The stream instead captures the moment
a change is reported, unless the previous capture was less than one frame interval ago: then it
waits for the rest of that interval only. A late capture never causes a catch-up burst, because
the next one is timed from the capture that actually happened.

The rate cap follows the picture size (:func:`auto_max_fps`): 60 fps up to 1280×720, 30 fps
above, where each full-screen frame costs several milliseconds to convert and encode on a
2-core machine.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from veo.agent.capture.base import Size

HIGH_FPS_PIXELS = 1280 * 720
HIGH_FPS = 60.0
LOW_FPS = 30.0


def auto_max_fps(size: Size) -> float:
    """The rate cap for a picture of ``size`` when the user did not choose one."""
    return HIGH_FPS if size.width * size.height <= HIGH_FPS_PIXELS else LOW_FPS


class Pacer:
    """Spaces captures at least ``1 / max_fps`` apart; the clock is injectable for tests."""

    def __init__(self, max_fps: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not max_fps > 0:
            raise ValueError("max_fps must be positive")
        self.interval = 1.0 / max_fps
        self._clock = clock
        self._last = -math.inf

    def set_max_fps(self, max_fps: float) -> None:
        if not max_fps > 0:
            raise ValueError("max_fps must be positive")
        self.interval = 1.0 / max_fps

    def delay(self) -> float:
        """Seconds to wait before the next capture may happen (0 when it may happen now)."""
        return max(0.0, self._last + self.interval - self._clock())

    def captured(self) -> None:
        """A capture starts now."""
        self._last = self._clock()
