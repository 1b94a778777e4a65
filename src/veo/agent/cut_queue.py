"""The queue a cut leaves behind: which of the receiver's reports after a decrease still describe
the old rate, and how many of our packets are on their way.

Split out of :mod:`veo.agent.rate_control` (the rules; :mod:`veo.agent.congestion` says why each
is what it is). After a cut, the queue the old rate built drains for a while (on the *poor* link
a second or more), and until it has, what the receiver reports describes the old rate, not the
new one: the packets on their way waited behind a burst, a report's loss is the burst's
tail-drop, a round trip is of a sender report that waited in that queue. Each of them, taken as
the new rate's, cut the rate again in bench runs, a second and third time, to the floor.
:class:`CutQueue` tells them apart by our own packet count at the cut (the *mark*): a packet
sent before it that has not arrived, an interval that began before it, a sender report sent
before a report showed the mark passed.
"""

from __future__ import annotations

import math

from veo.agent.receiver_report import ReceiverReport, WindowMin

#: without the packet counts, the old rate's queue is taken as drained this long after a cut (s)
DRAIN_LIMIT_SECONDS = 3.0


class InFlight:
    """How many of our packets the receiver had not got yet (beyond the fewest seen lately).

    ``packets_sent - highest_sequence`` is a constant (the random first sequence number) plus
    the packets on their way; the constant is taken out as the smallest difference of the last
    ``window`` seconds.
    """

    def __init__(self, window: float) -> None:
        self._window = window
        self._first: int | None = None
        self._offsets = WindowMin(window)

    def count(self, now: float, report: ReceiverReport) -> int | None:
        if report.packets_sent is None or report.packets_sent < 0:
            return None
        offset = (report.packets_sent - report.highest_sequence) & 0xFFFFFFFF
        if self._first is None:
            self._first = offset
        relative = (offset - self._first) & 0xFFFFFFFF
        if relative >= 1 << 31:
            relative -= 1 << 32
        if abs(relative) > 1 << 20:  # garbage, or a new stream: start again
            self._first, self._offsets = offset, WindowMin(self._window)
            relative = 0
        return int(relative - self._offsets.add(now, relative))


class CutQueue:
    """The last decrease, our packet count at the last delay or loss cut, and when the packets
    sent before it had all arrived; see the module."""

    def __init__(self) -> None:
        #: when the rate last decreased (any rule)
        self.decreased_at = -math.inf
        #: our packet count at the last delay or loss cut (``None``: none yet)
        self._mark: int | None = None
        #: when a report first showed every packet sent before that cut arrived (``None``: not
        #: yet)
        self._drained_at: float | None = -math.inf

    def decreased(self, now: float) -> None:
        self.decreased_at = now

    def cut(self, packets_sent: int | None) -> None:
        """A delay or loss cut happened with ``packets_sent`` of ours sent (``None``: unknown)."""
        if packets_sent is not None:
            self._mark, self._drained_at = packets_sent, None

    def observe(self, now: float, report: ReceiverReport, in_flight: int | None) -> None:
        """Each report: note when the packets sent before the cut had all arrived."""
        if self._drained_at is None and self.drained(now, report, in_flight):
            self._drained_at = now

    def drained(self, now: float, report: ReceiverReport, in_flight: int | None) -> bool:
        """Has every packet sent before the last delay or loss cut arrived? Until then the queue
        and the round trips show what was sent before it (at a 5 Mbit/s burst's rate, packets
        that waited ever longer), not what the new rate does: a second cut on them took the
        *poor* link's rate to the floor. Without the counts, after :data:`DRAIN_LIMIT_SECONDS`."""
        if self._mark is None or now - self.decreased_at >= DRAIN_LIMIT_SECONDS:
            return True
        if report.packets_sent is None or in_flight is None:
            return False
        return report.packets_sent - in_flight >= self._mark

    def old_loss(
        self, now: float, report: ReceiverReport, in_flight: int | None, expected: int | None
    ) -> bool:
        """Did the report's interval begin with packets sent before the last cut? Its loss is
        then (at least partly) the old rate's, a burst's tail-drop before the cut, and says
        nothing of the new rate. Without the counts, for :data:`DRAIN_LIMIT_SECONDS`."""
        if self._mark is None or now - self.decreased_at >= DRAIN_LIMIT_SECONDS:
            return False
        if report.packets_sent is None or in_flight is None or expected is None:
            return True
        return report.packets_sent - in_flight - expected < self._mark

    def before_drained(self, now: float, report: ReceiverReport) -> bool:
        """Was the sender report this round trip answers sent before the last cut's queue
        drained (before the cut, or before a report showed every packet sent before it
        arrived)? It waited behind the old rate's packets and says nothing of the new rate: in
        bench runs such samples (473 -> 616 ms, 327 -> 190 ms, a second after the first cut)
        cut the rate a second time, to half, while the queue was draining."""
        if report.rtt_age is None:
            return False
        sent_at = now - report.rtt_age
        drained_at = self._drained_at
        return sent_at < self.decreased_at or drained_at is None or sent_at < drained_at
