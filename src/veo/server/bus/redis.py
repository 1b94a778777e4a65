"""Redis pub/sub bus, for several server nodes (``VEO_REDIS_URL``).

Each subscription has its own pub/sub connection and waits for Redis to confirm it before the
block starts, so a message published right after entering the block is not lost. Redis itself
protects publishers from a slow subscriber (its client output buffer limit disconnects it).
Delivery is at most once, as with the memory bus.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from veo.server.bus.base import BusClosedError

log = logging.getLogger(__name__)

#: How often a waiting subscriber looks at the closed flag (messages themselves arrive at once).
POLL_SECONDS = 1.0
CONFIRM_SECONDS = 5.0


class RedisBus:
    def __init__(self, url: str) -> None:
        self._client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self._closed = False

    async def publish(self, channel: str, message: str) -> None:
        if self._closed:
            return
        await self._client.publish(channel, message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        pubsub = self._client.pubsub()
        try:
            await pubsub.subscribe(channel)
            await self._confirmed(pubsub, channel)
            yield self._messages(pubsub)
        finally:
            try:
                await pubsub.unsubscribe(channel)
            except Exception:  # the connection may already be gone
                log.debug("unsubscribe from %s failed", channel, exc_info=True)
            await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _confirmed(self, pubsub: PubSub, channel: str) -> None:
        reply = await pubsub.get_message(timeout=CONFIRM_SECONDS)
        if reply is None or reply.get("type") != "subscribe":
            raise BusClosedError(f"Redis did not confirm the subscription to {channel}")

    async def _messages(self, pubsub: PubSub) -> AsyncIterator[str]:
        while not self._closed:
            reply = await pubsub.get_message(ignore_subscribe_messages=True, timeout=POLL_SECONDS)
            if reply is not None and reply.get("type") == "message":
                data = reply["data"]
                yield data if isinstance(data, str) else str(data)

    async def ping(self) -> None:
        if self._closed:
            raise BusClosedError("the bus is closed")
        await self._client.ping()

    async def close(self) -> None:
        self._closed = True
        await self._client.aclose()
