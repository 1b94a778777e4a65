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

#: the rate cap of a cheap frame
HIGH_FPS = 60.0
#: the rate cap a costly frame backs off to, never lower (the cap above 1280x720 before issue 18)
LOW_FPS = 30.0
#: the share of the wall clock one frame's work may take before the next may start: a 12-ms
#: scroll frame at 1080p waits 30 ms (~33 fps, ~40 % of a core), a 5-ms drag frame 16.7 (60 fps)
BUSY_SHARE = 0.4


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
        return min(max(self._min_interval, self._cost / BUSY_SHARE), longest)

    def spent(self, seconds: float) -> None:
        """The last frame took ``seconds`` of wall time from its grab to its last packet sent."""
        self._cost = max(0.0, seconds)

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
