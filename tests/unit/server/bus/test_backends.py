"""The same contract on every bus backend: memory always, Redis when 127.0.0.1:6379 answers."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from veo.config import Settings
from veo.server.bus.auto import create_bus
from veo.server.bus.base import Bus, BusClosedError
from veo.server.bus.memory import MemoryBus

REDIS_URL = os.environ.get("VEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
pytestmark = pytest.mark.timeout(20)


@pytest.fixture(params=["memory", "redis"])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        chosen: Bus = MemoryBus()
    else:
        chosen = create_bus(Settings(redis_url=REDIS_URL))
        try:
            await chosen.ping()
        except Exception as exc:
            await chosen.close()
            if os.environ.get("CI") == "true":
                pytest.fail(f"Redis is required in CI: {exc}")
            pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    try:
        yield chosen
    finally:
        await chosen.close()


def channel() -> str:
    """A channel of this test alone (the Redis server is shared)."""
    return f"veo-test:{uuid.uuid4().hex}"


async def test_in_order_per_channel_and_isolated(bus: Bus) -> None:
    a, b = channel(), channel()
    async with bus.subscribe(a) as first, bus.subscribe(a) as second, bus.subscribe(b) as other:
        await bus.publish(a, "1")
        await bus.publish(a, "2")
        await bus.publish(b, "x")
        assert [await anext(first), await anext(first)] == ["1", "2"]
        assert [await anext(second), await anext(second)] == ["1", "2"]
        assert await anext(other) == "x"


async def test_message_right_after_subscribing_is_delivered(bus: Bus) -> None:
    name = channel()
    for i in range(20):
        async with bus.subscribe(name) as messages:
            await bus.publish(name, str(i))
            assert await anext(messages) == str(i)


async def test_publish_without_subscribers_is_not_replayed(bus: Bus) -> None:
    name = channel()
    await bus.publish(name, "lost")
    async with bus.subscribe(name) as messages:
        await bus.publish(name, "seen")
        assert await anext(messages) == "seen"


async def test_close_ends_iteration_and_ping_fails(bus: Bus) -> None:
    name = channel()
    async with bus.subscribe(name) as messages:
        await bus.publish(name, "last")
        assert await anext(messages) == "last"
        await bus.close()
        assert [m async for m in messages] == []
    with pytest.raises(BusClosedError):
        await bus.ping()
