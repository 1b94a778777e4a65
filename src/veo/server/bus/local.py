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
from collections import deque
from collections.abc import AsyncIterator
from typing import Final

log = logging.getLogger(__name__)

DEFAULT_QUEUE_SIZE: Final = 256
_CLOSED: Final = object()


class LocalQueue:
    """One subscription's inbox on this process, drained by its one iterator.

    A ``deque`` with ``maxlen`` drops the oldest entry by itself and costs a third of an
    ``asyncio.Queue`` (which keeps two more deques for waiting putters and getters): it matters at
    10,000 idle subscriptions a node. One consumer only, so one waiter at most.
    """

    def __init__(self, channel: str, maxsize: int = DEFAULT_QUEUE_SIZE) -> None:
        self.channel = channel
        self._items: deque[object] = deque(maxlen=maxsize)
        self._waiter: asyncio.Future[None] | None = None
        self.dropped = 0

    def put(self, message: str) -> None:
        """Queue ``message`` without waiting; a full queue loses its oldest entry first."""
        self._put(message)

    def close(self) -> None:
        """End the iteration once what is already queued has been taken."""
        self._put(_CLOSED)

    def _put(self, item: object) -> None:
        if len(self._items) == self._items.maxlen:
            self.dropped += 1
            log.warning("bus subscriber on %s is behind: oldest message dropped", self.channel)
        self._items.append(item)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    async def messages(self) -> AsyncIterator[str]:
        while True:
            while not self._items:
                self._waiter = asyncio.get_running_loop().create_future()
                try:
                    await self._waiter
                finally:
                    self._waiter = None
            item = self._items.popleft()
            if item is _CLOSED:
                return
            assert isinstance(item, str)
            yield item
