"""Frame pacing: capture as soon as the screen changed, at most ``max_fps`` times a second.

aiortc's ``VideoStreamTrack`` ticks at a fixed 30 fps and bursts to catch up after a stall;
both add latency on a screen that changes now and then. The stream instead captures the moment
a change is reported, unless the previous capture slot was less than one frame interval ago: then
it waits for the rest of that interval only. Slots follow a fixed grid while captures are only a
little late (the event loop's wake-up jitter, up to half an interval), so that a 30-fps cap gives
30 fps and not 27: timing each slot from the late capture lost ~3 ms per frame at 1080p. After a
real stall the grid restarts at the capture that actually happened: no catch-up burst.

The rate cap follows the picture size (:func:`auto_max_fps`): 60 fps up to 1280×720, 30 fps
above, where each full-screen frame costs several milliseconds to convert and encode on a
2-core machine.

:class:`SendBudget` is the other half: it keeps the stream within the congestion controller's
bitrate by waiting before the next capture, so that a slow link gets fewer frames of the same
quality (changes in between merge into the next frame) rather than a smeared picture or a queue.
That is what browsers do for screen content too (``degradationPreference`` "maintain-resolution").
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
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
        """A capture starts now: it takes the slot it is late for, or starts a new grid."""
        now = self._clock()
        slot = self._last + self.interval
        self._last = slot if 0.0 <= now - slot < self.interval / 2 else now


#: how far ahead of the target a burst may go (a frame after a pause is sent at once)
BURST_SECONDS = 0.1
#: the window the stream's own send rate is measured over
RATE_WINDOW_SECONDS = 1.0
#: a falling target below this share of what is being sent means the link is full
CONGESTED_SHARE = 0.9
#: a target this far above what is being sent means the link has room again
RELIEVED_SHARE = 1.3


class SendBudget:
    """Holds captures back while the stream sends more than the congested link can carry.

    The encoder (in aiortc's encoder thread) reports each frame's size and the congestion
    controller's current target with :meth:`spent`; the track (on the event loop) asks
    :meth:`delay` before the next capture.

    The target (the browser's REMB) means little while the screen is quiet: the receiver's
    estimate only grows to 1.5x what it receives, so after a minute of typing it says 50 kbit/s
    on a gigabit LAN, and obeying it would starve the next scroll for half a minute while it
    climbs back. So the budget limits only after the link *said* it was full: a target that
    falls below what is being sent. From then on the frames are a leaky bucket drained at the
    target, until the target is well above what the content needs (:data:`RELIEVED_SHARE`).
    The clock is injectable for tests.
    """

    def __init__(
        self, burst_seconds: float = BURST_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._burst = burst_seconds
        self._clock = clock
        self._lock = threading.Lock()
        self._bits = 0.0
        self._rate = 0.0
        self._at = clock()
        self._recent: deque[tuple[float, int]] = deque()
        self._last_target: float | None = None
        self.limiting = False

    def _drain(self, now: float) -> None:
        self._bits = max(0.0, self._bits - (now - self._at) * self._rate)
        self._at = now

    def sent_rate(self) -> float:
        """What the stream sent over the last :data:`RATE_WINDOW_SECONDS`, in bit/s."""
        with self._lock:
            return self._sent_rate(self._clock())

    def _sent_rate(self, now: float) -> float:
        while self._recent and self._recent[0][0] <= now - RATE_WINDOW_SECONDS:
            self._recent.popleft()
        return sum(bits for _, bits in self._recent) / RATE_WINDOW_SECONDS

    def spent(self, nbytes: int, bitrate: float) -> None:
        """A frame of ``nbytes`` went out while the target was ``bitrate`` bit/s."""
        if not bitrate > 0:
            raise ValueError("bitrate must be positive")
        with self._lock:
            now = self._clock()
            self._drain(now)
            self._recent.append((now, nbytes * 8))
            sending = self._sent_rate(now)
            falling = self._last_target is not None and bitrate < self._last_target
            if falling and bitrate < CONGESTED_SHARE * sending:
                if not self.limiting:
                    self._bits = 0.0
                self.limiting = True
            elif bitrate > RELIEVED_SHARE * sending:
                self.limiting = False
            self._last_target = float(bitrate)
            self._rate = float(bitrate)
            self._bits += nbytes * 8

    def delay(self) -> float:
        """Seconds until the bits already sent fit the target again (0: capture now)."""
        with self._lock:
            self._drain(self._clock())
            if not self.limiting or self._rate <= 0:
                return 0.0
            return max(0.0, (self._bits - self._rate * self._burst) / self._rate)
