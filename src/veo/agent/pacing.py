"""Frame pacing: capture as soon as the screen changed, at most ``max_fps`` times a second.

aiortc's ``VideoStreamTrack`` ticks at a fixed 30 fps and bursts to catch up after a stall;
both add latency on a screen that changes now and then. The stream instead captures the moment
a change is reported, unless the previous capture slot was less than one frame interval ago: then
it waits for the rest of that interval only. Slots follow a fixed grid while captures are only a
little late (the event loop's wake-up jitter, up to half an interval), so that a 30-fps cap gives
30 fps and not 27: timing each slot from the late capture lost ~3 ms per frame at 1080p. After a
real stall the grid restarts at the capture that actually happened: no catch-up burst. After a
quiet spell the slot is long past: the first capture happens at once.

The rate cap follows what frames cost (:meth:`Pacer.spent`), not the picture size: each frame's
wall time from grab to its last packet sent (capture, compare, conversion, encoding,
packetization) keeps the next one at least ``cost / BUSY_SHARE`` after it, between
:data:`HIGH_FPS` and :data:`LOW_FPS`. A typed letter or a small drag at 1080p costs a few
milliseconds and goes out at up to 60 a second; a full-screen scroll frame (~12 ms on a 2-core
machine) backs off to ~30, as a fixed 30-fps cap above 1280×720 did for every frame before; a
loaded machine (every stage slower) backs off by itself. ``veo agent --max-fps`` fixes the rate.

The process CPU a frame cost (all threads: x264's and swscale's too) bounds the rate the same
way, by :data:`CPU_SHARE`: above the low rate the stream spends at most that share of one core
of the user's computer. A frame made cheaper (a faster conversion) then costs the user less CPU
at the same 30 fps instead of buying more frames at the same CPU: while the screen scrolls,
past ~30 fps the technician gains little smoothness, while the user's own programs lose a third
of a core. Cheap frames (typing, a small drag) still go out at up to 60 a second.

:class:`~veo.agent.congestion.SendBudget` is the other half (re-exported here): it keeps the
stream within the congestion controller's rate by waiting before the next capture, so that a slow
link gets fewer frames of the same quality (changes in between merge into the next frame) rather
than a smeared picture or a queue. That is what browsers do for screen content too
(``degradationPreference`` "maintain-resolution").
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable

from veo.agent.capture.base import Size
from veo.agent.congestion import BURST_SECONDS as BURST_SECONDS  # re-exported: the budget moved
from veo.agent.congestion import FLOOR_BITRATE as FLOOR_BITRATE
from veo.agent.congestion import SendBudget as SendBudget

log = logging.getLogger(__name__)

#: the rate cap of a cheap frame
HIGH_FPS = 60.0
#: the rate cap a costly frame backs off to, never lower: 30 fps delivered (the cap above 1280x720
#: before issue 18) with a frame a second to spare, since a capture late by more than half an
#: interval restarts the grid and a floor of exactly 30 delivered 29.4-29.7 in the bench
LOW_FPS = 31.0
#: the share of the wall clock one frame's work may take before the next may start: a 12-ms
#: scroll frame at 1080p waits 30 ms (~33 fps, ~40 % of a core), a 5-ms drag frame 16.7 (60 fps)
BUSY_SHARE = 0.4
#: the share of one core the frames' process CPU may take above the low rate (issue 18: <= 30 %
#: while scrolling at 1080p): a 10-ms frame waits 33 ms (30 fps), a 5-ms frame 16.7 (60 fps)
CPU_SHARE = 0.3


def auto_max_fps(size: Size) -> float:
    """The rate cap for a picture of ``size`` when the user did not choose one: the cheap
    frames' (the pacer lowers it for costly ones, whatever the size; see module)."""
    return HIGH_FPS


#: without a change listener the stream polls: each poll costs a grab and a compare, changed or
#: not, so the rate stays by picture size (60 up to 1280x720, 30 above)
POLL_HIGH_FPS_PIXELS = 1280 * 720


def polling_fps(size: Size) -> float:
    """The polling rate for a picture of ``size`` (no change listener)."""
    return HIGH_FPS if size.width * size.height <= POLL_HIGH_FPS_PIXELS else LOW_FPS


class Pacer:
    """Spaces captures at least :attr:`interval` apart; the clock is injectable for tests.

    ``adaptive``: the interval follows what the last frame cost (:meth:`spent`), between
    ``1 / max_fps`` and ``1 / LOW_FPS`` (never slower than ``max_fps`` allows); otherwise it is
    ``1 / max_fps`` (a rate the user fixed).
    """

    def __init__(
        self, max_fps: float, clock: Callable[[], float] = time.monotonic, adaptive: bool = False
    ) -> None:
        self._clock = clock
        self._last = -math.inf
        self._cost = 0.0
        self._cpu = 0.0
        self.adaptive = adaptive
        self.set_max_fps(max_fps)

    def set_max_fps(self, max_fps: float, adaptive: bool | None = None) -> None:
        if not max_fps > 0:
            raise ValueError("max_fps must be positive")
        self._min_interval = 1.0 / max_fps
        if adaptive is not None:
            self.adaptive = adaptive

    @property
    def interval(self) -> float:
        """The least time between two capture slots now."""
        if not self.adaptive:
            return self._min_interval
        longest = max(self._min_interval, 1.0 / LOW_FPS)
        return min(max(self._min_interval, self._cost / BUSY_SHARE, self._cpu / CPU_SHARE), longest)

    def spent(self, seconds: float, cpu: float = 0.0) -> None:
        """The last frame took ``seconds`` of wall time from its grab to its last packet sent, and
        ``cpu`` seconds of the process's CPU time meanwhile."""
        self._cost = max(0.0, seconds)
        self._cpu = max(0.0, cpu)

    def delay(self) -> float:
        """Seconds to wait before the next capture may happen (0 when it may happen now)."""
        return max(0.0, self._last + self.interval - self._clock())

    def captured(self) -> None:
        """A capture starts now: it takes the slot it is late for, or starts a new grid."""
        now = self._clock()
        slot = self._last + self.interval
        self._last = slot if 0.0 <= now - slot < self.interval / 2 else now
