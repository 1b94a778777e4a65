"""The drawing's cadence: when a grab waits for the next drawing (``agent/cadence.py``), and the
track waiting for it only when the slot came while the screen changes continuously."""

from __future__ import annotations

import asyncio
import time
from typing import Literal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tests.unit.agent.test_agent_stream import FakeScreen, _stop, damage_track

from veo.agent.cadence import MARGIN_SECONDS, MAX_PERIOD_SECONDS, DrawCadence
from veo.agent.stream import REARM_SECONDS
from veo.tasks import spawn

HZ60 = 1 / 60


def _drawn_at(times: list[float]) -> DrawCadence:
    cadence = DrawCadence()
    for t in times:
        cadence.drawn(t)
    return cadence


def test_a_steady_60_hz_drawing_is_waited_for_when_the_last_one_is_old() -> None:
    cadence = _drawn_at([10 + i * HZ60 for i in range(6)])
    last = 10 + 5 * HZ60
    assert cadence.period() == pytest.approx(HZ60)
    # 10 ms after the last drawing the next one is due in 6.7 ms: wait for it (and a margin)
    assert cadence.wait(last + 0.010) == pytest.approx(HZ60 - 0.010 + MARGIN_SECONDS)
    # 2 ms after it the picture is fresh: grab now
    assert cadence.wait(last + 0.002) == 0.0
    # a period and more after it the drawing may have stopped: grab now
    assert cadence.wait(last + HZ60 + 2 * MARGIN_SECONDS) == 0.0


def test_irregular_drawing_typing_and_a_first_drawing_are_grabbed_at_once() -> None:
    irregular = _drawn_at([0.0, 0.005, 0.035, 0.047, 0.087, 0.095, 0.130])
    assert irregular.period() is None and irregular.wait(0.140) == 0.0
    typing = _drawn_at([i * 0.125 for i in range(10)])  # 8 characters a second
    assert typing.period() is None and typing.wait(1.2) == 0.0
    assert DrawCadence().wait(5.0) == 0.0
    assert _drawn_at([1.0]).wait(1.01) == 0.0


def test_requests_of_one_drawing_count_once_and_a_pause_starts_the_rhythm_again() -> None:
    cadence = DrawCadence()
    for i in range(6):
        cadence.drawn(i * HZ60)
        cadence.drawn(i * HZ60 + 0.0005)  # a second request of the same picture
    assert cadence.period() == pytest.approx(HZ60)
    cadence.drawn(5 * HZ60 + 2 * MAX_PERIOD_SECONDS + 0.01)  # a pause
    assert cadence.period() is None


@given(
    st.floats(0.003, MAX_PERIOD_SECONDS),
    st.lists(st.floats(-0.1, 0.1), min_size=8, max_size=12),
    st.floats(0.0, 0.2),
)
def test_a_grab_never_waits_longer_than_the_next_drawing_is_due(
    period: float, jitter: list[float], age: float
) -> None:
    times, t = [], 0.0
    for j in jitter:
        t += period * (1 + j)
        times.append(t)
    cadence = _drawn_at(times)
    wait = cadence.wait(times[-1] + age)
    assert wait >= 0.0
    found = cadence.period()
    if wait > 0:
        assert found is not None and age + wait <= found + MARGIN_SECONDS + 1e-9


async def test_the_track_waits_at_its_slot_for_the_next_drawing_and_grabs_right_after_it() -> None:
    """At a slot while drawings come every 45 ms, the last 30 ms ago, the grab waits for the
    next one (not the next keep-alive or a timeout) and takes the picture it drew."""
    screen = FakeScreen(64, 48)
    track, watchers = damage_track(screen, fps=1000.0)
    try:
        track.allow()
        await track.recv()
        loop = asyncio.get_running_loop()
        period = 0.045
        for i in range(6):
            track._cadence.drawn(loop.time() - 0.030 - (5 - i) * period)
        assert track._cadence.period() is not None
        waiting = spawn(track._await_next_draw(), name="test-await-draw")
        await asyncio.sleep(0.005)
        assert not waiting.done()  # waiting for the drawing that is due
        screen.pixels[1:3, 1:3, 1] = 200
        watchers[0].on_damage()
        await asyncio.wait_for(waiting, 5)
        assert track._cadence.wait(loop.time()) == 0.0  # the drawing just seen is fresh
    finally:
        _stop(track)


async def test_the_track_does_not_wait_for_a_drawing_while_the_send_budget_holds_frames() -> None:
    screen = FakeScreen(64, 48)
    track, _ = damage_track(screen, fps=1000.0)
    try:
        loop = asyncio.get_running_loop()
        for i in range(6):
            track._cadence.drawn(loop.time() - 0.030 - (5 - i) * 0.045)
        assert track._cadence.wait(loop.time()) > 0
        track.budget.delay = lambda: 0.5  # type: ignore[method-assign]  # a full link
        waited: list[bool] = []

        async def wait() -> Literal[True]:
            waited.append(True)
            return True

        track._changed.wait = wait  # type: ignore[method-assign]
        await track._await_next_draw()
        assert waited == []
        track.budget.delay = lambda: 0.0  # type: ignore[method-assign]  # the link has room again
        await track._await_next_draw()
        assert waited == [True]
    finally:
        _stop(track)


async def test_a_flood_of_drawings_arms_the_watcher_again_at_most_every_two_milliseconds() -> None:
    """A terminal printing fast draws thousands of times a second: the watcher is not armed
    again (one X request, one more event) for each, but at most every ``REARM_SECONDS``, and the
    last drawing of a flood still arms it (later), so the next drawing is seen."""
    screen = FakeScreen(64, 48)
    track, watchers = damage_track(screen, fps=1000.0)
    try:
        track.allow()
        await track.recv()
        watcher = watchers[0]
        before = watcher.rearmed
        started = time.monotonic()
        for _ in range(2000):
            watcher.on_damage()
        elapsed = time.monotonic() - started
        assert watcher.rearmed - before <= 1 + elapsed / REARM_SECONDS  # not one per drawing
        await asyncio.sleep(REARM_SECONDS * 5)
        assert track._rearm_due is None and watcher.rearmed > before  # the flood's last one armed it
    finally:
        _stop(track)
