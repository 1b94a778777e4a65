"""The join limiter on several nodes: two limiters sharing one Redis are one limiter (issue 16).

Each "node" is a ``RedemptionLimiter`` with its own Redis connection and the same key prefix, as
two ``veo server`` processes with one ``VEO_REDIS_URL``. An attacker who spreads joins over both
must get the tries of one node, however the joins are interleaved or timed.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from tests.unit.server.sessions.limiter_stores import REDIS_URL, Clock, Stores, closed_port, one, open_stores

from veo.config import Settings
from veo.server.sessions.ratelimit import LimiterUnavailable, RedemptionLimiter, create_limiter
from veo.server.sessions.ratelimit_memory import MemoryStore
from veo.server.sessions.ratelimit_redis import RedisStore

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def shared() -> AsyncIterator[Stores]:
    async with open_stores("redis") as chosen:
        yield chosen


async def test_tries_spread_over_two_nodes_add_up_to_one_nodes_allowance(shared: Stores) -> None:
    clock = Clock()
    nodes = [shared.make(max_failures=5, clock=clock) for _ in range(2)]
    decisions = [await one(nodes[i % 2], "192.0.2.1") for i in range(12)]
    assert [d.allowed for d in decisions] == [True] * 5 + [False] * 7  # 10 with a limiter per node
    # the growing delay too: each node waits as long as if it had seen every failure itself
    assert [d.delay for d in decisions[:5]] == [0.0, 0.5, 1.0, 2.0, 4.0]
    assert await nodes[0].failures("192.0.2.1") == await nodes[1].failures("192.0.2.1") == 5
    assert (await one(nodes[1], "192.0.2.1")).retry_after == 600.0
    # a right code on one node gives the try back on the other
    clock.now += 601
    assert (await one(nodes[0], "192.0.2.1", right=True)).allowed
    assert await nodes[1].failures("192.0.2.1") == 0


async def test_a_48_spread_over_two_nodes_gets_the_48s_allowance_once(shared: Stores) -> None:
    nodes = [shared.make(prefix_max_failures=25, flood_failures=10**6, clock=Clock()) for _ in range(2)]
    tries = [await one(nodes[n % 2], f"2001:db8:aa:{n:x}::1") for n in range(200)]
    assert sum(d.allowed for d in tries) == 25


async def test_a_flood_seen_by_one_node_tightens_the_other(shared: Stores) -> None:
    clock = Clock()
    first, second = (shared.make(flood_failures=10, flood_max_failures=2, clock=clock) for _ in range(2))
    for i in range(10):
        await one(first, f"198.51.100.{i}")
    assert await second.flooded()
    await one(second, "203.0.113.1")
    assert (await one(first, "203.0.113.1")).delay == second.max_delay
    assert not (await one(first, "203.0.113.1")).allowed  # two tries during a flood, over both nodes


@pytest.mark.parametrize("clocked", [True, False], ids=["test-clock", "redis-time"])
async def test_hundreds_of_joins_at_once_over_two_nodes_get_at_most_the_allowance(
    shared: Stores, clocked: bool
) -> None:
    """Issue 12's property across nodes: 400 joins in flight at once, half on each node, get 5 lookups."""
    clock = Clock() if clocked else None
    nodes = [shared.make(max_failures=5, max_in_flight=1000, clock=clock) for _ in range(2)]
    slots = await asyncio.gather(*(nodes[i % 2].enter("192.0.2.7") for i in range(400)))
    assert all(slot is not None for slot in slots)
    decisions = await asyncio.gather(
        *(nodes[i % 2].attempt(slot) for i, slot in enumerate(slots) if slot is not None)
    )
    assert sum(d.allowed for d in decisions) == 5
    assert await nodes[0].failures("192.0.2.7") == 5


async def test_joins_in_flight_are_shared_and_a_dead_nodes_slots_expire(shared: Stores) -> None:
    clock = Clock()
    dead, alive = (shared.make(max_in_flight=2, slot_lease_seconds=60, clock=clock) for _ in range(2))
    assert await dead.enter("192.0.2.1") is not None
    assert await alive.enter("192.0.2.1") is not None
    assert await alive.enter("192.0.2.1") is None  # two in flight over both nodes
    assert await dead.enter("192.0.2.1") is None
    await dead.close()  # the node dies holding its slot: it never leaves
    clock.now += 61  # its lease ends (the live node's slot too: it outlived the lease)
    assert await alive.enter("192.0.2.1") is not None
    assert await alive.enter("192.0.2.1") is not None
    assert await alive.enter("192.0.2.1") is None


async def test_the_keys_are_named_veo_limit_and_expire_with_the_window(shared: Stores) -> None:
    """Redis's memory is bounded by the window as the memory store's is: every key has a TTL."""
    limiter = shared.make(window_seconds=60)
    await one(limiter, "2001:db8:aa:1::1")
    slot = await limiter.enter("192.0.2.1")
    assert slot is not None
    keys = await shared.keys()
    assert sorted(key.removeprefix(shared.prefix) for key in keys) == [
        "limit:fail:2001:db8:aa:1::/64",
        "limit:flight:192.0.2.1",
        "limit:flood",
        "limit:p48:2001:db8:aa::/48",
    ]
    assert shared.client is not None
    for key in keys:
        assert 0 < await shared.client.pttl(key) <= 61_000, key
    await limiter.leave(slot)
    assert len(await shared.keys()) == 3  # a clean group's empty set is gone


async def test_an_unreachable_redis_refuses_plainly_and_never_counts_a_lookup() -> None:
    limiter = RedemptionLimiter(store=RedisStore.from_url(f"redis://127.0.0.1:{closed_port()}"))
    try:
        with pytest.raises(LimiterUnavailable):
            await limiter.enter("192.0.2.1")
        with pytest.raises(LimiterUnavailable):
            await limiter.failures("192.0.2.1")
    finally:
        await limiter.close()


async def test_the_settings_choose_the_store() -> None:
    """One node keeps the counts in memory; ``VEO_REDIS_URL`` puts them in Redis, under ``veo:limit:``."""
    assert isinstance(create_limiter(Settings(redis_url=None)).store, MemoryStore)
    limiter = create_limiter(Settings(redis_url=REDIS_URL))
    try:
        assert isinstance(limiter.store, RedisStore) and limiter.store.keys_start == "veo:limit:"
    finally:
        await limiter.close()
