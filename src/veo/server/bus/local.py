"""The local end of a subscription: a bounded queue that one consumer drains, for every backend.

A subscriber that does not keep up must not slow the publisher or the other subscribers, so a
full queue drops its OLDEST message to make room (signaling is low-rate; a peer this far behind
is broken anyway, and the newest state is the useful one). Drops are counted per subscription and
logged. Closing puts an end marker behind what is queued, so a consumer still gets what was
delivered before the bus closed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from typing import Final

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE: Final = 256
_CLOSED: Final = object()


class LocalQueue:
    """One subscription's inbox on this process."""

    def __init__(self, channel: str, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        self.channel = channel
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def put(self, message: str) -> None:
        """Queue ``message`` without waiting; a full queue loses its oldest entry first."""
        self._put(message)

    def close(self) -> None:
        """End the iteration once what is already queued has been taken."""
        self._put(_CLOSED)

    def _put(self, item: object) -> None:
        while True:
            try:
                self._queue.put_nowait(item)
                return
            except asyncio.QueueFull:
                self._queue.get_nowait()
                self.dropped += 1
                log.warning("bus subscriber on %s is behind: oldest message dropped", self.channel)

    async def messages(self) -> AsyncIterator[str]:
        while True:
            item = await self._queue.get()
            if item is _CLOSED:
                return
            assert isinstance(item, str)
            yield item
