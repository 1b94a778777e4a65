"""Throttling of join-code redemption: per address, growing delay, and a global failure budget.

A 9-digit code is only safe if nobody can try many of them. Each address may fail a few times per
window (default 5 per 10 minutes); before answering an address that already failed, the hub waits
``base_delay * 2**(failures-1)`` seconds (capped), so scripted guessing slows down at once. A global
budget caps failures from all addresses together (a botnet spreading its tries). Addresses are
grouped as ``veo.server.addresses`` says (IPv6 by /64).

Time comes from an injectable ``clock`` so tests move it instead of sleeping. The state is in
memory; a Redis implementation of :class:`RedemptionLimiter`'s methods can replace it for several
nodes.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from veo.server.addresses import address_group


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Seconds to wait before answering this attempt.
    delay: float


class RedemptionLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 600.0,
        global_max_failures: int = 200,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.global_max = global_max_failures
        self.base_delay = base_delay
        self.max_delay = max_delay
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._global: deque[float] = deque()

    def _prune(self, times: deque[float], now: float) -> None:
        while times and times[0] <= now - self.window:
            times.popleft()

    def failures(self, address: str) -> int:
        now = self._clock()
        times = self._failures.get(address_group(address))
        if times is None:
            return 0
        self._prune(times, now)
        return len(times)

    def check(self, address: str) -> Decision:
        """May ``address`` try a code now, and how long to wait before answering."""
        now = self._clock()
        self._prune(self._global, now)
        count = self.failures(address)
        delay = 0.0 if count == 0 else min(self.max_delay, self.base_delay * 2 ** (count - 1))
        allowed = count < self.max_failures and len(self._global) < self.global_max
        return Decision(allowed=allowed, delay=delay)

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again: its oldest failure (or the global budget's) ages out."""
        now = self._clock()
        waits = [0.0]
        times = self._failures.get(address_group(address))
        if times is not None:
            self._prune(times, now)
            if len(times) >= self.max_failures:
                waits.append(times[len(times) - self.max_failures] + self.window - now)
        self._prune(self._global, now)
        if len(self._global) >= self.global_max:
            waits.append(self._global[len(self._global) - self.global_max] + self.window - now)
        return max(waits)

    def failure(self, address: str) -> None:
        now = self._clock()
        key = address_group(address)
        self._failures.setdefault(key, deque()).append(now)
        self._global.append(now)
        if len(self._failures) > 10_000:
            self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        """Bound memory: drop addresses with no failure left in the window."""
        for key in list(self._failures):
            times = self._failures[key]
            self._prune(times, now)
            if not times:
                del self._failures[key]
