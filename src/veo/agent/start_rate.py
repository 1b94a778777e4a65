"""The pace of a session that knows nothing of its link yet (GCC's start bitrate and its probes).

A stream that starts unpaced sends what the screen wants into a link nobody has measured:
1080p scrolling scaled to a console wants 3-6 Mbit/s, and on the *poor* link (2 Mbit/s, a 1-s
tail-drop queue) that filled the queue within half a second, before the first receiver report
(about one a second while nothing is lost) could show it. The packets dropped then froze the
picture until a keyframe: a 3.2-s stall in every bench run of the 2-s burst, and typing back only
after 2.6-2.9 s. Remembering the link's rate (:mod:`veo.agent.link_memory`) only helps the bursts
after the session's first congestion.

So until the first congestion, frames are paced to :data:`START_BITRATE`, a little over the
poor link's rate: the queue builds at a quarter of the link's rate, slowly enough for the delay
rule to see it at ~0.3 s and cut before anything is dropped. The start rate is also a probe:
each receiver report showing that the receiver counted at least :data:`PROBE_SHARE` of it since
a report at least :data:`PROBE_SECONDS` old, with no packet waiting over
:data:`PROBE_QUEUE`,
shows the link carries it, and the rate doubles from what was delivered (TCP's slow start, one
step per report): a fast link lets the stream go unpaced within a few reports (2.5 -> 5 -> 10 ->
20 Mbit/s), a link narrower than the start rate never delivers enough to double it. The first
congestion ends the start (the controller's rate and the link memory take over from there).
"""

from __future__ import annotations

import math

#: what a session's frames are paced to before anything is known of the link (bit/s)
START_BITRATE = 2_500_000
#: a report whose busy period delivered at least this share of the start rate probes it
PROBE_SHARE = 0.9
#: ... and the rate grows to this many times what was delivered
STARTUP_GROWTH = 2.0
#: a packet on its way that waited this long (s) means the link did not take the rate (at
#: 2.5 Mbit/s into 2 the queue is that long 0.2 s into a burst)
PROBE_QUEUE = 0.05
#: the shortest span a probe is judged on (s): a short one's count is coarse
PROBE_SECONDS = 0.5


class StartRate:
    """The start-up pace (bit/s), ``None`` once it ended; see the module."""

    def __init__(self, rate: float | None = START_BITRATE, ceiling: float = math.inf) -> None:
        self.rate = rate
        self._ceiling = ceiling

    def end(self) -> None:
        """A congestion (or anything else) told the controller more than the start rate can."""
        self.rate = None

    def probed(self, delivered: float | None, waited: float | None) -> None:
        """One receiver report: ``delivered``: what the receiver got lately (bit/s,
        ``None``: unknown); ``waited``: how long the oldest packet on its way has waited (s)."""
        if self.rate is None or delivered is None or waited is None or waited > PROBE_QUEUE:
            return
        if not math.isfinite(delivered) or delivered < PROBE_SHARE * self.rate:
            return
        self.rate = max(self.rate, delivered) * STARTUP_GROWTH
        if self.rate > self._ceiling:
            self.rate = None  # the link has room: no longer paced
