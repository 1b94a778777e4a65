"""The bus interface: fire-and-forget text messages on named channels.

The signaling hub publishes what a peer must receive on ``session:<id>:agent`` or
``session:<id>:console`` and each WebSocket handler subscribes to its own channel, so agent and
console need not be on the same node. Delivery is best effort and at most once; the hub never
relies on the bus for state that must survive (that lives in the database).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from typing import Final, Protocol


class Bus(Protocol):
    async def publish(self, channel: str, message: str) -> None:
        """Deliver ``message`` to every current subscriber of ``channel`` (none is fine)."""

    def subscribe(self, channel: str) -> AbstractAsyncContextManager[AsyncIterator[str]]:
        """Listen on ``channel``: messages published after entering the block are yielded in order.

        The iterator ends when the bus closes (or drops this subscriber, see the backend).
        """

    async def ping(self) -> None:
        """Raise if the bus cannot be used (for ``/readyz``)."""

    async def close(self) -> None:
        """Stop every subscription; later publishes are ignored."""


class BusClosedError(RuntimeError):
    """The bus was closed; raised by ``ping``."""


#: Yielded by a subscription (never published) after the bus lost its connection, reconnected,
#: resubscribed and replayed what it still could: whatever the subscriber derives from messages
#: (a console's view of its session) should be sent again in full. Never forwarded to a peer.
RESYNC: Final = "\x00veo-bus-resync"
