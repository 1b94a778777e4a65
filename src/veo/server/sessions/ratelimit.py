"""Throttling of join-code redemption: per address group, counted before the lookup, on every node.

A 9-digit code is only safe if nobody can try many of them. Each address group (IPv6 by /64, as
``veo.server.addresses`` says) may fail a few times per window (default 5 per 10 minutes); before
answering a group that already failed, the hub waits ``base_delay * 2**(failures-1)`` seconds
(capped), so scripted guessing slows down at once. Join codes, continuation codes (a browser share
taken over by the app) and rejoin tokens all pass through here (``join.py``).

**Counted before the lookup.** :meth:`RedemptionLimiter.attempt` decides and counts in one step:
an allowed attempt is a failure from that moment, and only a right code is forgiven afterwards
(:meth:`forgive`). Hundreds of joins sent at once from one address therefore get at most
``max_failures`` lookups, whatever the timing (issue 12: a counter that was told of the failure
after the lookup let every join in flight through). The memory store does it with no ``await``
between deciding and counting; the Redis store does it in one Lua script, which Redis runs with
nothing else in between, so joins spread over several nodes cannot all pass before one is counted.

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
connections are refused at once instead of each waiting its turn in memory. A slot is also a
lease of ``slot_lease_seconds``: on Redis, the slots of a node that died holding them expire
instead of closing the door of their address group for good. A join that outlives its lease (longer
than the join timeout and the longest delay together) merely stops counting as in flight; its
attempt stays counted.

**A flood slows the flood.** When the failures of all groups together reach ``flood_failures`` in
the window, groups that already failed get only ``flood_max_failures`` tries and the longest delay.
A group with no failure in the window (a user typing a code read over the phone) is never refused
and never delayed (unless its IPv6 /48 used up the /48's tries, above): the old global budget
refused everyone, valid codes included, which made a flood a server-wide denial of service.

**Where the counts live.** One node keeps them in memory (``ratelimit_memory.py``, the default
without ``VEO_REDIS_URL``). Several nodes keep them in Redis (``ratelimit_redis.py``, keys
``veo:limit:...``), so an attacker who spreads joins over N nodes gets the tries of one, not N
times as many. The rules (the allowances, the delay, what a slot may do) are in this module, once,
and given to the store with each call.

**Time.** Tests inject a ``clock`` and move it instead of sleeping; the store then uses that time.
Without one, the memory store reads ``time.monotonic`` and the Redis store reads Redis's own clock
inside its script: the nodes' clocks may differ by seconds, and one clock for all the counts means
a node whose clock is ahead cannot age out another node's failures early.

**Redis unreachable.** Every store error becomes :class:`LimiterUnavailable`, which ``join.py``
answers with a plain refusal (``server_unavailable``): no code is looked up without being counted
(fail closed), and the agent never sees a trace. Freeing a slot or forgiving a right code when
Redis is gone is only logged: the slot's lease expires, and the forgiven failure ages out.
"""

from __future__ import annotations

import logging
import math
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from veo.server.addresses import address_group, address_prefix

if TYPE_CHECKING:
    from veo.config import Settings

log = logging.getLogger(__name__)


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
    #: Names the slot in a shared store (its lease, its counted failure).
    id: str = field(default_factory=lambda: secrets.token_hex(8))


@dataclass(frozen=True)
class Rules:
    """The limits, checked once; every store applies these and only these."""

    max_failures: int = 5
    window: float = 600.0
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_in_flight: int = 4
    flood_failures: int = 200
    flood_max_failures: int = 2
    prefix_max_failures: int = 25
    prefix_flood_max_failures: int = 2
    slot_lease: float = 60.0

    def __post_init__(self) -> None:
        if not 1 <= self.flood_max_failures <= self.max_failures:
            raise ValueError("flood_max_failures must be between 1 and max_failures")
        if self.prefix_max_failures < self.max_failures or not (
            1 <= self.prefix_flood_max_failures <= self.prefix_max_failures
        ):
            raise ValueError("a /48 must allow at least what one of its /64s may fail")

    def delay(self, failed: int, flooded: bool) -> float:
        """The wait before answering a group that failed ``failed`` times in the window."""
        if failed == 0:
            return 0.0
        if flooded:
            return self.max_delay
        return min(self.max_delay, self.base_delay * 2.0 ** (failed - 1))


@dataclass(frozen=True)
class Verdict:
    """What a store decided for one attempt (the delay is the rules' business)."""

    allowed: bool
    #: The group's failures in the window before this attempt.
    failed: int
    flooded: bool
    #: 0 when allowed, else seconds until one more attempt would be.
    wait: float
    #: When the attempt was counted (the store's time), if allowed.
    counted_at: float | None = None


class LimitStore(Protocol):
    """Where the counts live. ``now`` is the injected clock's time, or None for the store's own."""

    async def enter(self, rules: Rules, slot: Slot, now: float | None) -> bool: ...

    async def attempt(self, rules: Rules, slot: Slot, now: float | None) -> Verdict: ...

    async def forgive(self, rules: Rules, slot: Slot) -> None: ...

    async def leave(self, rules: Rules, slot: Slot) -> None: ...

    async def failures(self, rules: Rules, group: str, now: float | None) -> int: ...

    async def prefix_failures(self, rules: Rules, prefix: str | None, now: float | None) -> int: ...

    async def total_failures(self, rules: Rules, now: float | None) -> int: ...

    async def retry_after(self, rules: Rules, group: str, prefix: str | None, now: float | None) -> float: ...

    async def tracked_groups(self) -> int: ...

    async def tracked_prefixes(self) -> int: ...

    async def close(self) -> None: ...


class LimiterUnavailable(RuntimeError):
    """The shared store could not be reached (raised by the store for its own errors, never a bug's):
    the join is refused, nothing was looked up."""


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
        slot_lease_seconds: float = 60.0,
        clock: Callable[[], float] | None = None,
        store: LimitStore | None = None,
    ) -> None:
        self.rules = Rules(
            max_failures=max_failures,
            window=window_seconds,
            base_delay=base_delay,
            max_delay=max_delay,
            max_in_flight=max_in_flight,
            flood_failures=flood_failures,
            flood_max_failures=flood_max_failures,
            prefix_max_failures=prefix_max_failures,
            prefix_flood_max_failures=prefix_flood_max_failures,
            slot_lease=slot_lease_seconds,
        )
        if store is None:
            from veo.server.sessions.ratelimit_memory import MemoryStore

            store = MemoryStore()
        self.store = store
        self._clock = clock
        #: Slots this limiter gave out: only those may attempt.
        self._issued: weakref.WeakSet[Slot] = weakref.WeakSet()

    @property
    def max_failures(self) -> int:
        return self.rules.max_failures

    @property
    def max_delay(self) -> float:
        return self.rules.max_delay

    @property
    def window(self) -> float:
        return self.rules.window

    def _now(self) -> float | None:
        return self._clock() if self._clock is not None else None

    # ------------------------------------------------------------------ reading

    async def failures(self, address: str) -> int:
        """Failures of ``address``'s group in the window, attempts still being looked up included."""
        return await self.store.failures(self.rules, address_group(address), self._now())

    async def prefix_failures(self, address: str) -> int:
        """Failures of ``address``'s IPv6 /48 in the window; 0 for IPv4."""
        return await self.store.prefix_failures(self.rules, address_prefix(address), self._now())

    async def flooded(self) -> bool:
        """Have all groups together failed ``flood_failures`` times in the window?"""
        return await self.store.total_failures(self.rules, self._now()) >= self.rules.flood_failures

    async def allowance(self) -> int:
        """Failures a group may have in the window now: fewer during a flood."""
        return self.rules.flood_max_failures if await self.flooded() else self.rules.max_failures

    async def retry_after(self, address: str) -> float:
        """Seconds until ``address`` may try again: until enough of its (and its /48's) failures age out."""
        return await self.store.retry_after(
            self.rules, address_group(address), address_prefix(address), self._now()
        )

    def busy_retry_after(self) -> float:
        """What a join refused for too many in flight is told: about one longest delay."""
        return float(max(1, math.ceil(self.rules.max_delay)))

    async def tracked_groups(self) -> int:
        """How many address groups the store holds state for (for tests and the memory check)."""
        return await self.store.tracked_groups()

    async def tracked_prefixes(self) -> int:
        """How many IPv6 /48s the store holds failures for (for tests and the memory check)."""
        return await self.store.tracked_prefixes()

    # ------------------------------------------------------------------ one join

    async def enter(self, address: str) -> Slot | None:
        """A slot for a join from ``address`` now, or None when its group has too many in flight."""
        slot = Slot(address_group(address), address_prefix(address))
        if not await self.store.enter(self.rules, slot, self._now()):
            return None
        self._issued.add(slot)
        return slot

    async def attempt(self, slot: Slot) -> Decision:
        """May this join's code be looked up, and after how long; if so it counts as a failure NOW.

        Deciding and counting are one step in the store, so parallel joins (on any node) cannot
        all pass before any of them is counted.
        """
        if slot not in self._issued or not slot.open or slot.counted_at is not None:
            raise ValueError("attempt() needs an open slot that has not tried yet")
        verdict = await self.store.attempt(self.rules, slot, self._now())
        delay = self.rules.delay(verdict.failed, verdict.flooded)
        if not verdict.allowed:
            return Decision(allowed=False, delay=delay, retry_after=verdict.wait)
        slot.counted_at = verdict.counted_at
        return Decision(allowed=True, delay=delay)

    async def forgive(self, slot: Slot) -> None:
        """The code was right: the attempt counted by :meth:`attempt` was no failure after all."""
        if slot.counted_at is None:
            return
        try:
            await self.store.forgive(self.rules, slot)
        except LimiterUnavailable as exc:  # the failure stays counted until it ages out
            log.warning("could not forgive a right code's attempt: %s", exc)
        slot.counted_at = None

    async def leave(self, slot: Slot) -> None:
        """The join was answered (or its connection dropped): free its place. Safe to call twice."""
        if not slot.open:
            return
        slot.open = False
        try:
            await self.store.leave(self.rules, slot)
        except LimiterUnavailable as exc:  # its lease frees the place
            log.warning("could not free a join's place: %s", exc)

    async def close(self) -> None:
        await self.store.close()


def create_limiter(settings: Settings) -> RedemptionLimiter:
    """Redis when ``VEO_REDIS_URL`` is set (several nodes share the counts), else memory."""
    if not settings.redis_url:
        return RedemptionLimiter()
    from veo.server.sessions.ratelimit_redis import RedisStore

    return RedemptionLimiter(store=RedisStore.from_url(settings.redis_url))
