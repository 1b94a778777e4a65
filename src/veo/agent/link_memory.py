"""The link's rate learnt at congestion, remembered as time passes (GCC's link capacity estimate).

A burst that starts unpaced sends what the screen wants (~3 Mbit/s of 1080p scrolling) into the
link until the first report shows the queue: on the *poor* link (2 Mbit/s, a 1-s queue) it once
filled the queue before the first cut and the drops made a 3.2-s stall. Once a congestion has
shown what the link delivers, the start of the next burst is paced to it. The figure loosens as
time passes (the link may have improved, another flow may have ended): :data:`LOOSEN_PER_SECOND`
over its value for each second since it was learnt, and it is forgotten after
:data:`MEMORY_SECONDS` or when the stream has grown past the ceiling (the link had room).
At 1 % a second, a burst 20 s after the last congestion is paced to 1.2x the link: the queue
builds at a sixth of the link's rate, which the delay rule sees long before a 1-s queue fills.
"""

from __future__ import annotations

import math

#: the remembered rate loosens by this share of itself each second since it was learnt
LOOSEN_PER_SECOND = 0.01
#: ... and is forgotten after this long (s)
MEMORY_SECONDS = 60.0


class LinkMemory:
    """The rate (bit/s) the link delivered at the last congestion, loosened with its age."""

    def __init__(self) -> None:
        self._learnt: tuple[float, float] | None = None

    def learn(self, now: float, rate: float) -> None:
        """The link filled while it delivered ``rate``: the newest congestion says most."""
        if math.isfinite(rate) and rate > 0:
            self._learnt = (rate, now)

    def forget(self) -> None:
        self._learnt = None

    def bound(self, now: float) -> float | None:
        """What a burst starting now is paced to (``None``: nothing known, or too old)."""
        if self._learnt is None:
            return None
        rate, at = self._learnt
        age = max(0.0, now - at)
        if age >= MEMORY_SECONDS:
            self._learnt = None
            return None
        return rate * (1 + LOOSEN_PER_SECOND * age)
