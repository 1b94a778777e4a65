"""The runtime store (``sessions/runtime_store.py``): both kinds, the memory one and Redis.

The state's JSON round trip, the session's lock (no lost update between two editors), the
tombstone a drop leaves (a save under way is refused, nothing comes back), Redis's expiry of
the state, and a save refused after the lock expired under a slow step.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import anyio
import pytest
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from veo.protocol.permissions import Permission
from veo.protocol.signaling import Offer
from veo.server.sessions.runtime import Interruption, PendingAsk, SessionRuntime, rebuild
from veo.server.sessions.runtime_store import (
    STATE_TTL_SECONDS,
    RedisRuntimeStore,
    RuntimeStoreError,
    StateNotSaved,
)

from .runtime_stores import KINDS, REDIS_URL, store_of


def _full() -> SessionRuntime:
    """Every field away from its default."""
    return SessionRuntime(
        pending_offer=Offer(sdp="v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\n", commitment="c" * 64, resume=True),
        offered=True,
        answered=True,
        answered_by="console-1",
        revealed=True,
        consented=True,
        mode="browser",
        permission_ask=PendingAsk(id="q" * 32, permissions=(Permission.CONTROL,), asked_at=12.5),
        refused_at={Permission.FILES: 10.25},
        restored=True,
        interruption=Interruption(link="signaling", deadline=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)),
        resume_offers=[1.0, 2.5],
        agent_node="node-a",
        agent_generation=7,
        unheld_since=99.5,
    )


def test_the_state_round_trips_through_json() -> None:
    rt = _full()
    assert SessionRuntime.loads(rt.dumps()) == rt
    assert SessionRuntime.loads(SessionRuntime().dumps()) == SessionRuntime()


def test_a_rebuilt_state_counts_an_active_session_as_allowed_and_keeps_its_interruption() -> None:
    deadline = datetime(2026, 1, 2, tzinfo=UTC)
    active = rebuild(status="active", mode="agent", resume_deadline=deadline)
    assert active.consented and active.answered and active.restored
    assert active.interruption is not None and active.interruption.deadline == deadline
    assert active.interruption.link == "media", "an unknown link must not be one a claim ends"
    server = rebuild(status="active", mode="agent", resume_deadline=deadline, link="server_restart")
    assert server.interruption is not None and server.interruption.link == "server_restart"
    earlier = rebuild(status="connecting", mode="agent", resume_deadline=None)
    assert not earlier.offered and not earlier.consented and earlier.restored
    assert rebuild(status="waiting", mode="browser", resume_deadline=None) == SessionRuntime(mode="browser")


@pytest.mark.parametrize("kind", KINDS)
async def test_edit_saves_and_get_reads(kind: str) -> None:
    async with store_of(kind) as store:
        async with store.edit("s1") as held:
            assert held.rt is None and not held.ended
            held.rt = _full()
        assert await store.get("s1") == _full()
        assert await store.get_many(["s1", "s2"]) == {"s1": _full()}
        async with store.edit("s2") as held:  # left None: nothing is saved
            pass
        assert await store.get("s2") is None


@pytest.mark.parametrize("kind", KINDS)
async def test_the_lock_lets_no_update_get_lost(kind: str) -> None:
    async with store_of(kind) as store:

        async def bump() -> None:
            async with store.edit("s1") as held:
                rt = held.rt or SessionRuntime()
                seen = rt.agent_generation
                await asyncio.sleep(0.005)  # a step's database work: others run meanwhile
                rt.agent_generation = seen + 1
                held.rt = rt

        await asyncio.gather(*(bump() for _ in range(20)))
        rt = await store.get("s1")
        assert rt is not None and rt.agent_generation == 20


@pytest.mark.parametrize("kind", KINDS)
async def test_a_drop_during_an_edit_is_not_undone_by_its_save(kind: str) -> None:
    async with store_of(kind) as store:
        async with store.edit("s1") as held:
            held.rt = SessionRuntime(offered=True)
        async with store.edit("s1") as held:
            assert held.rt is not None
            held.rt.answered = True
            await store.drop("s1")  # the step ended the session (announce_end)
        assert await store.get("s1") is None
        async with store.edit("s1") as held:
            assert held.rt is None and held.ended, "the tombstone says: ended, do not rebuild"
            held.rt = SessionRuntime()
        assert await store.get("s1") is None


async def test_redis_keys_expire_and_a_save_after_the_lock_was_lost_is_refused() -> None:
    async with store_of("redis", lock_seconds=0.2) as store:
        assert isinstance(store, RedisRuntimeStore)
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            async with store.edit("s1") as held:
                held.rt = SessionRuntime(offered=True)
            ttl = await client.ttl(f"{store.prefix}rt:s1")
            assert STATE_TTL_SECONDS - 5 <= ttl <= STATE_TTL_SECONDS
            with pytest.raises(StateNotSaved):
                async with store.edit("s1") as held:
                    assert held.rt is not None
                    held.rt.answered = True
                    # the lock lost (Redis away longer than it lasts): another node may edit now
                    await client.delete(f"{store.prefix}lock:s1")
                    await asyncio.sleep(0.2)
            rt = await store.get("s1")
            assert rt is not None and rt.offered and not rt.answered
        finally:
            await client.aclose()


async def test_a_step_longer_than_the_redis_lock_keeps_it_and_saves() -> None:
    async with store_of("redis", lock_seconds=0.2, lock_wait_seconds=5.0) as store:
        order: list[str] = []

        async def slow() -> None:
            async with store.edit("s1") as held:
                order.append("slow in")
                await asyncio.sleep(0.7)  # a slow database: more than three lock lifetimes
                held.rt = SessionRuntime(offered=True)
                order.append("slow out")

        async def other() -> None:
            await asyncio.sleep(0.1)
            async with store.edit("s1") as held:
                order.append("other in")
                assert held.rt is not None and held.rt.offered, "ran on the state before the slow step"
                held.rt.answered = True

        await asyncio.gather(slow(), other())
        assert order == ["slow in", "slow out", "other in"]
        rt = await store.get("s1")
        assert rt is not None and rt.offered and rt.answered


async def test_a_cancelled_step_frees_the_redis_lock_at_once() -> None:
    """A step cancelled with its socket (``_pump`` cancels the reader, which may be mid-step,
    inside an anyio scope that stays cancelled): the lock is released anyway, so the session's
    next message does not wait for it to expire."""
    async with store_of("redis", lock_seconds=30.0, lock_wait_seconds=1.0) as store:
        inside = anyio.Event()

        async def step() -> None:
            async with store.edit("s1") as held:
                held.rt = SessionRuntime(offered=True)
                inside.set()
                await anyio.sleep_forever()

        async with anyio.create_task_group() as tg:
            tg.start_soon(step)
            await inside.wait()
            tg.cancel_scope.cancel()
        async with store.edit("s1") as held:  # within lock_wait_seconds, not after 30 s
            assert held.rt is None, "a cancelled step saved nothing"


async def test_a_load_that_fails_after_the_lock_was_taken_frees_it(monkeypatch: pytest.MonkeyPatch) -> None:
    async with store_of("redis", lock_seconds=30.0, lock_wait_seconds=1.0) as store:
        assert isinstance(store, RedisRuntimeStore)
        client = store._client
        mget = client.mget

        async def fails_once(*args: object, **kwargs: object) -> object:
            monkeypatch.setattr(client, "mget", mget)
            raise RedisConnectionError("Redis went away")

        monkeypatch.setattr(client, "mget", fails_once)
        with pytest.raises(RuntimeStoreError):
            async with store.edit("s1"):
                pass  # pragma: no cover - the load failed
        async with store.edit("s1") as held:  # within lock_wait_seconds, not after 30 s
            assert held.rt is None
