"""The join limiter on each store: memory always, Redis (127.0.0.1:6379 or ``VEO_TEST_REDIS_URL``).

Each test gets its own key prefix on the shared Redis, deleted afterwards, so tests never see
each other's counts. Without Redis the Redis cases are skipped, except in CI where they fail.
"""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import redis.asyncio as aioredis

from veo.server.sessions.ratelimit import Decision, RedemptionLimiter
from veo.server.sessions.ratelimit_redis import RedisStore

REDIS_URL = os.environ.get("VEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")

#: Makes a limiter with these rules (``RedemptionLimiter``'s keywords) on the test's store.
Make = Callable[..., RedemptionLimiter]


class Clock:
    """A settable clock for the limiter's ``clock=``: tests move time by hand, never sleep."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def one(limiter: RedemptionLimiter, address: str, *, right: bool = False) -> Decision:
    """One whole join as ``join.admit`` makes it: enter, attempt, forgive if right, leave."""
    slot = await limiter.enter(address)
    assert slot is not None
    try:
        decision = await limiter.attempt(slot)
        if decision.allowed and right:
            await limiter.forgive(slot)
        return decision
    finally:
        await limiter.leave(slot)


def closed_port() -> int:
    """A loopback port with nothing listening (bound, then closed): an unreachable Redis."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


async def redis_client() -> aioredis.Redis:
    """A client to the test Redis, or the test skipped (failed in CI) when it does not answer."""
    client: aioredis.Redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
    try:
        await client.ping()
    except Exception as exc:
        await client.aclose()
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    return client


class Stores:
    """Limiters of one test: on Redis they share one prefix, as nodes of one deployment do."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self.prefix = f"veo-test:{uuid.uuid4().hex}:"
        self.client: aioredis.Redis | None = None
        self.made: list[RedemptionLimiter] = []

    async def start(self) -> None:
        if self.kind == "redis":
            self.client = await redis_client()

    def make(self, **rules: Any) -> RedemptionLimiter:
        """A limiter (a "node"): its own memory, or its own connection to the shared Redis."""
        if self.client is not None:
            rules["store"] = RedisStore.from_url(REDIS_URL, prefix=self.prefix)
        limiter = RedemptionLimiter(**rules)
        self.made.append(limiter)
        return limiter

    async def keys(self) -> list[str]:
        assert self.client is not None
        return [key async for key in self.client.scan_iter(match=f"{self.prefix}*", count=1000)]

    async def stop(self) -> None:
        for limiter in self.made:
            await limiter.close()
        if self.client is not None:
            for key in await self.keys():
                await self.client.delete(key)
            await self.client.aclose()


@asynccontextmanager
async def open_stores(kind: str) -> AsyncIterator[Stores]:
    """``Stores`` of ``kind`` ("memory" or "redis"), their keys and connections gone afterwards."""
    chosen = Stores(kind)
    await chosen.start()
    try:
        yield chosen
    finally:
        await chosen.stop()
