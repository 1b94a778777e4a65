"""What a receiver report says about our video, in plain units, and the helpers to judge it.

Split out of :mod:`veo.agent.congestion` (see there for the rules): the report block, the
sanity filter every figure passes, and a windowed minimum (the round trip and jitter without a
queue).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass


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
    #: how long before the report arrived the sender report its ``rtt`` answers was sent (s)
    rtt_age: float | None = None


def sane(value: float | None, high: float) -> float | None:
    if value is None or not math.isfinite(value) or not 0.0 <= value <= high:
        return None
    return float(value)


class WindowMin:
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
