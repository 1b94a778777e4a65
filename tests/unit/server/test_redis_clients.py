"""Every Redis client of a node survives the first command after a Redis restart.

A restart leaves every pooled connection dead, and the first command on each fails although
Redis is back; the clients built by ``veo.server.redis_clients`` retry it once on a new
connection. A restart is simulated by killing the client's connection (``CLIENT KILL``) on the
shared test Redis.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from tests.unit.server.sessions.runtime_stores import REDIS_URL, delete_prefix, random_prefix, redis_or_skip

from veo.server.sessions.liveness import RedisLiveness
from veo.server.sessions.ratelimit_redis import RedisStore
from veo.server.sessions.runtime_store import RedisRuntimeStore


async def _kill(client: aioredis.Redis) -> None:
    """Close, on the server's side, every connection the client has open (as a restart does)."""
    ids = [await client.client_id()]
    admin = aioredis.Redis.from_url(REDIS_URL)
    try:
        for connection_id in ids:
            await admin.client_kill_filter(_id=str(connection_id))
    finally:
        await admin.aclose()


async def test_the_runtime_store_liveness_and_limiter_answer_right_after_their_connection_died() -> None:
    await redis_or_skip()
    prefix = random_prefix()
    store = RedisRuntimeStore(REDIS_URL, prefix=prefix)
    liveness = RedisLiveness(REDIS_URL, prefix=prefix)
    limiter = RedisStore.from_url(REDIS_URL, prefix=prefix)
    try:
        await _kill(store._client)
        assert await store.get("s1") is None
        await _kill(liveness._client)
        await liveness.beat("n1", 0.0)
        assert await liveness.alive(["n1"]) == {"n1"}
        await _kill(limiter._client)
        assert await limiter._client.ping()
        info = await store._client.client_info()
        assert info["name"] == "veo-runtime-store"
    finally:
        await store.close()
        await liveness.close()
        await limiter.close()
        await delete_prefix(prefix)
