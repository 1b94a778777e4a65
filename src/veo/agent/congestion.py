"""Congestion control for the screen stream: everything the receiver tells, judged together.

The encoder's quality is fixed (constant quality, ``low_latency``); the link is respected by
sending *fewer frames*: :class:`SendBudget` holds the next capture back while the bits already
sent exceed the controller's rate (a leaky bucket with :data:`BURST_SECONDS` of burst), and the
changes in between merge into the next frame. The rate comes from a controller in the spirit of
Google Congestion Control (draft-ietf-rmcat-gcc-02, libwebrtc's loss-based and delay-based
controllers with their AIMD rate control), fed by:

- **RTCP receiver reports** for our video SSRC (hooked by ``low_latency.install``, see
  :mod:`veo.agent.rtcp_reports`): the fraction lost since the last report, the interarrival
  jitter, the extended highest sequence number and the cumulative loss (together: how many
  packets arrived, hence the rate actually *delivered*), a round-trip sample from LSR/DLSR, and
  with our own count of packets sent, how many are **still on their way**: the oldest of them,
  aged by our own frames' send times, less the minimum round trip, has waited at least that long
  in a queue; seen with every report (Chrome sends one with each NACK), where a round trip
  comes once per sender report
  (0.5-1.5 s), itself held back by the queue: the first burst on the *poor* link sent 5 Mbit/s
  into 2 for a second before the first round trip said so;
- **REMB**, Chrome's receiver-side delay-based estimate (aiortc hands it to the encoder, which
  reports it with each frame to :meth:`SendBudget.spent`);
- our own send rate (the frames' sizes, :meth:`SendBudget.sent_rate`).

The rules, each evaluated on a report:

- **loss over** :data:`LOSS_BACKOFF` (10 %): the rate drops multiplicatively by the loss,
  ``rate * (1 - loss / 2)`` (GCC's loss-based rule); the fraction only counts when the interval
  held at least :data:`LOSS_MIN_PACKETS` packets (one lost keystroke frame is 12 %);
- **a queue building**: the packets on their way over :data:`QUEUE_HIGH` of queue and growing,
  or the round-trip time :data:`QUEUE_DELAY` over its minimum of the last
  :data:`MIN_WINDOW_SECONDS` in two sender reports in a row (:data:`QUEUE_HIGH` in one: one
  sample can sit behind one large frame) and not falling, or, without round trips, the jitter
  :data:`JITTER_GROWTH` over its minimum and rising: the rate drops to :data:`DELAY_BACKOFF`
  (0.85) of what the receiver actually got (GCC's delay-based decrease, ``0.85 * incoming``),
  less what drains the queue seen within :data:`DRAIN_SECONDS` (never below half), before the
  queue fills and loss starts (at 0.85x alone, half a second of queue on a 2 Mbit/s link took
  over 3 s to drain). At most
  one decrease per :data:`DECREASE_HOLD` seconds, and none while the round trip falls: a queue
  needs time to drain, and the report after a decrease still shows it. A queue seen while the
  stream sends less than the link delivers and nothing waits (a keyframe's burst, then
  keystrokes) drains by itself and is not acted on;
- **hold** while the loss is 2-10 %, the queue is neither empty nor building, or it is draining;
- **increase** otherwise, only while the stream is actually held back (an idle stream proves
  nothing about the link): multiplicatively (x :data:`FAST_GROWTH` a second) far below the rate
  of the last congestion, additively (:data:`ADDITIVE_GROWTH` of it a second) near it, so the
  stream comes back within a few reports after a burst and then probes gently where the link
  filled last. Above :data:`CEILING_BITRATE` the stream is no longer paced.

REMB is one more delay signal, with the lessons of the budget before this one:

- a low REMB after a quiet spell is **not** congestion: the receiver's estimate only grows to
  ~1.5x what it receives (50 kbit/s after a minute of typing on a gigabit LAN). Only a REMB that
  *falls* below what is being sent counts (an estimator that saw its queue grow lowers its figure;
  one that is catching up raises it), or, without round-trip samples, one that stays below it for
  :data:`STUCK_SECONDS` without rising;
- once we backed off, a falling REMB is ignored as long as the round-trip samples since show the
  queue draining or empty: after a burst the receiver's estimator keeps lowering its figure while
  the queue it saw drains (each time to 0.85x a receive rate that is by then only what we send),
  and it climbs back at ~8 % a second: on the *poor* link it collapsed to ~40 kbit/s and
  scrolling crawled at one frame a second. Before any back-off a fall counts: it is the earliest
  sign of the first burst's queue (receiver reports come about once a second);
- each REMB decrease at most halves the rate, and nothing goes below :data:`FLOOR_BITRATE`: a
  collapsed estimate could hardly recover (a receiver that gets little raises it to ~1.5x that).
  Pacing to half of what was being sent (TCP's halving) on a REMB fall alone was tried and
  stalled scrolling: the send rate at that moment is mostly queue.

Without receiver reports (no round-trip sample for :data:`RTT_FRESH_SECONDS`), the rate follows
REMB as the budget before did. Every clock is injectable; nothing here reads the time itself.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

#: how far ahead of the rate a burst may go (a frame after a pause is sent at once)
BURST_SECONDS = 0.1
#: the window the stream's own send rate is measured over
RATE_WINDOW_SECONDS = 1.0
#: a REMB below this share of what is being sent is a sign the link may be full
CONGESTED_SHARE = 0.9
#: a REMB that stays below what is being sent this long without rising means it is full
STUCK_SECONDS = 1.5
#: without round-trip samples: a REMB this far above what is being sent means the link has room
RELIEVED_SHARE = 1.3
#: never pace below this (see module)
FLOOR_BITRATE = 300_000
#: pacing ends when the rate grows past this (the encoder's peak, ``low_latency.MAX_BITRATE``)
CEILING_BITRATE = 12_000_000
#: loss above this fraction: back off by the loss
LOSS_BACKOFF = 0.10
#: loss above this fraction (and up to LOSS_BACKOFF): hold the rate
LOSS_HOLD = 0.02
#: a report's loss fraction only counts over at least this many packets
LOSS_MIN_PACKETS = 20
#: the round-trip time this far over its recent minimum in two sender reports in a row means a
#: queue is building (s)...
QUEUE_DELAY = 0.1
#: ... and this far in one: one sample may land behind one large frame (the encoder's peak cap,
#: 50 KB, takes 200 ms on a 2 Mbit/s link; seen: 220 ms behind a scroll frame at 700 kbit/s)
QUEUE_HIGH = 0.3
#: below this over the minimum the queue is (nearly) empty (s)
QUEUE_EMPTY = 0.05
#: the rate that arrived while a queue stood (the link's own rate) is remembered this long (s)
CAPACITY_SECONDS = 10.0
#: the interarrival jitter this far over its recent minimum, and rising, means a queue builds (s)
JITTER_GROWTH = 0.02
#: the window of the round-trip and jitter minima (s)
MIN_WINDOW_SECONDS = 30.0
#: on a building queue, the rate drops to this share of what the receiver got
DELAY_BACKOFF = 0.85
#: ... less what drains the queue seen within this many seconds, but never below MIN_DELAY_SHARE:
#: at 0.85 alone half a second of queue on a 2 Mbit/s link took over 3 s to drain
DRAIN_SECONDS = 1.0
MIN_DELAY_SHARE = 0.5
#: at most one decrease this often (s): the report after one still shows the old queue
DECREASE_HOLD = 0.8
#: ... and no second delay-based one before the packets sent before it arrived, or this long (s)
DRAIN_LIMIT_SECONDS = 3.0
#: a REMB decrease lowers the rate to at most this share of it
REMB_MAX_CUT = 0.5
#: far from the last congestion: the rate grows by this factor a second
FAST_GROWTH = 1.5
#: between these shares of the rate of the last congestion the growth is additive...
NEAR_SHARE = 0.8
FAR_ABOVE_SHARE = 1.2
#: ... by this share of that rate a second (at least MIN_ADDITIVE_BITRATE)
ADDITIVE_GROWTH = 0.05
MIN_ADDITIVE_BITRATE = 50_000
#: a growth step counts at most this much time (reports can be seconds apart)
MAX_STEP_SECONDS = 1.0
#: the rate grows only if captures were held back this recently (s)
HELD_BACK_SECONDS = 1.0
#: a round-trip sample this old no longer says anything about the queue (s)
RTT_FRESH_SECONDS = 3.0
#: what a packet carries besides the payload the sender counts (RTP, SRTP, UDP, IP headers)
PACKET_OVERHEAD_BYTES = 50
#: the shortest interval a delivered rate is measured over (reports can come close together)
DELIVERED_MIN_SECONDS = 0.3
#: a round-trip or jitter figure above this is garbage (s)
MAX_SANE_SECONDS = 10.0
#: the payload of a full RTP packet of ours (aiortc's H.264 packetizer: 1300 bytes at most)
PAYLOAD_BYTES = 1_290
#: how long the frames' send times are kept, to age the packets still on their way (s)
HISTORY_SECONDS = 4.0


@dataclass(frozen=True)
class ReceiverReport:
    """One RTCP report block about our video SSRC, already in plain units (see ``low_latency``).

    ``fraction_lost``: 0-1 since the previous report; ``packets_lost``: cumulative;
    ``highest_sequence``: the extended highest sequence number received; ``jitter``: seconds;
    ``rtt``: this report's round-trip sample in seconds (``None``: no matching sender report);
    ``packet_bytes``: the average payload of the packets we sent (``None``: unknown yet);
    ``packets_sent``: our own count of packets sent when the report arrived: with
    ``highest_sequence`` it says how many are still on their way (see :class:`RateController`).
    """

    fraction_lost: float
    packets_lost: int
    highest_sequence: int
    jitter: float
    rtt: float | None = None
    packet_bytes: float | None = None
    #: how many RTP packets we had sent when the report arrived (``None``: unknown)
    packets_sent: int | None = None


def _sane(value: float | None, high: float) -> float | None:
    if value is None or not math.isfinite(value) or not 0.0 <= value <= high:
        return None
    return float(value)


class _WindowMin:
    """The minimum of the samples of the last ``window`` seconds."""

    def __init__(self, window: float) -> None:
        self._window = window
        self._samples: deque[tuple[float, float]] = deque()

    def add(self, now: float, value: float) -> float:
        while self._samples and self._samples[-1][1] >= value:
            self._samples.pop()  # a later, smaller sample makes these irrelevant
        self._samples.append((now, value))
        while self._samples[0][0] < now - self._window:
            self._samples.popleft()
        return self._samples[0][1]

    @property
    def value(self) -> float | None:
        return self._samples[0][1] if self._samples else None


class RateController:
    """The rate the stream is paced to (``None``: not paced); see the module for the rules.

    Not thread-safe: :class:`SendBudget` calls it with its lock held.
    """

    def __init__(self) -> None:
        self.rate: float | None = None
        #: what the receiver got when the link last filled (bit/s): near it the growth is additive
        self.congested_rate: float | None = None
        #: the rate actually delivered, from the reports' sequence numbers (bit/s)
        self.delivered: float | None = None
        self.remb: float | None = None
        self._last_decrease = -math.inf
        self._grown_at: float | None = None
        self._remb_below_since: float | None = None
        self._rtt_min = _WindowMin(MIN_WINDOW_SECONDS)
        self._jitter_min = _WindowMin(MIN_WINDOW_SECONDS)
        self._last_rtt: float | None = None
        self._draining = False
        #: consecutive round-trip samples over QUEUE_DELAY
        self._over = 0
        #: the highest rate delivered while a queue stood, and when (the link's rate, at least)
        self._capacity: tuple[float, float] | None = None
        self._rtt_at = -math.inf
        self._last_jitter: float | None = None
        self._queue: float | None = None
        self._last_block: tuple[float, int, int] | None = None
        self._first_offset: int | None = None
        self._offsets = _WindowMin(MIN_WINDOW_SECONDS)
        self._last_standing = 0.0
        #: our packet count at the last delay-based decrease (see :meth:`_drained`)
        self._drain_mark: int | None = None
        self._measure_from: tuple[float, int, int] | None = None

    # ------------------------------------------------------------ the evidence

    def _fresh_rtt(self, now: float) -> bool:
        return now - self._rtt_at <= RTT_FRESH_SECONDS

    def _measure(self, now: float, report: ReceiverReport) -> int | None:
        """Update :attr:`delivered`; return how many packets the report's interval expected."""
        block = (now, report.highest_sequence & 0xFFFFFFFF, report.packets_lost)
        previous, self._last_block = self._last_block, block
        if previous is None:
            self._measure_from = block
            return None
        expected = (block[1] - previous[1]) & 0xFFFFFFFF
        if expected > 1 << 20:  # went backwards or garbage: start again
            self._measure_from = block
            return None
        start = self._measure_from or previous
        elapsed = now - start[0]
        if elapsed >= DELIVERED_MIN_SECONDS:
            sent = (block[1] - start[1]) & 0xFFFFFFFF
            lost = max(0, block[2] - start[2])
            received = max(0, sent - lost) if sent <= 1 << 20 else 0
            size = (report.packet_bytes or 1_000.0) + PACKET_OVERHEAD_BYTES
            self.delivered = received * size * 8 / elapsed
            self._measure_from = block
        return expected

    def _in_flight(self, now: float, report: ReceiverReport) -> int | None:
        """How many of our packets the receiver had not got yet (beyond the fewest seen lately).

        ``packets_sent - highest_sequence`` is a constant (the random first sequence number)
        plus the packets on their way; the constant is taken out as the smallest difference
        of the last :data:`MIN_WINDOW_SECONDS`.
        """
        if report.packets_sent is None or report.packets_sent < 0:
            return None
        offset = (report.packets_sent - report.highest_sequence) & 0xFFFFFFFF
        if self._first_offset is None:
            self._first_offset = offset
        relative = (offset - self._first_offset) & 0xFFFFFFFF
        if relative >= 1 << 31:
            relative -= 1 << 32
        if abs(relative) > 1 << 20:  # garbage, or a new stream: start again
            self._first_offset, self._offsets = offset, _WindowMin(MIN_WINDOW_SECONDS)
            relative = 0
        return int(relative - self._offsets.add(now, relative))

    def _drained(self, now: float, report: ReceiverReport, in_flight: int | None) -> bool:
        """Has every packet sent before the last delay-based decrease arrived? Until then the
        queue and the round trips show what was sent before it (at a 5 Mbit/s burst's rate,
        packets that waited ever longer), not what the new rate does: a second cut on them took
        the *poor* link's rate to the floor. Without the counts, after :data:`DRAIN_LIMIT_SECONDS`."""
        mark = self._drain_mark
        if mark is None or now - self._last_decrease >= DRAIN_LIMIT_SECONDS:
            return True
        if report.packets_sent is None or in_flight is None:
            return False
        return report.packets_sent - in_flight >= mark

    # ------------------------------------------------------------ the rules

    def _decrease(self, now: float, rate: float, why: str, floor: float) -> None:
        rate = min(max(rate, floor), CEILING_BITRATE)
        if self.rate is not None and rate >= self.rate:
            return
        log.info(
            "congestion (%s): pacing frames to %d bit/s (was %s, delivered %s)",
            why,
            rate,
            "unpaced" if self.rate is None else f"{self.rate:.0f}",
            "?" if self.delivered is None else f"{self.delivered:.0f}",
        )
        self.rate = rate
        self._last_decrease = now
        self._grown_at = now

    def _increase(self, now: float, held_back: bool) -> None:
        if self.rate is None:
            return
        last, self._grown_at = self._grown_at, now
        if not held_back or last is None:
            return  # nothing waits for more: the link's room is unknown
        step = min(max(0.0, now - last), MAX_STEP_SECONDS)
        congested = self.congested_rate
        if congested is not None and NEAR_SHARE * congested <= self.rate <= FAR_ABOVE_SHARE * congested:
            self.rate += max(ADDITIVE_GROWTH * congested, MIN_ADDITIVE_BITRATE) * step
        else:
            grown = self.rate * FAST_GROWTH**step
            if congested is not None and self.rate < NEAR_SHARE * congested:
                grown = min(grown, NEAR_SHARE * congested)  # then additively from there
            self.rate = grown
        if self.rate > CEILING_BITRATE:
            log.info("link has room: frames no longer paced")
            self.rate = None

    def report(
        self,
        now: float,
        report: ReceiverReport,
        sending: float,
        held_back: bool,
        floor: float,
        age_of: Callable[[int], float | None] = lambda packets: None,
    ) -> None:
        """Judge one receiver report (see the module); ``age_of(n)``: how long ago the n-th
        newest packet of ours was sent (``None``: further back than the frames kept)."""
        expected = self._measure(now, report)
        log.debug(
            "receiver report: lost %.3f rtt %s jitter %.4f delivered %s sending %.0f rate %s remb %s",
            report.fraction_lost,
            report.rtt,
            report.jitter,
            self.delivered,
            sending,
            self.rate,
            self.remb,
        )
        base = self.delivered if self.delivered is not None else sending
        loss = _sane(report.fraction_lost, 1.0)
        counted = expected is not None and expected >= LOSS_MIN_PACKETS
        rtt = _sane(report.rtt, MAX_SANE_SECONDS)
        if rtt is not None:
            self._queue = sample = rtt - self._rtt_min.add(now, rtt)
            self._draining = self._last_rtt is not None and rtt < self._last_rtt - QUEUE_EMPTY / 2
            self._last_rtt, self._rtt_at = rtt, now
            self._over = self._over + 1 if sample > QUEUE_DELAY else 0
            if sample > QUEUE_EMPTY and self.delivered is not None:  # the link was busy: its rate
                known = (
                    self._capacity[0] if self._capacity and now - self._capacity[1] < CAPACITY_SECONDS else 0
                )
                self._capacity = (max(self.delivered, known), now)
        if self._capacity is not None and now - self._capacity[1] < CAPACITY_SECONDS:
            base = max(base, self._capacity[0])
        jitter = _sane(report.jitter, MAX_SANE_SECONDS)
        rising_jitter = False
        jitter_growth = 0.0
        if jitter is not None:
            jitter_growth = jitter - self._jitter_min.add(now, jitter)
            rising_jitter = self._last_jitter is not None and jitter > self._last_jitter
            self._last_jitter = jitter
        # the oldest packet still on its way, aged by our own send times, less the round trip
        # without a queue: how long it has waited so far, a lower bound of the standing queue
        # that needs no rate (a paced or idle stream's delivered rate is not the link's), seen
        # with every report and not only once per sender report (which a queue delays too)
        in_flight = self._in_flight(now, report)
        rtt_min = self._rtt_min.value
        standing: float | None = None
        if in_flight is not None and rtt_min is not None:
            age = age_of(in_flight) if in_flight > 0 else 0.0
            standing = max(0.0, age - rtt_min) if age is not None else None
        growing = standing is not None and standing > QUEUE_HIGH and standing >= self._last_standing
        if standing is not None:
            self._last_standing = standing
        queue = self._queue if self._fresh_rtt(now) else None
        if growing:
            building, queue = True, standing
        elif queue is not None:  # the round trip is the better witness; jitter only without it
            # judged on a new sample only (a receiver reports more often than we send reports)
            over = queue > QUEUE_HIGH or (queue > QUEUE_DELAY and self._over >= 2)
            building = rtt is not None and over and not self._draining
        else:
            building = jitter_growth > JITTER_GROWTH and rising_jitter
        may_decrease = now - self._last_decrease >= DECREASE_HOLD
        if loss is not None and counted and loss > LOSS_BACKOFF:
            if may_decrease:
                self.congested_rate = base
                current = min(self.rate, base) if self.rate is not None else base
                self._decrease(now, current * (1 - loss / 2), f"loss {loss:.0%}", floor)
        elif building:
            # a queue while we send less than the link delivers (a keyframe's burst, then
            # keystrokes) drains by itself: pacing the next scroll for it would only slow it
            pushing = held_back or sending >= DELAY_BACKOFF * base
            if may_decrease and pushing and self._drained(now, report, in_flight):
                self.congested_rate = base
                current = min(self.rate, base) if self.rate is not None else base
                share = DELAY_BACKOFF - (queue or 0.0) / DRAIN_SECONDS
                witness = "packets in flight" if growing else "round trip"
                why = f"queue {queue * 1000:.0f} ms, {witness}" if queue is not None else "jitter rising"
                self._decrease(now, max(share, MIN_DELAY_SHARE) * current, why, floor)
                if self._last_decrease == now and report.packets_sent is not None:
                    self._drain_mark = report.packets_sent
        elif (
            (loss is not None and counted and loss > LOSS_HOLD)
            or queue is None
            or queue > QUEUE_DELAY
            or self._draining
        ):
            self._grown_at = now  # hold: no growth for this interval either
        else:
            self._increase(now, held_back)

    def on_remb(self, now: float, remb: float, sending: float, floor: float) -> None:
        """The receiver's estimate came with a frame: a fall below the send rate is overuse."""
        previous, self.remb = self.remb, remb
        fresh = self._fresh_rtt(now)
        if remb >= CONGESTED_SHARE * sending:
            self._remb_below_since = None
            if not fresh and self.rate is not None and remb > RELIEVED_SHARE * sending:
                log.info("link has room: frames no longer paced (REMB %d, sending %d)", remb, sending)
                self.rate = None
            elif not fresh and self.rate is not None:
                self.rate = min(max(remb, floor), CEILING_BITRATE)
            return
        if previous is None or remb > previous or self._remb_below_since is None:
            self._remb_below_since = now  # catching up: give it time
        falling = previous is not None and remb < previous
        if fresh:
            # the round trip says more than the estimate: once we backed off, a fall is the
            # estimator still reacting to the queue we saw, as long as the round trips since
            # show it draining or empty; any other fall cuts, at most by half
            seen = self._rtt_at > self._last_decrease and (
                self._draining or (self._queue is not None and self._queue <= QUEUE_EMPTY)
            )
            lagging = self.rate is not None and seen
            if falling and not lagging and now - self._last_decrease >= DECREASE_HOLD:
                current = self.rate if self.rate is not None else sending
                self.congested_rate = self.delivered if self.delivered is not None else sending
                self._decrease(now, max(remb, REMB_MAX_CUT * current), "REMB fell", floor)
            return
        stuck = self.rate is None and now - self._remb_below_since >= STUCK_SECONDS
        if falling or stuck or self.rate is not None:
            if self.rate is None:
                self._decrease(now, remb, "REMB fell" if falling else "REMB stuck", floor)
            else:
                self.rate = min(max(remb, floor), CEILING_BITRATE)


class SendBudget:
    """Holds captures back while the stream sends more than the link carries (see the module).

    The encoder (in aiortc's encoder thread) reports each frame's size and the receiver's
    latest REMB (``None`` before the first) with :meth:`spent`; the RTCP hook (event loop)
    reports each receiver report with :meth:`report`; the track (event loop) asks :meth:`delay`
    before the next capture. The clock is injectable for tests.
    """

    def __init__(
        self,
        burst_seconds: float = BURST_SECONDS,
        clock: Callable[[], float] = time.monotonic,
        floor: float = FLOOR_BITRATE,
    ) -> None:
        self._burst = burst_seconds
        self._clock = clock
        self._floor = floor
        self._lock = threading.Lock()
        self._bits = 0.0
        self._at = clock()
        self._recent: deque[tuple[float, int]] = deque()
        #: each frame's send time and packets, newest last, for :meth:`_age_of`
        self._frames: deque[tuple[float, int]] = deque()
        self._held_at = -math.inf
        self.controller = RateController()
        #: the size of the last encoded frame (0 before the first): tells the frame source whether
        #: a repeat of a still screen still sharpened something (``stream.FrameSource``)
        self.last_bytes = 0

    @property
    def estimate(self) -> float | None:
        """The receiver's last estimate of the link (REMB, bit/s), ``None`` before the first."""
        return self.controller.remb

    @property
    def rate(self) -> float | None:
        """The rate frames are paced to (bit/s), ``None`` while they are not paced."""
        return self.controller.rate

    @property
    def limiting(self) -> bool:
        return self.controller.rate is not None

    def sent_rate(self) -> float:
        """What the stream sent over the last :data:`RATE_WINDOW_SECONDS`, in bit/s."""
        with self._lock:
            return self._sent_rate(self._clock())

    def _sent_rate(self, now: float) -> float:
        while self._recent and self._recent[0][0] <= now - RATE_WINDOW_SECONDS:
            self._recent.popleft()
        return sum(bits for _, bits in self._recent) / RATE_WINDOW_SECONDS

    def _drain(self, now: float) -> None:
        rate = self.controller.rate or 0.0
        self._bits = max(0.0, self._bits - (now - self._at) * rate)
        self._at = now

    def spent(self, nbytes: int, bitrate: float | None) -> None:
        """A frame of ``nbytes`` went out while the receiver's REMB was ``bitrate`` bit/s."""
        if bitrate is not None and not bitrate > 0:
            raise ValueError("bitrate must be positive")
        self.last_bytes = nbytes  # read by the capture thread (FrameSource): one int, no lock
        with self._lock:
            now = self._clock()
            self._drain(now)
            self._recent.append((now, nbytes * 8))
            self._frames.append((now, max(1, math.ceil(nbytes / PAYLOAD_BYTES))))
            while self._frames[0][0] < now - HISTORY_SECONDS:
                self._frames.popleft()
            if bitrate is not None:
                was = self.controller.rate
                self.controller.on_remb(now, float(bitrate), self._sent_rate(now), self._floor)
                if was is None and self.controller.rate is not None:
                    self._bits = 0.0  # the bucket starts empty when pacing starts
            self._bits += nbytes * 8

    def report(self, report: ReceiverReport) -> None:
        """An RTCP receiver report about our stream arrived (see ``low_latency``)."""
        with self._lock:
            now = self._clock()
            self._drain(now)
            was = self.controller.rate
            held_back = now - self._held_at <= HELD_BACK_SECONDS
            self.controller.report(
                now,
                report,
                self._sent_rate(now),
                held_back,
                self._floor,
                lambda n: self._age_of(now, n),
            )
            if was is None and self.controller.rate is not None:
                self._bits = 0.0

    def _age_of(self, now: float, packets: int) -> float | None:
        """How long ago the ``packets``-th newest packet was sent (each frame counted as whole
        packets of :data:`PAYLOAD_BYTES`); ``None`` when that is further back than kept."""
        for at, count in reversed(self._frames):
            packets -= count
            if packets <= 0:
                return now - at
        return None

    def delay(self) -> float:
        """Seconds until the bits already sent fit the rate again (0: capture now)."""
        with self._lock:
            now = self._clock()
            self._drain(now)
            rate = self.controller.rate
            if rate is None or rate <= 0:
                return 0.0
            wait = max(0.0, (self._bits - rate * self._burst) / rate)
            if wait > 0:
                self._held_at = now
            return wait
