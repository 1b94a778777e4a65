"""In-process bus: one bounded ``asyncio.Queue`` per subscriber.

A subscriber that does not keep up must not slow the publisher or the other subscribers, so a
full queue drops its OLDEST message to make room (signaling is low-rate; a peer this far behind
is broken anyway, and the newest state is the useful one). Drops are counted per subscription.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from veo.server.bus.base import BusClosedError

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE = 256
_CLOSED = object()


class _Subscription:
    def __init__(self, channel: str, maxsize: int) -> None:
        self.channel = channel
        self.queue: asyncio.Queue[object] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def put(self, item: object) -> None:
        while True:
            try:
                self.queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()
                self.dropped += 1
                log.warning("bus subscriber on %s is behind: oldest message dropped", self.channel)

    async def messages(self) -> AsyncIterator[str]:
        while True:
            item = await self.queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, str)
            yield item


class MemoryBus:
    """The default bus when ``VEO_REDIS_URL`` is unset: all peers on one server process."""

    def __init__(self, *, queue_size: int = DEFAULT_QUEUE_SIZE) -> None:
        self._queue_size = queue_size
        self._subscribers: dict[str, set[_Subscription]] = {}
        self._closed = False

    async def publish(self, channel: str, message: str) -> None:
        if self._closed:
            return
        for sub in tuple(self._subscribers.get(channel, ())):
            sub.put(message)

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        sub = _Subscription(channel, self._queue_size)
        if self._closed:
            sub.put(_CLOSED)
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
                sub.put(_CLOSED)
