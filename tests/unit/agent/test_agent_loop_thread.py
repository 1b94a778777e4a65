"""The agent's event-loop thread: it runs what it is given, and the agent's threads hand the GIL
over quickly once it runs (a frame crosses four threads; the default 5 ms switch interval cost
1080p scrolling ~5 ms of latency, ``loop_thread.GIL_SWITCH_SECONDS``)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

from veo.agent.loop_thread import GIL_SWITCH_SECONDS, LoopThread


@pytest.fixture
def switch_interval() -> Iterator[None]:
    before = sys.getswitchinterval()
    yield
    sys.setswitchinterval(before)


@pytest.mark.usefixtures("switch_interval")
def test_the_loop_runs_coroutines_and_shortens_the_gil_switch_interval() -> None:
    sys.setswitchinterval(0.005)
    loop = LoopThread()
    loop.start()
    try:

        async def answer() -> int:
            return 42

        assert loop.submit(answer()).result(timeout=5) == 42
        assert sys.getswitchinterval() == pytest.approx(GIL_SWITCH_SECONDS)
    finally:
        loop.stop()
