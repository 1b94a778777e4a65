"""What the receiver got while we were sending a lot: the delivered rate of a busy period.

A receiver report says how many packets arrived since the previous one, but reports come about
once a second, and the interval before the first report of a burst is mostly what came before
it: on the *poor* link the interval's rate was 640 kbit/s (typing, then half a second of a
scroll), and the first cut, based on it, took the stream near its floor for ~5 s of a 10-s
scroll. libwebrtc's acknowledged-bitrate estimator measures over short windows of acknowledged
packets for that reason; without per-packet feedback we measure from our own send times:

for each frame of the recent history taken as the start ``s`` of a busy period, the packets
sent since ``s`` less those still on their way (:meth:`RateController._in_flight`) did arrive,
and none of them before ``s`` plus the one-way delay, while the report counts them at the latest
one one-way delay before it reached us: they arrived within ``now - s - rtt_min``. Their rate is
a *lower bound* of the link's rate (packets of before ``s`` still on their way only make it
smaller), and the highest over the candidate starts is the tightest: the start of the burst.
"""

from __future__ import annotations

from collections.abc import Iterable

#: the shortest busy period measured (s): shorter ones are a frame or two, and rounding
BUSY_MIN_SECONDS = 0.2


def busy_rate(
    now: float,
    frames: Iterable[tuple[float, int]],
    in_flight: int,
    rtt_min: float,
    packet_bits: float,
) -> float | None:
    """The highest rate (bit/s) the receiver provably got since any of ``frames`` (send time,
    packets; oldest first) was sent, ``None`` when no period is long enough to say."""
    sent_since = 0
    best: float | None = None
    for at, packets in reversed(list(frames)):
        sent_since += packets
        elapsed = now - at - rtt_min
        if elapsed < BUSY_MIN_SECONDS:
            continue
        received = sent_since - max(0, in_flight)
        if received <= 0:
            continue
        rate = received * packet_bits / elapsed
        if best is None or rate > best:
            best = rate
    return best
