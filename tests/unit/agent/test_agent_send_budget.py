"""The send budget: a quiet stream is never held back; a congested one is paced to the target."""

from __future__ import annotations

import pytest

from veo.agent.pacing import BURST_SECONDS, SendBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_low_target_after_a_quiet_spell_does_not_hold_back_the_next_burst() -> None:
    """After typing, the receiver's estimate is ~1.5x what it got: no sign of a full link."""
    clock = Clock()
    budget = SendBudget(clock=clock)
    for _ in range(10):  # typing: 400-byte frames, the estimate follows at 1.5x
        budget.spent(400, 50_000)
        clock.now += 0.125
    assert budget.delay() == 0.0
    for _ in range(5):  # then a scroll: 15 KB frames, the estimate unchanged (no new REMB yet)
        budget.spent(15_000, 50_000)
        clock.now += 1 / 30
        assert budget.delay() == 0.0 and not budget.limiting


def test_a_falling_target_below_the_send_rate_paces_captures_to_it() -> None:
    clock = Clock()
    budget = SendBudget(clock=clock)
    for _ in range(30):  # 15 KB at 30 fps = 3.6 Mbit/s, the link keeps up
        budget.spent(15_000, 6_000_000)
        clock.now += 1 / 30
    assert not budget.limiting and budget.delay() == 0.0
    budget.spent(15_000, 1_000_000)  # the receiver saw the queue grow: its estimate falls
    assert budget.limiting
    # 120 kbit in the bucket, 100 kbit (0.1 s of the target) may be ahead: 20 ms to wait
    assert budget.delay() == pytest.approx((120_000 - 1_000_000 * BURST_SECONDS) / 1_000_000)
    clock.now += 0.02
    assert budget.delay() == pytest.approx(0.0)


def test_pacing_ends_when_the_target_is_well_above_what_the_content_needs() -> None:
    clock = Clock()
    budget = SendBudget(clock=clock)
    for _ in range(30):
        budget.spent(15_000, 6_000_000)
        clock.now += 1 / 30
    budget.spent(15_000, 1_000_000)
    assert budget.limiting
    clock.now += 2.0  # the screen went quiet; the next REMB allows far more than typing needs
    budget.spent(400, 1_200_000)
    assert not budget.limiting and budget.delay() == 0.0


def test_a_target_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SendBudget().spent(100, 0)
