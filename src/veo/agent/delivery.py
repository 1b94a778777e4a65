"""What the receiver got while we were sending a lot: the delivered rate of a busy period.

A receiver report says how many packets arrived since the previous one, but reports come about
once a second, and the interval before the first report of a burst is mostly what came before
it: on the *poor* link the interval's rate was 640 kbit/s (typing, then half a second of a
scroll), and the first cut, based on it, took the stream near its floor for ~5 s of a 10-s
scroll. libwebrtc's acknowledged-bitrate estimator measures over short windows of acknowledged
packets for that reason; without per-packet feedback we measure from our own send times:

for each frame of the recent history taken as the start ``s`` of a busy period, the bytes
sent since ``s`` less those of the packets still on their way (:class:`~veo.agent.cut_queue.InFlight`,
at the average payload the sender reports count, ``octets / packets``: x264's two slices make
more, smaller packets than full ones, and counting full ones found nothing in a bench run) did arrive,
and none of them before ``s`` plus the one-way delay, while the report counts them at the latest
one one-way delay before it reached us: they arrived within ``now - s - rtt_min``. Their rate is
a *lower bound* of the link's rate (packets of before ``s`` still on their way only make it
smaller), and the highest over the candidate starts is the tightest: the start of the burst.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable, Sequence

#: the shortest busy period measured (s): shorter ones are a frame or two, and rounding
BUSY_MIN_SECONDS = 0.2


def busy_rate(
    now: float,
    frames: Iterable[tuple[float, int]],
    in_flight: int,
    rtt_min: float,
    packet_bytes: float,
    overhead_bytes: float,
    counts: Sequence[tuple[float, int]],
) -> float | None:
    """The highest rate (bit/s, headers included) the receiver provably got since any of
    ``frames`` (send time, payload bytes; oldest first) was sent, ``None`` when no period is
    long enough to say. ``counts``: each recent report's arrival and the receiver's running
    count of packets received (oldest first, the last is this report's): since a start, no more
    packets are taken than the receiver counted after the last report before it
    (the packets still on their way are counted against the smallest difference seen lately,
    which a stream never quite idle overstates: a bench run's estimate read 4 Mbit/s on the
    2 Mbit/s link without this bound)."""
    if not packet_bytes > 0 or len(counts) < 2:
        return None
    counts = list(counts)
    total = counts[-1][1]
    # the reports' arrivals, oldest first: each frame finds its report by bisection (a scan per
    # frame cost 5.4 ms a report with a console sending one every 5 ms: a core of the event loop)
    arrivals = [arrived for arrived, _ in counts[:-1]]
    sent_since = 0
    best: float | None = None
    waiting = max(0, in_flight) * packet_bytes
    for at, nbytes in reversed(list(frames)):
        sent_since += nbytes
        elapsed = now - at - rtt_min
        if elapsed < BUSY_MIN_SECONDS:
            continue
        # the last report that cannot have counted this frame's packets (they arrive at least
        # one one-way delay after ``at``, a report reaches us one after it was made)
        before = bisect.bisect_right(arrivals, at + rtt_min)
        if before == 0:
            break  # older than the counts kept
        received = min(sent_since - waiting, (total - counts[before - 1][1]) * packet_bytes)
        if received <= 0:
            continue
        rate = received * 8 * (packet_bytes + overhead_bytes) / packet_bytes / elapsed
        if best is None or rate > best:
            best = rate
    return best
