"""Redemption throttling, driven by a fake clock (no sleeping), on the memory store and on Redis.

Every rule is asserted from one test body on both stores: the Redis store must decide exactly as
the memory one does, only shared by every node.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from tests.unit.server.sessions.limiter_stores import Clock, Make, Stores, one, open_stores

from veo.server.addresses import address_group
from veo.server.sessions.ratelimit import Decision, RedemptionLimiter, Slot

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(params=["memory", "redis"])
async def stores(request: pytest.FixtureRequest) -> AsyncIterator[Stores]:
    async with open_stores(request.param) as chosen:
        yield chosen


@pytest.fixture
def make(stores: Stores) -> Make:
    return stores.make


async def allowed(limiter: RedemptionLimiter, address: str, *, right: bool = False) -> bool:
    return (await one(limiter, address, right=right)).allowed


async def test_delay_grows_then_blocks_then_window_forgets(make: Make) -> None:
    clock = Clock()
    limiter = make(max_failures=5, window_seconds=600, base_delay=0.5, max_delay=8, clock=clock)
    decisions = [await one(limiter, "192.0.2.1") for _ in range(5)]
    assert all(d.allowed for d in decisions)
    assert [d.delay for d in decisions] == [0.0, 0.5, 1.0, 2.0, 4.0]
    blocked = await one(limiter, "192.0.2.1")
    assert not blocked.allowed and blocked.delay == 8.0 and blocked.retry_after == 600.0
    assert await allowed(limiter, "192.0.2.2")
    clock.now += 601
    assert await one(limiter, "192.0.2.1") == Decision(allowed=True, delay=0.0)


async def test_parallel_attempts_are_counted_before_any_lookup(make: Make) -> None:
    """The race of issue 12: 100 joins in flight at once get 5 lookups, not 100."""
    limiter = make(max_failures=5, max_in_flight=1000, clock=Clock())
    slots = [await limiter.enter("192.0.2.1") for _ in range(100)]
    decisions = [await limiter.attempt(slot) for slot in slots if slot is not None]  # no answer came back yet
    assert len(decisions) == 100
    assert sum(d.allowed for d in decisions) == 5
    assert await limiter.failures("192.0.2.1") == 5


async def test_a_right_code_is_forgiven_and_a_wrong_one_stays_counted(make: Make) -> None:
    limiter = make(max_failures=3, clock=Clock())
    assert await allowed(limiter, "192.0.2.1", right=True)
    assert await limiter.failures("192.0.2.1") == 0
    assert await limiter.tracked_groups() == 0  # a clean address leaves nothing behind
    await one(limiter, "192.0.2.1")
    assert await limiter.failures("192.0.2.1") == 1


async def test_a_dropped_connection_keeps_its_attempt_counted(make: Make) -> None:
    """Leaving without an answer (the client hung up during the wait) is no way to get a try back."""
    limiter = make(max_failures=2, clock=Clock())
    slot = await limiter.enter("192.0.2.1")
    assert slot is not None and (await limiter.attempt(slot)).allowed
    await limiter.leave(slot)
    await limiter.leave(slot)  # twice is harmless
    assert await limiter.failures("192.0.2.1") == 1


async def test_joins_in_flight_are_capped_per_group(make: Make) -> None:
    limiter = make(max_in_flight=2, clock=Clock())
    first, second = await limiter.enter("2001:db8::1"), await limiter.enter("2001:db8::2")  # one /64
    assert first is not None and second is not None
    assert await limiter.enter("2001:db8::3") is None
    assert await limiter.enter("2001:db8:0:1::1") is not None  # another /64
    await limiter.leave(first)
    assert await limiter.enter("2001:db8::3") is not None
    assert limiter.busy_retry_after() >= 1


async def test_attempt_needs_a_fresh_open_slot(make: Make) -> None:
    limiter = make(clock=Clock())
    slot = await limiter.enter("192.0.2.1")
    assert slot is not None
    await limiter.attempt(slot)
    with pytest.raises(ValueError):
        await limiter.attempt(slot)
    with pytest.raises(ValueError):
        await limiter.attempt(Slot(address_group("192.0.2.9")))


async def test_a_flood_tightens_failed_addresses_and_never_refuses_a_clean_one(make: Make) -> None:
    """Both halves of item 2: the flood is slowed, users in good standing are not refused or delayed."""
    clock = Clock()
    limiter = make(max_failures=5, flood_failures=10, flood_max_failures=2, max_delay=8, clock=clock)
    for i in range(5):
        await one(limiter, f"198.51.100.{i}")
        await one(limiter, f"198.51.100.{i}")
    assert await limiter.flooded()
    # an address that failed twice would have 3 more tries; during the flood it has none, and waits longest
    refused = await one(limiter, "198.51.100.0")
    assert not refused.allowed and refused.delay == 8.0 and refused.retry_after == 600.0
    # a clean one is answered at once; after one failure it has one more try, after the longest delay
    once = "198.51.100.77"
    first = await one(limiter, once)
    assert first == Decision(allowed=True, delay=0.0)  # clean: no wait, never refused
    second = await one(limiter, once)
    assert second.allowed and second.delay == 8.0
    assert not await allowed(limiter, once)
    # many clean addresses during the flood: each one joins at once
    for i in range(50):
        assert await one(limiter, f"203.0.113.{i}", right=True) == Decision(True, 0.0)
    clock.now += 611  # the flood's count is kept in 10 s buckets: it may linger up to one more
    assert not await limiter.flooded()
    assert await allowed(limiter, "198.51.100.0")


async def test_forgiven_attempts_do_not_feed_the_flood(make: Make) -> None:
    limiter = make(flood_failures=3, clock=Clock())
    for i in range(10):
        await one(limiter, f"203.0.113.{i}", right=True)
    assert not await limiter.flooded()


async def test_ipv6_counts_per_64(make: Make) -> None:
    assert address_group("2001:db8::1") == address_group("2001:db8::ffff")
    assert address_group("2001:db8:0:1::1") != address_group("2001:db8::1")
    assert address_group("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_group("testclient") == "testclient"
    limiter = make(max_failures=2, clock=Clock())
    await one(limiter, "2001:db8::1")
    await one(limiter, "2001:db8::2")
    assert not await allowed(limiter, "2001:db8::3")


async def test_retry_after_says_when_the_oldest_failure_ages_out(make: Make) -> None:
    """The refused user is told how long to wait: until the first of their failures leaves the window."""
    clock = Clock()
    limiter = make(max_failures=3, window_seconds=600, clock=clock)
    assert await limiter.retry_after("192.0.2.1") == 0.0
    for step in range(3):
        await one(limiter, "192.0.2.1")
        clock.now += 100 if step < 2 else 50
    # failures at 1000, 1100, 1200; now 1250: the one at 1000 leaves the window at 1600
    refused = await one(limiter, "192.0.2.1")
    assert not refused.allowed and refused.retry_after == 350.0
    assert await limiter.retry_after("192.0.2.1") == 350.0
    assert await limiter.retry_after("192.0.2.2") == 0.0
    clock.now += 350
    assert await allowed(limiter, "192.0.2.1")


async def test_memory_is_bounded_by_the_window_not_by_the_flood() -> None:
    """Groups with nothing left in the window are dropped by a sweep once per window (memory store;
    Redis expires its keys, ``test_ratelimit_nodes.py``)."""
    clock = Clock()
    limiter = RedemptionLimiter(window_seconds=60, clock=clock)
    for i in range(12_000):
        await one(limiter, f"10.{i // 65536}.{i // 256 % 256}.{i % 256}")
    assert await limiter.tracked_groups() == 12_000  # all still in their window
    for i in range(100):
        await one(limiter, f"172.16.0.{i}", right=True)
    assert await limiter.tracked_groups() == 12_000  # clean joins leave nothing behind
    clock.now += 61
    await one(limiter, "192.0.2.1")
    assert await limiter.tracked_groups() == 1


def test_flood_allowance_must_be_sane() -> None:
    with pytest.raises(ValueError):
        RedemptionLimiter(max_failures=5, flood_max_failures=0)


def slash64(n: int, site: str = "2001:db8:aa") -> str:
    """An address in the n-th /64 of an IPv6 /48 (``site``: its first 48 bits)."""
    return f"{site}:{n:x}::1"


async def test_a_48_spraying_from_many_64s_gets_a_bounded_number_of_tries(make: Make) -> None:
    """One /48 is 65,536 /64s: counted one by one they were 65,536 budgets (~13 hours to a live code)."""
    clock = Clock()
    limiter = make(max_failures=5, prefix_max_failures=25, flood_failures=10**6, clock=clock)
    # 2,000 /64s, 80 times the /48's budget, make the point as 10,000 did in a fifth of the
    # round trips (10,000 was 12-18 s on Redis, the slowest unit test)
    decisions = [await one(limiter, slash64(n)) for n in range(2_000)]
    assert sum(d.allowed for d in decisions) == 25  # 2,000 without the /48 count
    assert await limiter.prefix_failures(slash64(0)) == 25
    # a /64 of that /48 that never failed is refused too (a free first try each is 65,536 tries),
    # told when the /48's oldest failure leaves the window
    fresh = await one(limiter, slash64(40_000))
    assert not fresh.allowed and fresh.retry_after == 600.0 and fresh.delay == 0.0
    # ... while a clean user in another /48, or on IPv4, joins at once, without waiting
    clean = await one(limiter, slash64(1, site="2001:db8:bb"), right=True)
    assert clean == Decision(allowed=True, delay=0.0)
    assert await one(limiter, "192.0.2.1", right=True) == Decision(allowed=True, delay=0.0)
    clock.now += 601  # the window forgets the /48's failures
    assert await allowed(limiter, slash64(40_000))


async def test_a_48_spraying_during_a_flood_gets_two_tries_like_one_address(make: Make) -> None:
    clock = Clock()
    limiter = make(flood_failures=10, flood_max_failures=2, prefix_flood_max_failures=2, clock=clock)
    for i in range(10):
        await one(limiter, f"198.51.100.{i}")
    assert await limiter.flooded()
    assert sum([await allowed(limiter, slash64(n)) for n in range(1_000)]) == 2
    clean = await one(limiter, slash64(1, site="2001:db8:bb"), right=True)
    assert clean == Decision(allowed=True, delay=0.0)


async def test_right_codes_from_a_48_do_not_use_its_tries(make: Make) -> None:
    limiter = make(prefix_max_failures=5, clock=Clock())
    for n in range(50):
        assert await allowed(limiter, slash64(n), right=True)
    assert await limiter.prefix_failures(slash64(0)) == 0 and await limiter.tracked_prefixes() == 0
    for n in range(5):
        await one(limiter, slash64(n))
    assert not await allowed(limiter, slash64(99), right=True)


async def test_ipv4_has_no_coarser_count(make: Make) -> None:
    """256 addresses of one /24 (a corporate NAT pool, a cloud's tenants) each keep their own tries."""
    limiter = make(max_failures=5, flood_failures=10**6, clock=Clock())
    tries = [await allowed(limiter, f"198.51.100.{i}") for i in range(256) for _ in range(6)]
    assert sum(tries) == 5 * 256
    assert await limiter.prefix_failures("198.51.100.1") == 0 and await limiter.tracked_prefixes() == 0
    mapped = make(max_failures=1, flood_max_failures=1, prefix_max_failures=1, prefix_flood_max_failures=1)
    assert all([await allowed(mapped, f"::ffff:198.51.100.{i}") for i in range(10)])  # mapped IPv4 alike


async def test_the_48_counts_are_swept_with_the_window() -> None:
    """Memory store; Redis expires its keys (``test_ratelimit_nodes.py``)."""
    clock = Clock()
    limiter = RedemptionLimiter(window_seconds=60, clock=clock)
    for n in range(3_000):
        await one(limiter, slash64(n, site=f"2001:db8:{n:x}"))  # 3,000 /48s, one failure each
    assert await limiter.tracked_prefixes() == 3_000
    clock.now += 61
    await one(limiter, "192.0.2.1")
    assert await limiter.tracked_prefixes() == 0 and await limiter.tracked_groups() == 1


def test_a_48_allows_at_least_what_one_64_may_fail() -> None:
    with pytest.raises(ValueError):
        RedemptionLimiter(max_failures=5, prefix_max_failures=4)
    with pytest.raises(ValueError):
        RedemptionLimiter(prefix_flood_max_failures=0)
