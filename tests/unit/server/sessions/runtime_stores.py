"""Both runtime stores for tests: this process's memory, and Redis under a random key prefix.

Redis is the shared one on 127.0.0.1:6379 (``VEO_TEST_REDIS_URL``); a test is skipped when it
does not answer, except in CI where it fails. Every key the test wrote is deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import redis.asyncio as aioredis

from veo.server.sessions.runtime_store import MemoryRuntimeStore, RedisRuntimeStore, RuntimeStore

REDIS_URL = os.environ.get("VEO_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
KINDS = ["memory", "redis"]


async def redis_or_skip() -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis is required in CI: {exc}")
        pytest.skip(f"Redis not reachable at {REDIS_URL}: {exc}")
    finally:
        await client.aclose()


def random_prefix() -> str:
    return f"veo-test-{secrets.token_hex(6)}:"


async def delete_prefix(prefix: str) -> None:
    client = aioredis.Redis.from_url(REDIS_URL)
    try:
        keys = [k async for k in client.scan_iter(match=f"{prefix}*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def store_of(kind: str, **options: float) -> AsyncIterator[RuntimeStore]:
    if kind == "memory":
        yield MemoryRuntimeStore()
        return
    await redis_or_skip()
    prefix = random_prefix()
    store = RedisRuntimeStore(REDIS_URL, prefix=prefix, **options)
    try:
        yield store
    finally:
        await store.close()
        await delete_prefix(prefix)
