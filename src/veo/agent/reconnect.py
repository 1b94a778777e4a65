"""A signaling channel that outlives its WebSocket: reconnect with backoff, ``rejoin`` first.

A dropped signaling socket (server restarted, proxy timeout, Wi-Fi change) must not end a
session the user allowed: the peer connection may still carry it, and the server keeps the
session for its grace period. :class:`ReconnectingChannel` wraps the session's channel; when
``recv`` sees it closed, it asks its listener (the session) whether and how to come back, opens
a new socket with ``connect`` (a short open timeout: a dead server must not eat the grace
period in one attempt), sends the listener's ``rejoin`` as the very first message, and goes on
reading. Before ``joined`` there is nothing to rejoin: a closed channel ends the attempt as
before.

While it is down, ``send`` raises :class:`ChannelClosed` at once (callers that may lose a
message use ``_send_quietly``); :meth:`wait_up` lets the resume logic wait for signaling
before it offers a new peer connection.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Protocol

from veo.agent.signaling import ChannelClosed, ConnectError, SignalingChannel
from veo.protocol.signaling import Rejoin

log = logging.getLogger(__name__)

#: The first delays between attempts, then :data:`STEADY_SECONDS` while the grace lasts.
FIRST_DELAYS = (0.5, 1.0)
STEADY_SECONDS = 1.0
#: How long one attempt may take to open the socket (the production factory passes it on).
OPEN_TIMEOUT_SECONDS = 3.0
#: How long a ping may stay unanswered when the media side wonders whether signaling lives.
PROBE_SECONDS = 2.0


class Backoff:
    """0.5 s, 1 s, then every second: a server that restarts is back in a few seconds."""

    def __init__(self, first: tuple[float, ...] = FIRST_DELAYS, steady: float = STEADY_SECONDS) -> None:
        self._first = first
        self._steady = steady
        self._tries = 0

    def next(self) -> float:
        delay = self._first[self._tries] if self._tries < len(self._first) else self._steady
        self._tries += 1
        return delay

    def reset(self) -> None:
        self._tries = 0


class ReconnectListener(Protocol):
    """What the channel asks the session (``AgentSession`` is one)."""

    def rejoin_message(self) -> Rejoin | None:
        """The ``rejoin`` to open a new socket with; ``None``: do not reconnect, give up now."""

    def reconnect_seconds_left(self) -> float:
        """How long reconnecting is still worth it (the grace period left)."""

    def signaling_down(self) -> None: ...

    def signaling_up(self) -> None: ...


Connect = Callable[[], Awaitable[SignalingChannel]]


class ReconnectingChannel:
    """A :class:`SignalingChannel` whose ``recv`` replaces a closed socket by a rejoined one."""

    def __init__(self, first: SignalingChannel, connect: Connect, backoff: Backoff | None = None) -> None:
        self._current: SignalingChannel | None = first
        self._connect = connect
        self._backoff = backoff or Backoff()
        self._listener: ReconnectListener | None = None
        self._up = asyncio.Event()
        self._up.set()
        self._closed = False
        #: sockets opened after the first one (tests and the log count them)
        self.reconnects = 0

    def listen(self, listener: ReconnectListener) -> None:
        self._listener = listener

    @property
    def up(self) -> bool:
        return self._up.is_set()

    async def wait_up(self) -> None:
        await self._up.wait()

    async def send(self, message: str) -> None:
        current = self._current
        if current is None or not self._up.is_set():
            raise ChannelClosed
        try:
            await current.send(message)
        except ChannelClosed:
            self._down(current)
            raise

    async def recv(self) -> str:
        while True:
            current = self._current
            if current is not None:
                try:
                    return await current.recv()
                except ChannelClosed:
                    self._down(current)
            if self._closed or not await self._reconnect():
                raise ChannelClosed

    async def probe(self, seconds: float = PROBE_SECONDS) -> None:
        """The media side lost the console: make sure signaling still answers, else drop it now
        (``recv`` then reconnects) instead of waiting for the keepalive's own timeout."""
        current = self._current
        ping = getattr(current, "probe", None)
        if current is None or ping is None:
            return
        if not await ping(seconds):
            log.info("signaling did not answer a ping within %.0f s: reconnecting", seconds)
            self._down(current)  # nothing more is sent into it; ``recv`` reconnects once it closed
            await _close_quietly(current)

    async def close(self) -> None:
        self._closed = True
        current, self._current = self._current, None
        self._up.clear()
        if current is not None:
            await _close_quietly(current)

    def _down(self, current: SignalingChannel) -> None:
        if self._current is current:
            self._current = None
            if self._up.is_set():
                self._up.clear()
                if self._listener is not None and not self._closed:
                    self._listener.signaling_down()

    async def _reconnect(self) -> bool:
        """New sockets until one carried the ``rejoin`` or the listener gives up; ``False``: gave up."""
        listener = self._listener
        if listener is None or listener.rejoin_message() is None:
            return False
        self._backoff.reset()
        while not self._closed:
            left = listener.reconnect_seconds_left()
            if left <= 0:
                log.info("signaling not back within the grace period: giving up")
                return False
            await asyncio.sleep(min(self._backoff.next(), left))
            rejoin = listener.rejoin_message()
            if rejoin is None or self._closed:
                return False
            try:
                channel = await self._connect()
            except (ConnectError, ChannelClosed, OSError, TimeoutError) as exc:
                log.info("signaling reconnect failed: %s", getattr(exc, "detail", type(exc).__name__))
                continue
            try:
                await channel.send(rejoin.dumps())  # the first message, before anything else
            except ChannelClosed:
                await _close_quietly(channel)
                continue
            self.reconnects += 1
            self._current = channel
            self._up.set()
            log.info("signaling reconnected (rejoin sent, media=%s)", rejoin.media)
            listener.signaling_up()
            return True
        return False


async def _close_quietly(channel: SignalingChannel) -> None:
    try:
        await channel.close()
    except Exception:
        log.debug("closing a signaling socket failed", exc_info=True)
