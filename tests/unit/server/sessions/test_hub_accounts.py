"""The account-changes listener of a node (``Cutoffs.listen``, ``cutoffs.py``) outlives the bus's outages.

A node may start before Redis answers, and a batch of changes may be committed while Redis is
down: the listener subscribes again after a pause, and every change of a batch is acted on even
when telling the other nodes fails.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from veo.config import Settings
from veo.server.auth import revoked
from veo.server.bus.base import BusUnavailableError
from veo.server.bus.memory import MemoryBus
from veo.server.db.engine import Database
from veo.server.sessions import cutoffs
from veo.server.sessions.cutoffs import ACCOUNTS_CHANNEL
from veo.server.sessions.hub import SignalingHub
from veo.tasks import spawn


class DownAtFirst(MemoryBus):
    """A bus whose first ``failures`` subscriptions fail (Redis not up yet) and whose publishes
    on the accounts channel fail while ``publish_down``."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures
        self.publish_down = False

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:  # type: ignore[override]
        if self.failures > 0:
            self.failures -= 1
            raise BusUnavailableError("Redis did not answer")
        async with super().subscribe(channel) as inbox:
            yield inbox

    async def publish(self, channel: str, message: str) -> None:
        if self.publish_down and channel == ACCOUNTS_CHANNEL:
            raise BusUnavailableError("Redis did not answer")
        await super().publish(channel, message)


def _hub(tmp_path: Path, bus: MemoryBus, changed: list[int]) -> SignalingHub:
    hub = SignalingHub(
        db=Database(f"sqlite:///{tmp_path}/veo.db"), bus=bus, settings=Settings(data_dir=tmp_path)
    )

    async def account_changed(user_id: int, reason: revoked.Reason) -> None:
        changed.append(user_id)

    hub.account_changed = account_changed  # type: ignore[method-assign]
    return hub


async def test_the_listener_subscribes_again_after_the_bus_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(cutoffs, "ACCOUNTS_RETRY_SECONDS", 0.01)
    bus = DownAtFirst(failures=2)
    changed: list[int] = []
    hub = _hub(tmp_path, bus, changed)
    task = spawn(hub.cutoffs.listen(), name="test-accounts-loop")
    try:
        for _ in range(500):
            if bus.subscriber_count(ACCOUNTS_CHANNEL) or task.done():
                break
            await asyncio.sleep(0.01)
        assert not task.done(), "the listener gave up"
        raw = json.dumps({"node": "another", "user_id": 7, "reason": next(iter(revoked.CUT_OFF))})
        await bus.publish(ACCOUNTS_CHANNEL, raw)
        for _ in range(500):
            if changed:
                break
            await asyncio.sleep(0.01)
        assert changed == [7]
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def test_every_change_of_a_batch_is_acted_on_when_the_bus_cannot_carry_them(tmp_path: Path) -> None:
    bus = DownAtFirst(failures=0)
    bus.publish_down = True
    changed: list[int] = []
    hub = _hub(tmp_path, bus, changed)
    reason = next(iter(revoked.CUT_OFF))
    await hub.cutoffs.changed([revoked.Revocation(1, reason), revoked.Revocation(2, reason)], publish=True)
    assert changed == [1, 2]
