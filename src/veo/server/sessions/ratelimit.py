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

**Per /48 as well (IPv6).** Whoever holds an IPv6 /48 (free from a tunnel broker, cheap from many
hosting providers) holds 65,536 /64s, each a group with its own tries: 131,072 guesses per window,
a live code found in about half a day when a hundred are live. So failures are also counted per
``address_prefix`` (the /48), which may fail at most ``prefix_max_failures`` times per window (25;
``prefix_flood_max_failures``, 2, during a flood, like one address). Once a /48 has used them,
every /64 in it is refused, including one with no failure of its own: a free first try per /64
would give the /48 its 65,536 tries back. Only people who share a /48 with a guesser (one end site,
or up to 256 households of a provider that hands out /56s) wait; a /48 with no failure is never
touched. IPv4 has no coarser count: addresses are paid for one by one, and a /24 is often shared by
unrelated people (corporate NATs, carrier-grade NAT, cloud tenants), who would refuse each other.

**Joins in flight.** :meth:`enter` gives each connection a :class:`Slot` from the moment it is
accepted until its join is answered; a group may hold ``max_in_flight`` at once, so pre-opened
connections are refused at once instead of each waiting its turn in memory.

**A flood slows the flood.** When the failures of all groups together reach ``flood_failures`` in
the window, groups that already failed get only ``flood_max_failures`` tries and the longest delay.
A group with no failure in the window (a user typing a code read over the phone) is never refused
and never delayed (unless its IPv6 /48 used up the /48's tries, above): the old global budget
refused everyone, valid codes included, which made a flood a server-wide denial of service.

Time comes from an injectable ``clock`` so tests move it instead of sleeping. The state is in
memory, per process; a Redis implementation of these methods can replace it for several nodes.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from veo.server.addresses import address_group, address_prefix


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
    #: The IPv6 /48 also counted (None for IPv4).
    prefix: str | None = None
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
        prefix_max_failures: int = 25,
        prefix_flood_max_failures: int = 2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not 1 <= flood_max_failures <= max_failures:
            raise ValueError("flood_max_failures must be between 1 and max_failures")
        if prefix_max_failures < max_failures or not 1 <= prefix_flood_max_failures <= prefix_max_failures:
            raise ValueError("a /48 must allow at least what one of its /64s may fail")
        self.max_failures = max_failures
        self.window = window_seconds
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_in_flight = max_in_flight
        self.flood_failures = flood_failures
        self.flood_max_failures = flood_max_failures
        self.prefix_max_failures = prefix_max_failures
        self.prefix_flood_max_failures = prefix_flood_max_failures
        self._clock = clock
        self._groups: dict[str, _Group] = {}
        #: Failure times per IPv6 /48 in the window, oldest first; never longer than its allowance.
        self._prefixes: dict[str, list[float]] = {}
        self._global = _WindowCount(window_seconds)
        self._sweep_above = 10_000
        self._swept_at = clock()

    # ------------------------------------------------------------------ reading

    def _pruned(self, key: str, now: float) -> _Group | None:
        group = self._groups.get(key)
        if group is not None and group.failures and group.failures[0] <= now - self.window:
            group.failures = [t for t in group.failures if t > now - self.window]
        return group

    def _prefix_failures(self, key: str | None, now: float) -> list[float]:
        """The failure times of /48 ``key`` still in the window (the stored list); [] for none or IPv4."""
        times = self._prefixes.get(key) if key is not None else None
        if key is None or times is None:
            return []
        if times[0] <= now - self.window:
            times = [t for t in times if t > now - self.window]
            if not times:
                del self._prefixes[key]
                return []
            self._prefixes[key] = times
        return times

    def failures(self, address: str) -> int:
        """Failures of ``address``'s group in the window, attempts still being looked up included."""
        group = self._pruned(address_group(address), self._clock())
        return len(group.failures) if group else 0

    def prefix_failures(self, address: str) -> int:
        """Failures of ``address``'s IPv6 /48 in the window; 0 for IPv4."""
        return len(self._prefix_failures(address_prefix(address), self._clock()))

    def flooded(self) -> bool:
        """Have all groups together failed ``flood_failures`` times in the window?"""
        return self._global.total(self._clock()) >= self.flood_failures

    def allowance(self) -> int:
        """Failures a group may have in the window now: fewer during a flood."""
        return self.flood_max_failures if self.flooded() else self.max_failures

    def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again: until enough of its (and its /48's) failures age out."""
        now = self._clock()
        group = self._pruned(address_group(address), now)
        prefix = self._prefix_failures(address_prefix(address), now)
        return self._wait(group.failures if group else [], prefix, now)

    def _wait(self, failures: list[float], prefix: list[float], now: float) -> float:
        """0 when one more attempt is allowed now, else the seconds until it will be."""
        flooded = self._global.total(now) >= self.flood_failures
        wait = 0.0
        for times, limit in (
            (failures, self.flood_max_failures if flooded else self.max_failures),
            (prefix, self.prefix_flood_max_failures if flooded else self.prefix_max_failures),
        ):
            if len(times) >= limit:
                wait = max(wait, times[len(times) - limit] + self.window - now, 1e-9)
        return wait

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
        return Slot(key, address_prefix(address))

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
        delay = self._delay(len(group.failures), flooded)
        prefix = self._prefix_failures(slot.prefix, now)
        wait = self._wait(group.failures, prefix, now)
        if wait > 0:
            return Decision(allowed=False, delay=delay, retry_after=wait)
        group.failures.append(now)
        if slot.prefix is not None:
            self._prefixes.setdefault(slot.prefix, []).append(now)
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
            prefix = self._prefixes.get(slot.prefix) if slot.prefix is not None else None
            if prefix is not None and slot.counted_at in prefix:
                prefix.remove(slot.counted_at)
                if not prefix and slot.prefix is not None:
                    del self._prefixes[slot.prefix]
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
        for prefix in list(self._prefixes):
            self._prefix_failures(prefix, now)  # drops the /48s with no failure left in the window
        self._sweep_above = max(10_000, 2 * len(self._groups))

    def tracked_groups(self) -> int:
        """How many address groups the limiter holds state for (for tests and the memory check)."""
        return len(self._groups)

    def tracked_prefixes(self) -> int:
        """How many IPv6 /48s the limiter holds failures for (for tests and the memory check)."""
        return len(self._prefixes)
