"""The rate controller: the rules of :mod:`veo.agent.congestion` applied to each receiver report
and REMB (the loss-based and delay-based decreases, hold, the AIMD growth). Split out of
``congestion.py``; the module docstring there says why each rule is what it is.
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Sequence

from veo.agent.cut_queue import DRAIN_LIMIT_SECONDS as DRAIN_LIMIT_SECONDS  # re-exported
from veo.agent.cut_queue import CutQueue, InFlight
from veo.agent.delivery import busy_rate
from veo.agent.link_memory import LinkMemory
from veo.agent.receiver_report import ReceiverReport, WindowMin, sane
from veo.agent.start_rate import PROBE_SECONDS, START_BITRATE, StartRate

log = logging.getLogger(__name__)

#: how long the reports' counts are kept for the busy period's bound (s)
COUNTS_SECONDS = 5.0

#: a REMB below this share of what is being sent is a sign the link may be full
CONGESTED_SHARE = 0.9
#: a REMB that stays below what is being sent this long without rising means it is full
STUCK_SECONDS = 1.5
#: without round-trip samples: a REMB this far above what is being sent means the link has room
RELIEVED_SHARE = 1.3
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
#: for this long after a decrease the rate grows to at most this share of what the link
#: delivered when it filled: a frame of 1080p scrolling (15-25 KB) takes 60-100 ms on a 2 Mbit/s
#: link, and a rate grown back to the link's (bench runs: 1.27 -> 2.09 Mbit/s within 5 s of the
#: first cut) kept a queue standing under the 100-ms hold and the scroll's latency at 285-316 ms
HEADROOM_SECONDS = 10.0
HEADROOM_SHARE = 0.85
#: a growth step counts at most this much time (reports can be seconds apart)
MAX_STEP_SECONDS = 1.0
#: a round-trip sample this old no longer says anything about the queue (s)
RTT_FRESH_SECONDS = 3.0
#: what a packet carries besides the payload the sender counts (RTP, SRTP, UDP, IP headers)
PACKET_OVERHEAD_BYTES = 50
#: the shortest interval a delivered rate is measured over (reports can come close together)
DELIVERED_MIN_SECONDS = 0.3
#: a round-trip or jitter figure above this is garbage (s)
MAX_SANE_SECONDS = 10.0
#: receiver reports for this long (s) without a round trip (a receiver that never echoes our
#: sender reports, which aiortc sends every 0.5-1.5 s) end the start rate: the probe needs round
#: trips, and without them the stream stayed paced at the start rate for the whole session
#: (review); it goes unpaced, as before the start rate
START_WITHOUT_RTT_SECONDS = 10.0


class RateController:
    """The rate the stream is paced to (``None``: not paced); see the module for the rules.

    Not thread-safe: :class:`SendBudget` calls it with its lock held.
    """

    def __init__(self, start_rate: float | None = START_BITRATE) -> None:
        self.rate: float | None = None
        #: the pace before the first congestion, and its probes (``None``: unpaced from the start)
        self.start = StartRate(start_rate, CEILING_BITRATE)
        #: what the receiver got when the link last filled (bit/s): near it the growth is additive
        self.congested_rate: float | None = None
        #: the rate actually delivered, from the reports' sequence numbers (bit/s)
        self.delivered: float | None = None
        self.remb: float | None = None
        self._last_decrease = -math.inf
        self._grown_at: float | None = None
        self._remb_below_since: float | None = None
        self._rtt_min = WindowMin(MIN_WINDOW_SECONDS)
        self._jitter_min = WindowMin(MIN_WINDOW_SECONDS)
        self._last_rtt: float | None = None
        self._draining = False
        #: consecutive round-trip samples over QUEUE_DELAY
        self._over = 0
        #: the highest rate delivered while a queue stood, and when (the link's rate, at least)
        self._capacity: tuple[float, float] | None = None
        #: the link's rate at the last congestion, paced to when the rate is not (see pacing_rate)
        self.link = LinkMemory()
        #: each report's arrival and the receiver's running count of packets received
        self._counts: deque[tuple[float, int]] = deque()
        self._rtt_at = -math.inf
        #: when the sender report of the last round-trip sample was sent
        self._rtt_sent_at = -math.inf
        self._last_jitter: float | None = None
        self._queue: float | None = None
        self._last_block: tuple[float, int, int] | None = None
        self._in_flight = InFlight(MIN_WINDOW_SECONDS)
        self._last_standing = 0.0
        #: what the reports after a cut still say of the old rate (see :mod:`veo.agent.cut_queue`)
        self._cut = CutQueue()
        #: our packet count at the last report (the mark of a REMB cut)
        self._packets_sent: int | None = None
        #: our frames' packets since that report (see :meth:`sent`)
        self._packets_since = 0
        self._measure_from: tuple[float, int, int] | None = None
        #: when the first receiver report came (see START_WITHOUT_RTT_SECONDS)
        self._first_report_at: float | None = None

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
        self._cut.decreased(now)
        self._grown_at = now
        self.start.end()

    def _increase(self, now: float, held_back: bool) -> None:
        if self.rate is None:
            return
        last, self._grown_at = self._grown_at, now
        if not held_back or last is None:
            return  # nothing waits for more: the link's room is unknown
        step = min(max(0.0, now - last), MAX_STEP_SECONDS)
        congested = self.congested_rate
        before = self.rate
        if congested is not None and NEAR_SHARE * congested <= self.rate <= FAR_ABOVE_SHARE * congested:
            self.rate += max(ADDITIVE_GROWTH * congested, MIN_ADDITIVE_BITRATE) * step
        else:
            grown = self.rate * FAST_GROWTH**step
            if congested is not None and self.rate < NEAR_SHARE * congested:
                grown = min(grown, NEAR_SHARE * congested)  # then additively from there
            self.rate = grown
        if congested is not None and now - self._last_decrease < HEADROOM_SECONDS:
            # the link filled at ``congested`` lately: stay under it (see HEADROOM_SHARE)
            self.rate = min(self.rate, max(before, HEADROOM_SHARE * congested))
        if self.rate > CEILING_BITRATE:
            log.info("link has room: frames no longer paced")
            self.rate = None
            self.link.forget()

    def pacing_rate(self, now: float) -> float | None:
        """What frames are paced to: the controller's rate, or while it does not pace, the
        link's rate learnt at the last congestion (:class:`LinkMemory`), so that a burst does
        not start unpaced into a link known to be narrower, or before the first congestion the
        start rate (:class:`StartRate`) (``None``: not paced)."""
        if self.rate is not None:
            return self.rate
        learnt = self.link.bound(now)
        return learnt if learnt is not None else self.start.rate

    def report(
        self,
        now: float,
        report: ReceiverReport,
        sending: float,
        held_back: bool,
        floor: float,
        age_of: Callable[[int], float | None] = lambda packets: None,
        frames: Sequence[tuple[float, int]] = (),
    ) -> None:
        """Judge one receiver report (see the module); ``age_of(n)``: how long ago the n-th
        newest packet of ours was sent (``None``: further back than the frames kept);
        ``frames``: our recent frames' send times and payload bytes, oldest first."""
        previous = self._last_block
        if self._first_report_at is None:
            self._first_report_at = now
        expected = self._measure(now, report)
        if expected is None:
            self._counts.clear()  # a new or broken count: start again
        if previous is not None or expected is None:
            # the receiver's count of packets received, for the busy period's bound
            total = (self._counts[-1][1] if self._counts else 0) + (
                max(0, expected - max(0, report.packets_lost - previous[2]))
                if previous is not None and expected is not None
                else 0
            )
            self._counts.append((now, total))
            while self._counts[0][0] < now - COUNTS_SECONDS:
                self._counts.popleft()
        in_flight = self._in_flight.count(now, report)
        self._packets_sent, self._packets_since = report.packets_sent, 0
        self._cut.observe(now, report, in_flight)
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
        busy: float | None = None
        rtt_min = self._rtt_min.value
        if in_flight is not None and rtt_min is not None and report.packet_bytes is not None:
            # what arrived while we were sending a lot, not since the last report (see delivery)
            busy = busy_rate(
                now, frames, in_flight, rtt_min, report.packet_bytes, PACKET_OVERHEAD_BYTES, self._counts
            )
        # whether we push the link is judged against the interval's own rate (and the link's
        # rate seen before this report): the 1-s send rate of the first half second of a burst
        # is below the busy period's rate, and the first cut would wait for it
        judged = base
        if self._capacity is not None and now - self._capacity[1] < CAPACITY_SECONDS:
            judged = max(judged, self._capacity[0])
        if busy is not None:
            base = max(base, busy)
        loss = sane(report.fraction_lost, 1.0)
        counted = expected is not None and expected >= LOSS_MIN_PACKETS
        rtt = sane(report.rtt, MAX_SANE_SECONDS)
        if rtt is not None:
            self._queue = sample = rtt - self._rtt_min.add(now, rtt)
            self._draining = self._last_rtt is not None and rtt < self._last_rtt - QUEUE_EMPTY / 2
            self._last_rtt, self._rtt_at = rtt, now
            self._rtt_sent_at = now - (report.rtt_age if report.rtt_age is not None else rtt)
            self._over = self._over + 1 if sample > QUEUE_DELAY else 0
            if sample > QUEUE_EMPTY and self.delivered is not None:  # the link was busy: its rate
                known = (
                    self._capacity[0] if self._capacity and now - self._capacity[1] < CAPACITY_SECONDS else 0
                )
                self._capacity = (max(base, known), now)
        if self._capacity is not None and now - self._capacity[1] < CAPACITY_SECONDS:
            base = max(base, self._capacity[0])
        jitter = sane(report.jitter, MAX_SANE_SECONDS)
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
            building = (
                rtt is not None and over and not self._draining and not self._cut.before_drained(now, report)
            )
        else:
            building = jitter_growth > JITTER_GROWTH and rising_jitter
        may_decrease = now - self._last_decrease >= DECREASE_HOLD
        if loss is not None and counted and loss > LOSS_BACKOFF:
            # the loss of packets sent before the last cut (a burst's tail-drop) is the old
            # rate's: in bench runs a loss cut 0.9 s after the first delay cut, then a third,
            # took the poor link's rate to the floor
            if may_decrease and not self._cut.old_loss(now, report, in_flight, expected):
                self._congested(now, base, 1 - loss / 2, f"loss {loss:.0%}", floor, report)
        elif building:
            # a queue while we send less than the link delivers (a keyframe's burst, then
            # keystrokes) drains by itself: pacing the next scroll for it would only slow it
            pushing = held_back or sending >= DELAY_BACKOFF * judged
            if may_decrease and pushing and self._cut.drained(now, report, in_flight):
                share = DELAY_BACKOFF - (queue or 0.0) / DRAIN_SECONDS
                witness = "packets in flight" if growing else "round trip"
                why = f"queue {queue * 1000:.0f} ms, {witness}" if queue is not None else "jitter rising"
                self._congested(now, base, max(share, MIN_DELAY_SHARE), why, floor, report)
        elif (
            (loss is not None and counted and loss > LOSS_HOLD)
            or queue is None
            or queue > QUEUE_DELAY
            or self._draining
            # a packet on its way that has waited this long: a queue stands (or drains), whatever
            # an older round trip said (a bench run grew 745k -> 1.16M within a second of its
            # first cut, into the still-full queue)
            or (standing is not None and standing > QUEUE_DELAY)
        ):
            self._grown_at = now  # hold: no growth for this interval either
        else:
            self._increase(now, held_back)
        if (
            self.rate is None
            and self.start.rate is not None
            and not (loss is not None and counted and loss > LOSS_HOLD)
        ):
            self._probe(now, report, in_flight, age_of)

    def _congested(
        self, now: float, base: float, share: float, why: str, floor: float, report: ReceiverReport
    ) -> None:
        """A congestion: the link's rate is ``base`` (remembered), and the rate is cut to
        ``share`` of what the stream is paced to now; a cut made marks our packet count, so
        that the reports still about the old rate's queue do not cut again (:mod:`.cut_queue`)."""
        self.congested_rate = base
        self.link.learn(now, base)
        paced = self.pacing_rate(now)
        current = min(paced, base) if paced is not None else base
        self._decrease(now, share * current, why, floor)
        if self._last_decrease == now:
            self._cut.cut(report.packets_sent)

    def _probe(
        self, now: float, report: ReceiverReport, in_flight: int | None, age_of: Callable[[int], float | None]
    ) -> None:
        """Did the link carry the start rate (:class:`StartRate`)? Judged on what the receiver
        counted since its last report at least :data:`PROBE_SECONDS` old (a span that began
        before the stream was busy only reads lower), not on the busy period's rate: that one
        counts our packets sent less those on their way, and a session's first reports (its
        keyframe still on its way when the smallest difference was taken) undercount those: in
        a bench run it read 2.95 Mbit/s on the 2 Mbit/s link and doubled the start rate into its
        queue. The packets on their way are the second witness, and a round trip of a sender
        report sent since the span began, showing no queue, the first (the packets' count
        can be fooled, as above)."""
        if (
            self._rtt_at == -math.inf
            and self._first_report_at is not None
            and now - self._first_report_at >= START_WITHOUT_RTT_SECONDS
        ):
            self.start.end()
            log.info("start rate: the receiver's reports carry no round trip; frames unpaced")
            return
        if in_flight is None or report.packet_bytes is None or len(self._counts) < 2:
            return
        older = [(at, count) for at, count in self._counts if at <= now - PROBE_SECONDS]
        if not older:
            return
        at, count = older[-1]
        if self._rtt_sent_at < at or self._queue is None or self._queue > QUEUE_EMPTY:
            return  # no round trip of a sender report sent since shows an empty queue
        size = report.packet_bytes + PACKET_OVERHEAD_BYTES
        delivered = (self._counts[-1][1] - count) * size * 8 / (now - at)
        rtt_min = self._rtt_min.value
        age = age_of(in_flight) if in_flight > 0 else 0.0
        waited = None if age is None else max(0.0, age - (rtt_min or 0.0))
        was = self.start.rate
        self.start.probed(delivered, waited)
        if self.start.rate != was:
            log.info(
                "start rate: the link carried %.0f bit/s, pacing frames to %s",
                delivered,
                "unpaced" if self.start.rate is None else f"{self.start.rate:.0f}",
            )

    def sent(self, packets: int) -> None:
        """A frame of about ``packets`` RTP packets went out (counted for a REMB cut's mark)."""
        self._packets_since += packets

    def on_remb(self, now: float, remb: float, sending: float, floor: float) -> None:
        """The receiver's estimate came with a frame: a fall below the send rate is overuse."""
        previous, self.remb = self.remb, remb
        fresh = self._fresh_rtt(now)
        if remb >= CONGESTED_SHARE * sending:
            self._remb_below_since = None
            start = self.start.rate
            if not fresh and self.rate is None and start is not None and remb > RELIEVED_SHARE * start:
                # no round trips (no receiver reports to probe with): the old REMB rule
                log.info("link has room: the start rate ends (REMB %d)", remb)
                self.start.end()
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
                if self._last_decrease == now and self._packets_sent is not None:
                    # its queue drains as a delay cut's does (a bench run: "REMB fell" to 1.6
                    # Mbit/s, then a round trip behind that queue cut to 0.8 a second later);
                    # the count at the last report and our frames' packets since are the mark
                    self._cut.cut(self._packets_sent + self._packets_since)
            return
        stuck = self.rate is None and now - self._remb_below_since >= STUCK_SECONDS
        if falling or stuck or self.rate is not None:
            if self.rate is None:
                self._decrease(now, remb, "REMB fell" if falling else "REMB stuck", floor)
            else:
                self.rate = min(max(remb, floor), CEILING_BITRATE)
