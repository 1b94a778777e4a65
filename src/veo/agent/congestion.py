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
  held at least :data:`LOSS_MIN_PACKETS` packets (one lost keystroke frame is 12 %), and not
  when the interval began with packets sent before the last cut (a burst's tail-drop);
- **a queue building**: the packets on their way over :data:`QUEUE_HIGH` of queue and growing,
  or the round-trip time :data:`QUEUE_DELAY` over its minimum of the last
  :data:`MIN_WINDOW_SECONDS` in two sender reports in a row (:data:`QUEUE_HIGH` in one: one
  sample can sit behind one large frame) and not falling (a round trip of a sender report sent
  before the last cut's queue drained does not count: it waited behind the old rate's packets),
  or, without round trips, the jitter
  :data:`JITTER_GROWTH` over its minimum and rising: the rate drops to :data:`DELAY_BACKOFF`
  (0.85) of what the receiver actually got (GCC's delay-based decrease, ``0.85 * incoming``)
  while we were sending a lot (:mod:`veo.agent.delivery`: the busy period's rate, not the
  report interval's, which before a burst's first cut is mostly typing),
  less what drains the queue seen within :data:`DRAIN_SECONDS` (never below half), before the
  queue fills and loss starts (at 0.85x alone, half a second of queue on a 2 Mbit/s link took
  over 3 s to drain). At most
  one decrease per :data:`DECREASE_HOLD` seconds, and none while the round trip falls: a queue
  needs time to drain, and the report after a decrease still shows it. A queue seen while the
  stream sends less than the link delivers and nothing waits (a keyframe's burst, then
  keystrokes) drains by itself and is not acted on;
- **hold** while the loss is 2-10 %, the queue is neither empty nor building, or it is draining
  (a packet on its way that has waited over :data:`QUEUE_DELAY` counts, whatever an older round
  trip said);
- **increase** otherwise, only while the stream is actually held back (an idle stream proves
  nothing about the link): multiplicatively (x :data:`FAST_GROWTH` a second) far below the rate
  of the last congestion, additively (:data:`ADDITIVE_GROWTH` of it a second) near it, so the
  stream comes back within a few reports after a burst and then probes gently where the link
  filled last, but for 10 s after a decrease no higher than 0.85x of that rate
  (``rate_control.HEADROOM_SHARE``: a frame of scrolling takes 60-100 ms on a 2 Mbit/s link, and
  a rate back at the link's kept a queue standing). Above :data:`CEILING_BITRATE` the stream is
  no longer paced.

While the controller does not pace (before any congestion, or after REMB said the link had
room), frames are still paced to the rate the link delivered at the last congestion, loosened
by 1 % a second and forgotten after a minute (:mod:`veo.agent.link_memory`): a burst does not
start unpaced into a link known to be narrower. Before the session's first congestion they are
paced to a start rate a little over the poor link's (:mod:`veo.agent.start_rate`), which doubles
with each report showing the link carried it: the first burst on an unknown link does not fill
its queue before the first report can show it.

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

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from veo.agent.rate_control import CEILING_BITRATE as CEILING_BITRATE  # re-exported (tests, callers)
from veo.agent.rate_control import DELAY_BACKOFF as DELAY_BACKOFF
from veo.agent.rate_control import RateController
from veo.agent.receiver_report import ReceiverReport as ReceiverReport
from veo.agent.start_rate import START_BITRATE as START_BITRATE

#: how far ahead of the rate a burst may go (a frame after a pause is sent at once)
BURST_SECONDS = 0.1
#: the window the stream's own send rate is measured over
RATE_WINDOW_SECONDS = 1.0
#: never pace below this (see module)
FLOOR_BITRATE = 300_000
#: the rate grows only if captures were held back this recently (s)
HELD_BACK_SECONDS = 1.0
#: the payload of a full RTP packet of ours (aiortc's H.264 packetizer: 1300 bytes at most)
PAYLOAD_BYTES = 1_290
#: how long the frames' send times are kept, to age the packets still on their way (s)
HISTORY_SECONDS = 4.0


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
        start_rate: float | None = START_BITRATE,
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
        #: each frame's send time and bytes, newest last (the busy period's delivered rate)
        self._frame_bytes: deque[tuple[float, int]] = deque()
        self._held_at = -math.inf
        self.controller = RateController(start_rate)
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
        rate = self.controller.pacing_rate(now) or 0.0
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
            packets = max(1, math.ceil(nbytes / PAYLOAD_BYTES))
            self._frames.append((now, packets))
            self.controller.sent(packets)
            self._frame_bytes.append((now, nbytes))
            while self._frames[0][0] < now - HISTORY_SECONDS:
                self._frames.popleft()
                self._frame_bytes.popleft()
            if bitrate is not None:
                was = self.controller.pacing_rate(now)
                self.controller.on_remb(now, float(bitrate), self._sent_rate(now), self._floor)
                if was is None and self.controller.pacing_rate(now) is not None:
                    self._bits = 0.0  # the bucket starts empty when pacing starts
            self._bits += nbytes * 8

    def report(self, report: ReceiverReport) -> None:
        """An RTCP receiver report about our stream arrived (see ``low_latency``)."""
        with self._lock:
            now = self._clock()
            self._drain(now)
            was = self.controller.pacing_rate(now)
            held_back = now - self._held_at <= HELD_BACK_SECONDS
            self.controller.report(
                now,
                report,
                self._sent_rate(now),
                held_back,
                self._floor,
                lambda n: self._age_of(now, n),
                self._frame_bytes,
            )
            if was is None and self.controller.pacing_rate(now) is not None:
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
            rate = self.controller.pacing_rate(now)
            if rate is None or rate <= 0:
                return 0.0
            wait = max(0.0, (self._bits - rate * self._burst) / rate)
            if wait > 0:
                self._held_at = now
            return wait
