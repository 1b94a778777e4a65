"""The pacer's adaptive cap (by what frames cost) and its grid after a quiet spell; injected clock."""

from __future__ import annotations

import asyncio
import time

import pytest
from tests.unit.agent.test_agent_stream import FakeScreen, _stop, damage_track

from veo.agent.capture.base import Size
from veo.agent.pacing import BUSY_SHARE, CPU_SHARE, HIGH_FPS, LOW_FPS, Pacer, polling_fps


def _pacer(max_fps: float = HIGH_FPS, adaptive: bool = True) -> tuple[Pacer, list[float]]:
    clock = [100.0]
    return Pacer(max_fps, clock=lambda: clock[0], adaptive=adaptive), clock


def test_a_cheap_frame_goes_out_at_the_high_rate() -> None:
    pacer, _ = _pacer()
    pacer.spent(0.004)  # a typed letter at 1080p: grab, compare, a patch, a small encode
    assert pacer.interval == pytest.approx(1 / HIGH_FPS)


def test_a_costly_frame_backs_off_by_its_cost_down_to_the_low_rate() -> None:
    pacer, _ = _pacer()
    pacer.spent(0.010)
    assert pacer.interval == pytest.approx(0.010 / BUSY_SHARE)
    assert 1 / LOW_FPS > pacer.interval > 1 / HIGH_FPS
    pacer.spent(0.050)  # 4K, or a loaded machine: never below the low rate for the cost alone
    assert pacer.interval == pytest.approx(1 / LOW_FPS)
    pacer.spent(0.002)  # the next cheap frame: back up at once
    assert pacer.interval == pytest.approx(1 / HIGH_FPS)


def test_a_frame_costly_in_cpu_backs_off_to_its_share_of_a_core() -> None:
    """A frame quick in wall time (its work spread over x264's and swscale's threads) that took
    9 ms of the process's CPU waits 9 / CPU_SHARE ms: a cheaper frame lowers the user's CPU
    at the same rate instead of buying more frames."""
    pacer, _ = _pacer()
    pacer.spent(0.006, cpu=0.009)
    assert pacer.interval == pytest.approx(0.009 / CPU_SHARE)
    assert pacer.interval > 0.006 / BUSY_SHARE
    pacer.spent(0.006, cpu=0.020)  # 4K: never below the low rate for the CPU either
    assert pacer.interval == pytest.approx(1 / LOW_FPS)
    pacer.spent(0.003, cpu=0.004)  # a typed letter: the high rate
    assert pacer.interval == pytest.approx(1 / HIGH_FPS)


def test_a_fixed_rate_ignores_the_cost() -> None:
    pacer, _ = _pacer(max_fps=20.0, adaptive=False)
    pacer.spent(0.2)
    assert pacer.interval == pytest.approx(1 / 20)
    pacer.set_max_fps(10.0, adaptive=True)  # a user's cap below the low rate stays the floor
    pacer.spent(0.001)
    assert pacer.interval == pytest.approx(1 / 10)


def test_polling_keeps_the_rate_by_picture_size() -> None:
    assert polling_fps(Size(1280, 720)) == HIGH_FPS
    assert polling_fps(Size(1920, 1080)) == LOW_FPS


@pytest.mark.parametrize("quiet", [1 / HIGH_FPS * 0.75, 1 / HIGH_FPS * 1.2, 1 / HIGH_FPS * 1.6, 0.3, 5.0])
def test_a_capture_after_a_quiet_spell_happens_at_once(quiet: float) -> None:
    """Past the slot, however little, nothing waits: neither the first capture after a pause nor
    one that comes a little after the slot (the grid only moves the *next* slot earlier)."""
    pacer, clock = _pacer()
    pacer.spent(0.003)
    for _ in range(5):  # a burst of changes at the cap
        clock[0] += pacer.delay()
        pacer.captured()
    clock[0] += 1 / HIGH_FPS + quiet
    assert pacer.delay() == 0.0
    pacer.captured()
    assert pacer.delay() <= 1 / HIGH_FPS + 1e-9  # and the next slot is never later than a full interval


def test_after_a_costly_frame_the_next_waits_only_for_the_rest_of_its_interval() -> None:
    pacer, clock = _pacer()
    pacer.captured()
    pacer.spent(0.012)  # known once the frame was sent, 12 ms later
    clock[0] += 0.012
    assert pacer.delay() == pytest.approx(0.012 / BUSY_SHARE - 0.012)


class SlowScreen(FakeScreen):
    def grab(self) -> bytes:
        time.sleep(0.01)  # at least 10 ms a grab
        return super().grab()


async def test_the_track_tells_the_pacer_what_each_frame_cost() -> None:
    screen = SlowScreen(64, 48)
    track, watchers = damage_track(screen)
    try:
        track.allow()
        await track.recv()
        assert track._pacer.adaptive and track._pacer.interval == pytest.approx(1 / HIGH_FPS)
        screen.pixels[0:2, 0:2, 0] = 255
        watchers[0].on_damage()
        await asyncio.wait_for(track.recv(), 30)  # the first frame was "sent" when this was asked
        assert track._pacer.interval >= 0.01 / BUSY_SHARE
        assert track._pacer._cpu > 0  # and what it cost the process's CPU
    finally:
        _stop(track)
