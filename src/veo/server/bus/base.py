"""The bus interface: fire-and-forget text messages on named channels.

The signaling hub publishes what a peer must receive on ``session:<id>:agent`` or
``session:<id>:console`` and each WebSocket handler subscribes to its own channel, so agent and
console need not be on the same node. The hub never relies on the bus for state that must survive
(that lives in the database). In-process delivery is exact; the Redis bus survives a Redis restart
by replaying a short per-channel history and then yielding :data:`RESYNC` (see ``redis.py`` for
what it can and cannot recover).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol


class Bus(Protocol):
    async def publish(self, channel: str, message: str) -> None:
        """Deliver ``message`` to every current subscriber of ``channel`` (none is fine).

        Raises :class:`BusUnavailableError` when the bus cannot take the message within its bound
        (Redis down too long): a caller answers with a clean error, the message is never dropped
        silently.
        """

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """Listen on ``channel``: messages published after entering the block are yielded in order.

        The iterator ends when the bus closes (or drops this subscriber, see the backend). A backend
        that can lose its connection yields :data:`RESYNC` after it came back; entering the block
        raises :class:`BusUnavailableError` when the subscription cannot be confirmed in time.
        """

    async def ping(self) -> None:
        """Raise if the bus cannot be used (for ``/readyz``)."""

    async def close(self) -> None:
        """Stop every subscription; later publishes are ignored."""


class BusError(RuntimeError):
    """Something the bus cannot do right now; the message is for the log, not for a person."""


class BusClosedError(BusError):
    """The bus was closed; raised by ``ping``."""


class BusUnavailableError(BusError):
    """The bus backend did not answer within its bound (Redis down or unreachable).

    Raised by ``publish`` and on entering ``subscribe`` after retrying for a bounded time, and by
    ``ping`` while the connection is down, so a caller can fail cleanly instead of losing a message.
    """


#: Yielded by a subscription (never published) after the bus lost its connection, reconnected,
#: resubscribed and replayed what it still could: whatever the subscriber derives from messages
#: (a console's view of its session) should be sent again in full. Never forwarded to a peer.
RESYNC: Final = "\x00veo-bus-resync"
