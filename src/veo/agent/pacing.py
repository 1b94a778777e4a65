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

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable

from veo.agent.capture.base import Size

log = logging.getLogger(__name__)

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
#: a target below this share of what is being sent is a sign the link may be full
CONGESTED_SHARE = 0.9
#: a target that stays below what is being sent this long without rising means it is full
STUCK_SECONDS = 1.5
#: a target this far above what is being sent means the link has room again
RELIEVED_SHARE = 1.3
#: never pace below this: the estimate can collapse far below the link (seen: 40 kbit/s on the
#: 2 Mbit/s link, one frame every few seconds), and a receiver that gets little can only raise
#: it to ~1.5x that, so pacing to a tiny figure would hardly recover. (Half of what was being
#: sent, TCP-style, was tried: the send rate at that moment is mostly queue, and pacing to half
#: of 5 Mbit/s into 2 Mbit/s stalled scrolling outright.)
FLOOR_BITRATE = 300_000


class SendBudget:
    """Holds captures back while the stream sends more than the congested link can carry.

    The encoder (in aiortc's encoder thread) reports each frame's size and the receiver's
    latest estimate (REMB, ``None`` before the first one) with :meth:`spent`; the track (on the
    event loop) asks :meth:`delay` before the next capture.

    The estimate means little while the screen is quiet: the receiver's estimate only grows to
    1.5x what it receives, so after a minute of typing it says 50 kbit/s on a gigabit LAN, and
    obeying it would starve the next scroll while it climbs back (~8 % a second). So a low
    estimate only counts as "the link is full" when it *falls* below what is being sent, or
    stays below it for :data:`STUCK_SECONDS` without rising (an estimator that saw the queue grow
    holds or lowers its figure; one that is only catching up raises it with every report). From
    then on the frames are a leaky bucket drained at the estimate (never below
    :data:`FLOOR_BITRATE`), until it is well above what the content needs
    (:data:`RELIEVED_SHARE`). The clock is injectable for tests.
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
        self._below_since: float | None = None
        self.limiting = False
        #: the size of the last encoded frame (0 before the first): tells the frame source whether
        #: a repeat of a still screen still sharpened something (``stream.FrameSource``)
        self.last_bytes = 0

    def _drain(self, now: float) -> None:
        self._bits = max(0.0, self._bits - (now - self._at) * self._rate)
        self._at = now

    @property
    def estimate(self) -> float | None:
        """The receiver's last estimate of the link (bit/s), ``None`` before the first."""
        return self._last_target

    def sent_rate(self) -> float:
        """What the stream sent over the last :data:`RATE_WINDOW_SECONDS`, in bit/s."""
        with self._lock:
            return self._sent_rate(self._clock())

    def _sent_rate(self, now: float) -> float:
        while self._recent and self._recent[0][0] <= now - RATE_WINDOW_SECONDS:
            self._recent.popleft()
        return sum(bits for _, bits in self._recent) / RATE_WINDOW_SECONDS

    def spent(self, nbytes: int, bitrate: float | None) -> None:
        """A frame of ``nbytes`` went out while the receiver's estimate was ``bitrate`` bit/s."""
        if bitrate is not None and not bitrate > 0:
            raise ValueError("bitrate must be positive")
        self.last_bytes = nbytes  # read by the capture thread (FrameSource): one int, no lock
        with self._lock:
            now = self._clock()
            self._drain(now)
            self._recent.append((now, nbytes * 8))
            if bitrate is not None:
                self._judge(now, float(bitrate))
            self._bits += nbytes * 8

    def _judge(self, now: float, bitrate: float) -> None:
        """Is the link full? (see the class); called with the lock held."""
        sending = self._sent_rate(now)
        previous, self._last_target = self._last_target, bitrate
        if bitrate < CONGESTED_SHARE * sending:
            if previous is None or bitrate > previous:
                self._below_since = now  # catching up: give it time
            elif self._below_since is None:
                self._below_since = now
            falling = previous is not None and bitrate < previous
            stuck = not self.limiting and now - self._below_since >= STUCK_SECONDS
            if falling or stuck:
                self._limit(bitrate, sending)
        else:
            self._below_since = None
            if self.limiting and bitrate > RELIEVED_SHARE * sending:
                log.info("link has room: frames no longer paced (bitrate=%d, sending %d)", bitrate, sending)
                self.limiting = False
        self._rate = max(bitrate, FLOOR_BITRATE)

    def _limit(self, bitrate: float, sending: float) -> None:
        if not self.limiting:
            log.info(
                "link full: pacing frames to bitrate=%d (sending %d)", max(bitrate, FLOOR_BITRATE), sending
            )
            self._bits = 0.0
        self.limiting = True

    def delay(self) -> float:
        """Seconds until the bits already sent fit the target again (0: capture now)."""
        with self._lock:
            self._drain(self._clock())
            if not self.limiting or self._rate <= 0:
                return 0.0
            return max(0.0, (self._bits - self._rate * self._burst) / self._rate)
