"""The Redis bus against a redis-server of the test's own: one connection per node, faults survived.

Each test starts ``redis-server`` on a free loopback port (nothing on disk), so it may kill it
with SIGKILL and start it again on the same port, as a crashed and restarted Redis. Two
``RedisBus`` objects stand for two server nodes: one listens, the other publishes.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from tests.integration.redis_process import RedisProcess, running_redis

from veo.server.bus.base import RESYNC, BusUnavailableError
from veo.server.bus.redis import RedisBus
from veo.server.bus.redis_link import CLIENT_NAME as PUBSUB_NAME
from veo.tasks import spawn

pytestmark = pytest.mark.timeout(120)

#: Guards against a hang only; nothing here asserts how fast anything is.
PATIENCE = 30.0


@pytest.fixture
def server(tmp_path: Path) -> Iterator[RedisProcess]:
    with running_redis(tmp_path) as process:
        yield process


@asynccontextmanager
async def node(server: RedisProcess, **options: Any) -> AsyncIterator[RedisBus]:
    bus = RedisBus(server.url, **options)
    try:
        yield bus
    finally:
        await bus.close()


async def take(inbox: AsyncIterator[str], count: int) -> list[str]:
    async with asyncio.timeout(PATIENCE):
        return [await anext(inbox) for _ in range(count)]


async def deliver_three(publisher: RedisBus, inbox: AsyncIterator[str], channel: str) -> None:
    """``seen-0`` .. ``seen-2`` published and received: what a replay must not deliver again."""
    for i in range(3):
        await publisher.publish(channel, f"seen-{i}")
    assert await take(inbox, 3) == [f"seen-{i}" for i in range(3)]


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(PATIENCE):
        while not condition():  # noqa: ASYNC110 - bus state the test has no event for
            await asyncio.sleep(0.02)


def hold_reconnect(bus: RedisBus, monkeypatch: pytest.MonkeyPatch) -> asyncio.Event:
    """Keep ``bus`` from subscribing again after its next reconnect until the event is set.

    What the test publishes meanwhile reaches this node through the history replay only.
    """
    link = bus._link
    real = link._catch_up
    gate = asyncio.Event()

    async def held(conn: Any) -> Any:
        await gate.wait()
        return await real(conn)

    monkeypatch.setattr(link, "_catch_up", held)
    return gate


def hold_replay(bus: RedisBus, monkeypatch: pytest.MonkeyPatch) -> tuple[asyncio.Event, asyncio.Event]:
    """Stop ``bus`` after Redis confirmed its channels again but before it replays the history.

    Returns (reached, release). What the test publishes in between arrives twice, on the new
    pub/sub connection and in the history, and must be delivered once.
    """
    link = bus._link
    real = link._on_connected
    reached, release = asyncio.Event(), asyncio.Event()

    async def held() -> None:
        reached.set()
        await release.wait()
        await real()

    monkeypatch.setattr(link, "_on_connected", held)
    return reached, release


async def test_many_subscriptions_share_one_connection(server: RedisProcess) -> None:
    async with node(server) as bus, node(server) as publisher, AsyncExitStack() as stack:
        inboxes = [await stack.enter_async_context(bus.subscribe(f"c{i % 100}")) for i in range(200)]
        with server.client() as admin:
            clients = admin.client_list()
        listening = [c for c in clients if int(c["sub"]) > 0]
        assert [(c["name"], int(c["sub"])) for c in listening] == [(PUBSUB_NAME, 100)]
        # the pub/sub connection and one pooled command connection; the publisher made none yet
        assert sorted(c["name"] for c in clients if c["name"].startswith("veo-bus")) == [
            "veo-bus",
            PUBSUB_NAME,
        ]
        for i in range(100):
            await publisher.publish(f"c{i}", f"m{i}")
        for i, inbox in enumerate(inboxes):
            assert await take(inbox, 1) == [f"m{i % 100}"]


async def test_message_published_right_after_subscribing_is_received(server: RedisProcess) -> None:
    async with node(server) as bus, node(server) as publisher:
        for i in range(30):
            # the same channel each time: left and joined again while Redis still handles the leave
            async with bus.subscribe("again") as inbox:
                await publisher.publish("again", f"again-{i}")
                assert await take(inbox, 1) == [f"again-{i}"]
            async with bus.subscribe(f"new-{i}") as inbox:
                await publisher.publish(f"new-{i}", f"new-{i}")
                assert await take(inbox, 1) == [f"new-{i}"]


async def test_redis_killed_and_restarted_mid_stream(
    server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every message published after the restart arrives exactly once and in order, then RESYNC.

    The listening node is kept from subscribing again until the test lets it, so the messages
    published in that gap (and the one published while Redis was down) can only come from the
    history; then it is held between subscribing and replaying, so the "overlap" messages come
    from both and must be delivered once.
    """
    channels = ("a", "b")
    async with node(server) as listener, node(server) as publisher, AsyncExitStack() as stack:
        inboxes = {
            (channel, copy): await stack.enter_async_context(listener.subscribe(channel))
            for channel in channels
            for copy in range(2)
        }
        for i in range(5):
            for channel in channels:
                await publisher.publish(channel, f"{channel}-before-{i}")
        for (channel, _), inbox in inboxes.items():
            assert await take(inbox, 5) == [f"{channel}-before-{i}" for i in range(5)]

        gate = hold_reconnect(listener, monkeypatch)
        reached, release = hold_replay(listener, monkeypatch)
        server.kill()
        during = spawn(publisher.publish("a", "a-during-outage"))  # retries until Redis is back
        await until(lambda: not listener._link.connected)
        with pytest.raises(BusUnavailableError):
            await listener.ping()
        assert not during.done()
        server.start()
        await during
        for i in range(5):
            for channel in channels:
                await publisher.publish(channel, f"{channel}-gap-{i}")
        gate.set()
        async with asyncio.timeout(PATIENCE):
            await reached.wait()
        for i in range(5):
            for channel in channels:
                await publisher.publish(channel, f"{channel}-overlap-{i}")
        release.set()
        for i in range(5):
            for channel in channels:
                await publisher.publish(channel, f"{channel}-after-{i}")

        for (channel, _), inbox in inboxes.items():
            missed = [f"{channel}-{part}-{i}" for part in ("gap", "overlap") for i in range(5)]
            if channel == "a":
                missed.insert(0, "a-during-outage")
            expected = [*missed, *(f"{channel}-after-{i}" for i in range(5))]
            got = await take(inbox, len(expected) + 1)
            assert got.count(RESYNC) == 1
            assert [m for m in got if m != RESYNC] == expected
            assert got.index(RESYNC) >= len(missed)  # what it missed was replayed before RESYNC
        for channel in channels:
            await publisher.publish(channel, f"{channel}-last")
        for (channel, _), inbox in inboxes.items():
            assert await take(inbox, 1) == [f"{channel}-last"]  # no late duplicate in between
        assert listener.resyncs == 1
        await listener.ping()


async def test_restart_of_a_redis_that_kept_its_data_replays_only_the_unseen(
    server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With persistence the history comes back with its old ids: those are not delivered again."""
    async with node(server) as listener, node(server) as publisher, listener.subscribe("c") as inbox:
        await deliver_three(publisher, inbox, "c")
        with server.client() as admin:
            admin.save()  # what a persistent Redis has on disk when it dies
        gate = hold_reconnect(listener, monkeypatch)
        server.kill()
        server.start()
        with server.client() as admin:
            assert admin.xlen("veo:bus:c") == 3
        await publisher.publish("c", "missed")
        gate.set()
        await publisher.publish("c", "live")
        got = await take(inbox, 3)
        assert [m for m in got if m != RESYNC] == ["missed", "live"]
        assert got.index(RESYNC) >= 1
        await publisher.publish("c", "last")
        assert await take(inbox, 1) == ["last"]


async def test_connection_lost_while_redis_stays_up_replays_only_what_was_missed(
    server: RedisProcess, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with node(server) as listener, node(server) as publisher, listener.subscribe("c") as inbox:
        await deliver_three(publisher, inbox, "c")
        gate = hold_reconnect(listener, monkeypatch)
        with server.client() as admin:
            assert admin.client_kill_filter(_type="pubsub") == 1
        await until(lambda: not listener._link.connected)
        for i in range(3):
            await publisher.publish("c", f"missed-{i}")
        gate.set()
        await publisher.publish("c", "live")
        got = await take(inbox, 5)
        assert [m for m in got if m != RESYNC] == [*(f"missed-{i}" for i in range(3)), "live"]
        assert got.index(RESYNC) >= 3
        # the three it had delivered before were not replayed ("live" may come from either side)
        assert listener.replayed in (3, 4)


async def test_publish_waits_for_redis_within_the_bound_then_fails_cleanly(server: RedisProcess) -> None:
    async with node(server, wait_seconds=1.0) as bus, bus.subscribe("c") as inbox:
        server.kill()
        with pytest.raises(BusUnavailableError):
            await bus.publish("c", "nobody can take this")
        with pytest.raises(BusUnavailableError):
            async with bus.subscribe("other"):
                pass
        with pytest.raises(BusUnavailableError):
            await bus.ping()
        server.start()

        async def ready() -> None:
            while True:
                try:
                    await bus.ping()
                    return
                except BusUnavailableError:
                    await asyncio.sleep(0.05)

        async with asyncio.timeout(PATIENCE):
            await ready()
        await bus.publish("c", "after")
        assert await take(inbox, 2) == [RESYNC, "after"]


async def test_close_ends_every_subscription(server: RedisProcess) -> None:
    async with node(server) as bus:

        async def drain(channel: str) -> list[str]:
            async with bus.subscribe(channel) as inbox:
                return [m async for m in inbox]

        readers = [spawn(drain(f"c{i % 3}")) for i in range(6)]
        await until(lambda: sum(len(e.listeners) for e in bus._channels.values()) == 6)
        await until(lambda: all(e.confirmed.is_set() for e in bus._channels.values()))
        server.kill()
        waiting = spawn(drain("while-down"))  # cannot be confirmed while Redis is down
        await asyncio.sleep(0)
        await bus.close()
        async with asyncio.timeout(PATIENCE):
            assert await asyncio.gather(*readers, waiting) == [[]] * 7


async def test_slow_subscriber_loses_oldest_and_does_not_block_others(server: RedisProcess) -> None:
    async with node(server, queue_size=3) as bus, bus.subscribe("c") as slow, bus.subscribe("c") as fast:
        for i in range(5):
            await bus.publish("c", str(i))
            assert await take(fast, 1) == [str(i)]
        assert await take(slow, 3) == ["2", "3", "4"]
