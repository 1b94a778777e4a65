"""How long the service waits before it tries the server again: exponential, with full jitter.

Hundreds of devices lose their socket together when a node restarts; if they all came back after
the same delays they would knock on the next node in waves. "Full jitter" draws each wait uniformly
between 0 and the exponential ceiling (1 s, 2 s, 4 s, ... up to :data:`CAP_SECONDS`), which spreads
them out. A connection that stayed up :data:`STABLE_SECONDS` resets the ceiling, so a device that
lost a healthy link comes back quickly, while one refused again and again backs off.
"""

from __future__ import annotations

import random
from collections.abc import Callable

BASE_SECONDS = 1.0
CAP_SECONDS = 60.0
STABLE_SECONDS = 60.0


class JitterBackoff:
    def __init__(
        self,
        base: float = BASE_SECONDS,
        cap: float = CAP_SECONDS,
        uniform: Callable[[float, float], float] = random.uniform,
    ) -> None:
        self._base = base
        self._cap = cap
        self._uniform = uniform
        self.attempts = 0

    def ceiling(self) -> float:
        """The largest wait the next call may return."""
        return float(min(self._cap, self._base * float(2 ** min(self.attempts, 32))))

    def next(self) -> float:
        delay = self._uniform(0.0, self.ceiling())
        self.attempts += 1
        return max(0.0, min(delay, self._cap))

    def reset(self) -> None:
        self.attempts = 0
