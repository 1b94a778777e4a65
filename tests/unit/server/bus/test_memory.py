"""The in-process bus: ordered delivery per channel, isolation, drop-oldest, close."""

from __future__ import annotations

import asyncio

import pytest

from veo.config import Settings
from veo.server.bus.auto import BusConfigError, create_bus
from veo.server.bus.base import BusClosedError
from veo.server.bus.memory import MemoryBus
from veo.server.bus.redis import RedisBus

pytestmark = pytest.mark.timeout(10)


async def test_subscribers_get_messages_in_order_per_channel() -> None:
    bus = MemoryBus()
    async with bus.subscribe("a") as first, bus.subscribe("a") as second, bus.subscribe("b") as other:
        await bus.publish("a", "1")
        await bus.publish("a", "2")
        await bus.publish("b", "x")
        assert [await anext(first), await anext(first)] == ["1", "2"]
        assert [await anext(second), await anext(second)] == ["1", "2"]
        assert await anext(other) == "x"


async def test_publish_without_subscribers_is_fine_and_not_replayed() -> None:
    bus = MemoryBus()
    await bus.publish("a", "lost")
    async with bus.subscribe("a") as messages:
        await bus.publish("a", "seen")
        assert await anext(messages) == "seen"


async def test_slow_subscriber_loses_oldest_and_does_not_block_others() -> None:
    bus = MemoryBus(queue_size=3)
    async with bus.subscribe("a") as slow, bus.subscribe("a") as fast:
        for i in range(5):
            await bus.publish("a", str(i))
            assert await anext(fast) == str(i)
        assert [await anext(slow) for _ in range(3)] == ["2", "3", "4"]


async def test_unsubscribe_on_exit() -> None:
    bus = MemoryBus()
    async with bus.subscribe("a"):
        assert bus.subscriber_count("a") == 1
    assert bus.subscriber_count("a") == 0


async def test_close_ends_iteration_and_ping_fails() -> None:
    bus = MemoryBus()
    await bus.ping()
    async with bus.subscribe("a") as messages:

        async def drain() -> list[str]:
            return [m async for m in messages]

        waiting = asyncio.gather(drain())
        await bus.publish("a", "last")
        await bus.close()
        assert await waiting == [["last"]]
    with pytest.raises(BusClosedError):
        await bus.ping()
    async with bus.subscribe("a") as after:
        assert [m async for m in after] == []


async def test_auto_chooses_by_setting_and_refuses_a_bad_url() -> None:
    assert isinstance(create_bus(Settings()), MemoryBus)
    redis_bus = create_bus(Settings(redis_url="redis://127.0.0.1:6379/0"))
    assert isinstance(redis_bus, RedisBus)
    await redis_bus.close()
    with pytest.raises(BusConfigError, match="VEO_REDIS_URL"):
        create_bus(Settings(redis_url="http://127.0.0.1:6379"))
