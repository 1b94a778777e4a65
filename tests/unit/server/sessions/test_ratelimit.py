"""Redemption throttling, driven by a fake clock (no sleeping)."""

from __future__ import annotations

from veo.server.addresses import address_group
from veo.server.sessions.ratelimit import RedemptionLimiter


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_delay_grows_then_blocks_then_window_forgets() -> None:
    clock = Clock()
    limiter = RedemptionLimiter(max_failures=5, window_seconds=600, base_delay=0.5, max_delay=8, clock=clock)
    delays = []
    for _ in range(5):
        decision = limiter.check("192.0.2.1")
        assert decision.allowed
        delays.append(decision.delay)
        limiter.failure("192.0.2.1")
    assert delays == [0.0, 0.5, 1.0, 2.0, 4.0]
    blocked = limiter.check("192.0.2.1")
    assert not blocked.allowed and blocked.delay == 8.0
    assert limiter.check("192.0.2.2").allowed
    clock.now += 601
    assert limiter.check("192.0.2.1") == limiter.check("192.0.2.9")
    assert limiter.check("192.0.2.1").allowed


def test_global_budget_blocks_everyone() -> None:
    clock = Clock()
    limiter = RedemptionLimiter(max_failures=5, global_max_failures=10, clock=clock)
    for i in range(10):
        limiter.failure(f"198.51.100.{i}")
    assert not limiter.check("203.0.113.7").allowed
    clock.now += 601
    assert limiter.check("203.0.113.7").allowed


def test_ipv6_counts_per_64() -> None:
    assert address_group("2001:db8::1") == address_group("2001:db8::ffff")
    assert address_group("2001:db8:0:1::1") != address_group("2001:db8::1")
    assert address_group("::ffff:192.0.2.1") == "192.0.2.1"
    assert address_group("testclient") == "testclient"
    limiter = RedemptionLimiter(max_failures=2, clock=Clock())
    limiter.failure("2001:db8::1")
    limiter.failure("2001:db8::2")
    assert not limiter.check("2001:db8::3").allowed


def test_retry_after_says_when_the_oldest_failure_ages_out() -> None:
    """The refused user is told how long to wait: until the first of their failures leaves the window."""
    clock = Clock()
    limiter = RedemptionLimiter(max_failures=3, window_seconds=600, global_max_failures=100, clock=clock)
    assert limiter.retry_after("192.0.2.1") == 0.0
    for step in range(3):
        limiter.failure("192.0.2.1")
        clock.now += 100 if step < 2 else 50
    # failures at 1000, 1100, 1200; now 1250: the one at 1000 leaves the window at 1600
    assert not limiter.check("192.0.2.1").allowed
    assert limiter.retry_after("192.0.2.1") == 350.0
    assert limiter.retry_after("192.0.2.2") == 0.0
    clock.now += 350
    assert limiter.check("192.0.2.1").allowed and limiter.retry_after("192.0.2.1") == 0.0


def test_retry_after_of_the_global_budget() -> None:
    clock = Clock()
    limiter = RedemptionLimiter(max_failures=5, window_seconds=600, global_max_failures=4, clock=clock)
    for i in range(4):
        limiter.failure(f"198.51.100.{i}")
        clock.now += 10
    assert not limiter.check("203.0.113.7").allowed
    assert limiter.retry_after("203.0.113.7") == 560.0
