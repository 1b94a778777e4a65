"""Reconnect delays: exponential ceilings, capped, every wait drawn between 0 and the ceiling."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from veo.agent.device.backoff import CAP_SECONDS, JitterBackoff


def test_ceilings_double_up_to_the_cap_and_reset() -> None:
    backoff = JitterBackoff(uniform=lambda low, high: high)
    assert [backoff.next() for _ in range(9)] == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    backoff.reset()
    assert backoff.next() == 1


def test_full_jitter_can_be_zero() -> None:
    backoff = JitterBackoff(uniform=lambda low, high: low)
    assert backoff.next() == 0.0


@given(st.integers(min_value=0, max_value=200))
def test_every_wait_is_within_its_bounds(attempts: int) -> None:
    backoff = JitterBackoff()
    backoff.attempts = attempts
    ceiling = backoff.ceiling()
    delay = backoff.next()
    assert 0.0 <= delay <= ceiling <= CAP_SECONDS
