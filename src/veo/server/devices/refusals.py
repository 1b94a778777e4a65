"""Which refused device authentications get an audit row of their own at once.

All of them go through ``sessions/refusal_log.RefusalLog`` (``device.auth_refused``): the first
of each reason per address group and 5-minute window is written at once, the rest counted into
one summary row per group and window, so that anyone flooding ``/ws/device`` with made-up ids
cannot fill the audit log.

A refusal that names an enrolled device is different: a key that does not verify for it, or a
revoked device coming back (a copied disk, a stolen key), is what an investigator looks for, and
it costs the sender knowledge of a real 128-bit device id. So its first occurrence per (address
group, reason, device) and window is written at once too, whatever other refusals that address
sent, within a budget of its own (:attr:`FirstPerDevice.max_immediate` rows per window for all
addresses; past it, only the summaries count them). Someone who knows one device's id and floods
it gets one row per window.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from veo.server.addresses import address_group

#: Refusals that name an enrolled device (the id was found).
KNOWN_DEVICE_REASONS = frozenset({"bad_signature", "revoked"})


class FirstPerDevice:
    """The first refusal per (address group, reason, device) and window, within a budget."""

    def __init__(
        self,
        *,
        window_seconds: float = 300.0,
        max_immediate: int = 100,
        clock: Callable[[], float] = time.monotonic,
        reasons: frozenset[str] = KNOWN_DEVICE_REASONS,
    ) -> None:
        self.reasons = reasons
        self.window = window_seconds
        self.max_immediate = max_immediate
        self._clock = clock
        #: key -> when its window opened (insertion order = time order)
        self._seen: dict[tuple[str, str, str], float] = {}
        self._budget_since = clock()
        self._spent = 0

    def first(self, address: str, reason: str, device_id: str) -> bool:
        """True when this refusal gets its own row now (and is not to be counted as well)."""
        if reason not in self.reasons or not device_id:
            return False
        now = self._clock()
        while self._seen:  # windows that closed, oldest first
            key, opened = next(iter(self._seen.items()))
            if now - opened < self.window:
                break
            del self._seen[key]
        if now - self._budget_since >= self.window:
            self._budget_since, self._spent = now, 0
        key = (address_group(address), reason, device_id)
        if key in self._seen or self._spent >= self.max_immediate:
            return False
        self._seen[key] = now
        self._spent += 1
        return True
