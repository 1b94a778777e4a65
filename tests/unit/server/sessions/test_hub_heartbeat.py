"""A node's heartbeat is not held up by claiming its agent sockets back (review finding R1 #7).

After a Redis restart the claim-back may take long (many sessions rebuilt from the database, one
lock each); the heartbeat must still be written every round, or the other nodes' sweeps would take
this node for dead and interrupt the very sessions it is claiming.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from veo.config import Settings
from veo.server.bus.memory import MemoryBus
from veo.server.db.engine import Database
from veo.server.sessions import liveness
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.liveness import MemoryLiveness


class CountedLiveness(MemoryLiveness):
    """Heartbeats counted, so a test can see them go on."""

    def __init__(self) -> None:
        super().__init__()
        self.beats = 0

    async def beat(self, node: str, started: float) -> None:
        self.beats += 1
        await super().beat(node, started)


async def test_a_claim_that_does_not_finish_does_not_stop_the_heartbeat(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(liveness, "HEARTBEAT_SECONDS", 0.01)
    beats = CountedLiveness()
    hub = SignalingHub(
        db=Database(f"sqlite:///{tmp_path}/veo.db"),
        bus=MemoryBus(),
        settings=Settings(data_dir=tmp_path),
        liveness=beats,
    )
    claiming = asyncio.Event()
    never = asyncio.Event()

    async def slow_claim() -> None:  # a claim-back stuck on a slow store: it never ends here
        claiming.set()
        await never.wait()

    hub.claim_held = slow_claim  # type: ignore[method-assign]
    hub._ensure_expiry_loop()
    try:
        await asyncio.wait_for(claiming.wait(), timeout=10)
        first = beats.beats
        for _ in range(1000):
            if beats.beats >= first + 3:
                break
            await asyncio.sleep(0.01)
        assert claiming.is_set() and not never.is_set()
        assert beats.beats >= first + 3, "the heartbeat waited for the claim-back"
    finally:
        tasks = list(hub._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
