"""In-process bus: one bounded ``local.LocalQueue`` per subscriber (drop-oldest when full).

Nothing can be lost between publisher and subscriber here, so it never yields ``RESYNC``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from veo.server.bus.base import BusClosedError
from veo.server.bus.local import DEFAULT_QUEUE_SIZE, LocalQueue

__all__ = ["DEFAULT_QUEUE_SIZE", "MemoryBus"]


class MemoryBus:
    """The default bus when ``VEO_REDIS_URL`` is unset: all peers on one server process."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[LocalQueue]] = {}
        self._closed = False

    async def publish(self, channel: str, message: str) -> None:
        if self._closed:
            return
        for sub in tuple(self._subscribers.get(channel, ())):
            sub.put(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        sub = LocalQueue(channel, self._queue_size)
        if self._closed:
            sub.close()
        else:
            self._subscribers.setdefault(channel, set()).add(sub)
        try:
            yield sub.messages()
        finally:
            subs = self._subscribers.get(channel)
            if subs is not None:
                subs.discard(sub)
                if not subs:
                    del self._subscribers[channel]

    def subscriber_count(self, channel: str) -> int:
        return len(self._subscribers.get(channel, ()))

    async def ping(self) -> None:
        if self._closed:
            raise BusClosedError("the bus is closed")

    async def close(self) -> None:
        self._closed = True
        for subs in self._subscribers.values():
            for sub in subs:
                sub.close()
