"""The join limiter's counts in this process's memory: one node (``ratelimit.py`` has the rules).

No method awaits anything, so :meth:`MemoryStore.attempt` decides and counts with nothing in
between, as the rules require. Memory is bounded by the window, not by a flood: at most the
allowance of timestamps per address group and per IPv6 /48, and a sweep once per window (or when
the table doubled) drops what has nothing left in it.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from veo.server.sessions.ratelimit import Rules, Slot, Verdict


@dataclass
class _Group:
    #: Times of the counted failures in the window, oldest first; never longer than the allowance.
    failures: list[float] = field(default_factory=list)
    in_flight: int = 0


class _WindowCount:
    """How many events in the last ``window`` seconds, in a few dozen buckets instead of one entry each."""

    def __init__(self, buckets: int = 60) -> None:
        self.buckets = buckets
        self._buckets: deque[list[float]] = deque()  # [bucket start, count]
        self._total = 0.0

    def _prune(self, now: float, window: float) -> None:
        width = window / self.buckets
        while self._buckets and self._buckets[0][0] + width <= now - window:
            self._total -= self._buckets.popleft()[1]

    def add(self, now: float, window: float) -> None:
        width = window / self.buckets
        start = now - now % width
        if not self._buckets or self._buckets[-1][0] != start:
            self._buckets.append([start, 0.0])
        self._buckets[-1][1] += 1
        self._total += 1
        self._prune(now, window)

    def remove(self, at: float, window: float) -> None:
        """Take back one event counted at ``at`` (a forgiven attempt), if it is still counted."""
        width = window / self.buckets
        start = at - at % width
        for bucket in reversed(self._buckets):
            if bucket[0] == start:
                if bucket[1] > 0:
                    bucket[1] -= 1
                    self._total -= 1
                return

    def total(self, now: float, window: float) -> int:
        self._prune(now, window)
        return round(self._total)


def waiting(rules: Rules, failures: list[float], prefix: list[float], flooded: bool, now: float) -> float:
    """0 when one more attempt is allowed now, else the seconds until it will be."""
    wait = 0.0
    for times, limit in (
        (failures, rules.flood_max_failures if flooded else rules.max_failures),
        (prefix, rules.prefix_flood_max_failures if flooded else rules.prefix_max_failures),
    ):
        if len(times) >= limit:
            wait = max(wait, times[len(times) - limit] + rules.window - now, 1e-9)
    return wait


class MemoryStore:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._groups: dict[str, _Group] = {}
        #: Failure times per IPv6 /48 in the window, oldest first; never longer than its allowance.
        self._prefixes: dict[str, list[float]] = {}
        self._global = _WindowCount()
        self._sweep_above = 10_000
        self._swept_at: float | None = None

    def _time(self, now: float | None) -> float:
        return self._clock() if now is None else now

    # ------------------------------------------------------------------ reading

    def _pruned(self, key: str, now: float, window: float) -> _Group | None:
        group = self._groups.get(key)
        if group is not None and group.failures and group.failures[0] <= now - window:
            group.failures = [t for t in group.failures if t > now - window]
        return group

    def _prefix_failures(self, key: str | None, now: float, window: float) -> list[float]:
        """The failure times of /48 ``key`` still in the window (the stored list); [] for none or IPv4."""
        times = self._prefixes.get(key) if key is not None else None
        if key is None or times is None:
            return []
        if times[0] <= now - window:
            times = [t for t in times if t > now - window]
            if not times:
                del self._prefixes[key]
                return []
            self._prefixes[key] = times
        return times

    async def failures(self, rules: Rules, group: str, now: float | None) -> int:
        found = self._pruned(group, self._time(now), rules.window)
        return len(found.failures) if found else 0

    async def prefix_failures(self, rules: Rules, prefix: str | None, now: float | None) -> int:
        return len(self._prefix_failures(prefix, self._time(now), rules.window))

    async def total_failures(self, rules: Rules, now: float | None) -> int:
        return self._global.total(self._time(now), rules.window)

    async def retry_after(self, rules: Rules, group: str, prefix: str | None, now: float | None) -> float:
        at = self._time(now)
        found = self._pruned(group, at, rules.window)
        flooded = self._global.total(at, rules.window) >= rules.flood_failures
        times = self._prefix_failures(prefix, at, rules.window)
        return waiting(rules, found.failures if found else [], times, flooded, at)

    async def tracked_groups(self) -> int:
        return len(self._groups)

    async def tracked_prefixes(self) -> int:
        return len(self._prefixes)

    # ------------------------------------------------------------------ one join

    async def enter(self, rules: Rules, slot: Slot, now: float | None) -> bool:
        group = self._groups.get(slot.group)
        if group is None:
            at = self._time(now)
            if self._swept_at is None:
                self._swept_at = at
            if len(self._groups) >= self._sweep_above or at - self._swept_at >= rules.window:
                self._sweep(at, rules.window)
            group = self._groups[slot.group] = _Group()
        if group.in_flight >= rules.max_in_flight:
            return False
        group.in_flight += 1
        return True

    async def attempt(self, rules: Rules, slot: Slot, now: float | None) -> Verdict:
        at = self._time(now)
        group = self._pruned(slot.group, at, rules.window)
        if group is None:
            raise ValueError("attempt() needs a slot this store gave out")
        flooded = self._global.total(at, rules.window) >= rules.flood_failures
        failed = len(group.failures)
        prefix = self._prefix_failures(slot.prefix, at, rules.window)
        wait = waiting(rules, group.failures, prefix, flooded, at)
        if wait > 0:
            return Verdict(allowed=False, failed=failed, flooded=flooded, wait=wait)
        group.failures.append(at)
        if slot.prefix is not None:
            self._prefixes.setdefault(slot.prefix, []).append(at)
        self._global.add(at, rules.window)
        return Verdict(allowed=True, failed=failed, flooded=flooded, wait=0.0, counted_at=at)

    async def forgive(self, rules: Rules, slot: Slot) -> None:
        at = slot.counted_at
        group = self._groups.get(slot.group)
        if at is None or group is None or at not in group.failures:
            return
        group.failures.remove(at)
        self._global.remove(at, rules.window)
        prefix = self._prefixes.get(slot.prefix) if slot.prefix is not None else None
        if prefix is not None and at in prefix:
            prefix.remove(at)
            if not prefix and slot.prefix is not None:
                del self._prefixes[slot.prefix]

    async def leave(self, rules: Rules, slot: Slot) -> None:
        group = self._groups.get(slot.group)
        if group is None:
            return
        group.in_flight -= 1
        if group.in_flight == 0 and not group.failures:
            del self._groups[slot.group]

    async def close(self) -> None:
        """Nothing to release."""

    # ------------------------------------------------------------------ memory

    def _sweep(self, now: float, window: float) -> None:
        """Bound memory: drop groups with nothing in flight and no failure left in the window.

        Runs once per window, or sooner when the table doubled since the last sweep, so its cost
        per join stays constant however many groups a flood brings (the old sweep ran on every
        failure once 10,000 groups were held: quadratic work for a flood from many addresses).
        """
        self._swept_at = now
        for key in list(self._groups):
            group = self._pruned(key, now, window)
            if group is not None and group.in_flight == 0 and not group.failures:
                del self._groups[key]
        for prefix in list(self._prefixes):
            self._prefix_failures(prefix, now, window)  # drops the /48s with no failure left in the window
        self._sweep_above = max(10_000, 2 * len(self._groups))
