"""Throttling of join-code redemption: per address group, counted before the lookup.

A 9-digit code is only safe if nobody can try many of them. Each address group (IPv6 by /64, as
``veo.server.addresses`` says) may fail a few times per window (default 5 per 10 minutes); before
answering a group that already failed, the hub waits ``base_delay * 2**(failures-1)`` seconds
(capped), so scripted guessing slows down at once.

**Counted before the lookup.** :meth:`RedemptionLimiter.attempt` decides and counts in one step,
with no ``await`` between them: an allowed attempt is a failure from that moment, and only a right
code is forgiven afterwards (:meth:`forgive`). Hundreds of joins sent at once from one address
therefore get at most ``max_failures`` lookups, whatever the timing (issue 12: a counter that was
told of the failure after the lookup let every join in flight through).

**Joins in flight.** :meth:`enter` gives each connection a :class:`Slot` from the moment it is
accepted until its join is answered; a group may hold ``max_in_flight`` at once, so pre-opened
connections are refused at once instead of each waiting its turn in memory.

**A flood slows the flood.** When the failures of all groups together reach ``flood_failures`` in
the window, groups that already failed get only ``flood_max_failures`` tries and the longest delay.
A group with no failure in the window (a user typing a code read over the phone) is never refused
and never delayed: the old global budget refused everyone, valid codes included, which made a flood
a server-wide denial of service.

Time comes from an injectable ``clock`` so tests move it instead of sleeping. The state is in
memory, per process; a Redis implementation of these methods can replace it for several nodes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from veo.server.addresses import address_group


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: Seconds to wait before answering this attempt.
    delay: float
    #: When refused: seconds until this group may try again (what the user is told).
    retry_after: float = 0.0


@dataclass(eq=False)
class Slot:
    """One join in flight for an address group: from accept until it is answered."""

    group: str
    #: When its attempt was counted as a failure (None: not counted, or forgiven).
    counted_at: float | None = None
    open: bool = True


@dataclass
class _Group:
    #: Times of the counted failures in the window, oldest first; never longer than the allowance.
    failures: list[float] = field(default_factory=list)
    in_flight: int = 0


class _WindowCount:
    """How many events in the last ``window`` seconds, in a few dozen buckets instead of one entry each."""

    def __init__(self, window: float, buckets: int = 60) -> None:
        self.window = window
        self.width = window / buckets
        self._buckets: deque[list[float]] = deque()  # [bucket start, count]
        self._total = 0.0

    def _prune(self, now: float) -> None:
        while self._buckets and self._buckets[0][0] + self.width <= now - self.window:
            self._total -= self._buckets.popleft()[1]

    def add(self, now: float, amount: float = 1.0) -> None:
        start = now - now % self.width
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0.0])
        self._buckets[-1][1] += amount
        self._total += amount
        self._prune(now)

    def remove(self, at: float) -> None:
        """Take back one event counted at ``at`` (a forgiven attempt), if it is still counted."""
        start = at - at % self.width
        for bucket in reversed(self._buckets):
            if bucket[0] == start:
                if bucket[1] > 0:
                    bucket[1] -= 1
                    self._total -= 1
                return

    def total(self, now: float) -> int:
        self._prune(now)
        return round(self._total)


class RedemptionLimiter:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 600.0,
        base_delay: float = 0.5,
        max_delay: float = 8.0,
        max_in_flight: int = 4,
        flood_failures: int = 200,
        flood_max_failures: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= flood_max_failures <= max_failures:
            raise ValueError("flood_max_failures must be between 1 and max_failures")
        self.max_failures = max_failures
        self.window = window_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_in_flight = max_in_flight
        self.flood_failures = flood_failures
        self.flood_max_failures = flood_max_failures
        self._clock = clock
        self._groups: dict[str, _Group] = {}
        self._global = _WindowCount(window_seconds)
        self._sweep_above = 10_000
        self._swept_at = clock()

    # ------------------------------------------------------------------ reading

    def _pruned(self, key: str, now: float) -> _Group | None:
        group = self._groups.get(key)
        if group is not None and group.failures and group.failures[0] <= now - self.window:
            group.failures = [t for t in group.failures if t > now - self.window]
        return group

    def failures(self, address: str) -> int:
        """Failures of ``address``'s group in the window, attempts still being looked up included."""
        group = self._pruned(address_group(address), self._clock())
        return len(group.failures) if group else 0

    def flooded(self) -> bool:
        """Have all groups together failed ``flood_failures`` times in the window?"""
        return self._global.total(self._clock()) >= self.flood_failures

    def allowance(self) -> int:
        """Failures a group may have in the window now: fewer during a flood."""
        return self.flood_max_failures if self.flooded() else self.max_failures

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again: until enough of its failures age out."""
        now = self._clock()
        group = self._pruned(address_group(address), now)
        limit = self.allowance()
        if group is None or len(group.failures) < limit:
            return 0.0
        return max(0.0, group.failures[len(group.failures) - limit] + self.window - now)

    def _delay(self, failed: int, flooded: bool) -> float:
        if failed == 0:
            return 0.0
        if flooded:
            return self.max_delay
        return min(self.max_delay, self.base_delay * 2.0 ** (failed - 1))

    # ------------------------------------------------------------------ one join

    def enter(self, address: str) -> Slot | None:
        """A slot for a join from ``address`` now, or None when its group has too many in flight."""
        key = address_group(address)
        group = self._groups.get(key)
        if group is None:
            now = self._clock()
            if len(self._groups) >= self._sweep_above or now - self._swept_at >= self.window:
                self._sweep(now)
            group = self._groups[key] = _Group()
        if group.in_flight >= self.max_in_flight:
            return None
        group.in_flight += 1
        return Slot(key)

    def attempt(self, slot: Slot) -> Decision:
        """May this join's code be looked up, and after how long; if so it counts as a failure NOW.

        Deciding and counting are one step (no ``await`` between them), so parallel joins cannot
        all pass before any of them is counted.
        """
        now = self._clock()
        group = self._pruned(slot.group, now)
        if group is None or not slot.open or slot.counted_at is not None:
            raise ValueError("attempt() needs an open slot that has not tried yet")
        flooded = self._global.total(now) >= self.flood_failures
        limit = self.flood_max_failures if flooded else self.max_failures
        failed = len(group.failures)
        delay = self._delay(failed, flooded)
        if failed >= limit:
            wait = group.failures[failed - limit] + self.window - now
            return Decision(allowed=False, delay=delay, retry_after=max(0.0, wait))
        group.failures.append(now)
        self._global.add(now)
        slot.counted_at = now
        return Decision(allowed=True, delay=delay)

    def forgive(self, slot: Slot) -> None:
        """The code was right: the attempt counted by :meth:`attempt` was no failure after all."""
        if slot.counted_at is None:
            return
        group = self._groups.get(slot.group)
        if group is not None and slot.counted_at in group.failures:
            group.failures.remove(slot.counted_at)
            self._global.remove(slot.counted_at)
        slot.counted_at = None

    def leave(self, slot: Slot) -> None:
        """The join was answered (or its connection dropped): free its place. Safe to call twice."""
        if not slot.open:
            return
        slot.open = False
        group = self._groups.get(slot.group)
        if group is None:
            return
        group.in_flight -= 1
        if group.in_flight == 0 and not group.failures:
            del self._groups[slot.group]

    def busy_retry_after(self) -> float:
        """What a join refused for too many in flight is told: about one longest delay."""
        return float(max(1, math.ceil(self.max_delay)))

    # ------------------------------------------------------------------ memory

    def _sweep(self, now: float) -> None:
        """Bound memory: drop groups with nothing in flight and no failure left in the window.

        Runs once per window, or sooner when the table doubled since the last sweep, so its cost
        per join stays constant however many groups a flood brings (the old sweep ran on every
        failure once 10,000 groups were held: quadratic work for a flood from many addresses).
        """
        self._swept_at = now
        for key in list(self._groups):
            group = self._pruned(key, now)
            if group is not None and group.in_flight == 0 and not group.failures:
                del self._groups[key]
        self._sweep_above = max(10_000, 2 * len(self._groups))

    def tracked_groups(self) -> int:
        """How many address groups the limiter holds state for (for tests and the memory check)."""
        return len(self._groups)
