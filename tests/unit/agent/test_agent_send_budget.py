"""The send budget: a quiet stream is never held back; a congested one is paced to the target."""

from __future__ import annotations

import pytest

from veo.agent.pacing import BURST_SECONDS, FLOOR_BITRATE, SendBudget


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _stream(
    budget: SendBudget, clock: Clock, frames: int, nbytes: int, estimate: float, fps: float = 30
) -> None:
    """``frames`` frames of ``nbytes`` at ``fps``, each reported with ``estimate``."""
    for _ in range(frames):
        budget.spent(nbytes, estimate)
        clock.now += 1 / fps


def test_a_low_target_after_a_quiet_spell_does_not_hold_back_the_next_burst() -> None:
    """After typing, the receiver's estimate is ~1.5x what it got: no sign of a full link."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    _stream(budget, clock, 10, 400, 50_000, fps=8)  # typing; the estimate follows at 1.5x
    assert budget.delay() == 0.0
    for _ in range(5):  # then a scroll: 15 KB frames, the estimate unchanged (no new REMB yet)
        budget.spent(15_000, 50_000)
        clock.now += 1 / 30
        assert budget.delay() == 0.0 and not budget.limiting


def test_a_falling_target_below_the_send_rate_paces_captures_to_it() -> None:
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    _stream(budget, clock, 30, 15_000, 6_000_000)  # 3.6 Mbit/s, the link keeps up
    assert not budget.limiting and budget.delay() == 0.0
    budget.spent(15_000, 3_000_000)  # the receiver saw the queue grow: its estimate falls
    assert budget.limiting
    budget.spent(15_000, 3_000_000)
    budget.spent(15_000, 3_000_000)
    # 360 kbit in the bucket, 0.1 s of the estimate may be ahead
    assert budget.delay() == pytest.approx((360_000 - 3_000_000 * BURST_SECONDS) / 3_000_000)
    clock.now += 0.02
    assert budget.delay() == pytest.approx(0.0)


def test_pacing_ends_when_the_target_is_well_above_what_the_content_needs() -> None:
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    _stream(budget, clock, 30, 15_000, 6_000_000)
    budget.spent(15_000, 1_000_000)
    assert budget.limiting
    clock.now += 2.0  # the screen went quiet; the next REMB allows far more than typing needs
    budget.spent(400, 1_200_000)
    assert not budget.limiting and budget.delay() == 0.0


def test_an_estimate_stuck_below_the_send_rate_means_a_full_link() -> None:
    """A receiver that saw its queue grow holds its figure (it never rises): pace to it."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    # 1.9 Mbit/s into a link whose estimate stays at 650 kbit/s: the send rate passes it after
    # 12 frames (0.37 s), and 1.5 s later the estimate has still not risen
    _stream(budget, clock, 56, 8_000, 650_000)
    assert not budget.limiting
    _stream(budget, clock, 2, 8_000, 650_000)
    assert budget.limiting
    budget.spent(8_000, 650_000)  # two frames at once: more than 0.1 s of 650 kbit/s
    assert budget.delay() > 0


def test_an_estimate_that_keeps_rising_is_given_time() -> None:
    """After a quiet spell on a fast link the estimate climbs with every report: no pacing."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    estimate = 50_000.0
    for frame in range(150):  # 5 s of a 3.6 Mbit/s scroll
        if frame % 30 == 0:  # one report a second, 8 % up
            estimate *= 1.08
        budget.spent(15_000, estimate)
        clock.now += 1 / 30
    # the estimate rose at every report, never fell: the stream was never held back
    assert budget.delay() == 0.0


def test_pacing_never_goes_below_the_floor() -> None:
    """A collapsed estimate must not starve the stream: it could never climb back."""
    clock = Clock()
    budget = SendBudget(clock=clock, start_rate=None)
    _stream(budget, clock, 30, 8_000, 2_000_000)
    budget.spent(8_000, 40_000)  # falls far below what is sent
    assert budget.limiting
    budget.spent(8_000, 40_000)
    # 128 kbit in the bucket, 0.1 s of the floor may be ahead, drained at the floor, not at 40k
    assert budget.delay() == pytest.approx((128_000 - FLOOR_BITRATE * BURST_SECONDS) / FLOOR_BITRATE)


def test_no_estimate_yet_means_no_limit() -> None:
    budget = SendBudget(start_rate=None)
    budget.spent(50_000, None)
    assert not budget.limiting and budget.delay() == 0.0 and budget.sent_rate() == 400_000


def test_a_target_must_be_positive() -> None:
    with pytest.raises(ValueError):
        SendBudget().spent(100, 0)
