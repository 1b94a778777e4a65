"""One pub/sub connection to Redis per node, carrying every channel this node listens on.

A connection per subscription would need 10,000 Redis clients for 10,000 idle agents (Redis'
default ``maxclients``), so :class:`PubSubLink` owns a single connection and the bus fans its
messages out locally. It keeps the set of wanted channels in step with Redis (SUBSCRIBE and
UNSUBSCRIBE in batches, from one writer task), tells the bus when Redis confirmed a channel, and
when the connection is lost it reconnects with backoff and jitter, subscribes every wanted channel
again and lets the bus catch up (``on_connected``) BEFORE any message of the new connection is
handed over, so replayed history and live messages arrive in order.

A connection that went silent (a network that drops packets instead of closing) is found by a
PING every :data:`PING_SECONDS` of quiet: no reply within :data:`REPLY_SECONDS` ends it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Awaitable, Callable
from typing import Any, Final

import redis.asyncio as aioredis
from redis.asyncio.connection import AbstractConnection
from redis.asyncio.retry import Retry
from redis.backoff import EqualJitterBackoff, NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

from veo.tasks import spawn

log = logging.getLogger(__name__)

#: Reconnect delays: about RECONNECT_FIRST_SECONDS doubling up to RECONNECT_CAP_SECONDS, jittered
#: so that the nodes of a cluster do not all come back in the same instant. The cap is short: until
#: a node is back, what is published on a Redis that dies again is lost to it (one connection per
#: node, so a quick retry costs Redis little).
RECONNECT_FIRST_SECONDS: Final = 0.1
RECONNECT_CAP_SECONDS: Final = 2.0
CONNECT_SECONDS: Final = 5.0
#: Longest wait for a reply (subscription confirmations, PONG) before the connection counts as dead.
REPLY_SECONDS: Final = 10.0
PING_SECONDS: Final = 5.0
#: Channels per SUBSCRIBE / UNSUBSCRIBE command.
COMMAND_BATCH: Final = 1000
CLIENT_NAME: Final = "veo-bus-pubsub"

_LOST = (RedisError, OSError, TimeoutError)


def backoff() -> EqualJitterBackoff:
    return EqualJitterBackoff(cap=RECONNECT_CAP_SECONDS, base=RECONNECT_FIRST_SECONDS)


class _Connection:
    """The state of one connection: what was sent on it and what Redis has not confirmed yet."""

    def __init__(self, conn: AbstractConnection) -> None:
        self.conn = conn
        self.sent: set[str] = set()
        self.pending: Counter[str] = Counter()
        self.last_read = asyncio.get_running_loop().time()
        self.last_ping = self.last_read

    async def send(self, command: str, *args: str) -> None:
        # redis-py would quietly open a new socket (subscribed to nothing) for a closed connection
        if not self.conn.is_connected:
            raise RedisConnectionError("the pub/sub connection is closed")
        await self.conn.send_command(command, *args, check_health=False)

    async def send_batches(self, command: str, names: list[str]) -> None:
        for first in range(0, len(names), COMMAND_BATCH):
            await self.send(command, *names[first : first + COMMAND_BATCH])

    async def subscribe(self, names: list[str]) -> None:
        self.sent.update(names)
        self.pending.update(names)
        await self.send_batches("SUBSCRIBE", names)

    async def read(self, seconds: float) -> Any:
        """The next reply; ``math.inf`` waits as long as it takes (the watchdog PINGs)."""
        # only the link closes the socket, once reader and writer stopped (see send)
        reply = await self.conn.read_response(timeout=seconds, disconnect_on_error=False)
        if reply is None and seconds != math.inf:
            raise TimeoutError("Redis did not answer on the pub/sub connection")
        self.last_read = asyncio.get_running_loop().time()
        return reply

    def confirm(self, name: str) -> bool:
        """Count one SUBSCRIBE reply; True once every SUBSCRIBE sent for ``name`` is processed."""
        self.pending[name] -= 1
        if self.pending[name] > 0:
            return False
        del self.pending[name]
        return name in self.sent


class PubSubLink:
    """The node's pub/sub connection, kept alive and subscribed to :meth:`want`-ed channels."""

    def __init__(
        self,
        url: str,
        *,
        on_message: Callable[[str, str], None],
        on_confirmed: Callable[[str], None],
        on_connected: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
    ) -> None:
        self._pool: aioredis.ConnectionPool = aioredis.ConnectionPool.from_url(
            url,
            decode_responses=True,
            protocol=2,  # pub/sub replies as plain replies, not RESP3 pushes read_response skips
            retry=Retry(NoBackoff(), 0),
            socket_connect_timeout=CONNECT_SECONDS,
            socket_timeout=REPLY_SECONDS,
            health_check_interval=0,
            client_name=CLIENT_NAME,
        )
        self._on_message = on_message
        self._on_confirmed = on_confirmed
        self._on_connected = on_connected
        self._on_lost = on_lost
        self._wanted: set[str] = set()
        self._changed: set[str] = set()
        self._wake = asyncio.Event()
        self._current: _Connection | None = None
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        #: Counts connections that completed their catch-up; a subscriber compares it before and
        #: after its own set-up to know whether the connection changed under it.
        self.generation = 0

    @property
    def connected(self) -> bool:
        """True while the connection is up and has caught up (what ``/readyz`` reports)."""
        return self._current is not None

    @property
    def started(self) -> bool:
        return self._task is not None

    def confirmed(self, name: str) -> bool:
        """Redis already listens on ``name`` for this node (a channel left and joined again)."""
        current = self._current
        return current is not None and name in current.sent and name not in current.pending

    def want(self, name: str) -> None:
        self._wanted.add(name)
        self._changed.add(name)
        self._start()

    def drop(self, name: str) -> None:
        self._wanted.discard(name)
        self._changed.add(name)
        self._wake.set()

    def _start(self) -> None:
        if self._task is None:
            self._task = spawn(self._run(), name="veo-bus-pubsub")
        self._wake.set()

    async def aclose(self) -> None:
        # the flag as well as the cancel: a TaskGroup whose child failed while being cancelled
        # raises that failure instead of CancelledError, which _run would take for a lost link
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pool.aclose()

    async def _run(self) -> None:
        failures = 0
        delays = backoff()
        while not self._closing:
            conn = self._pool.make_connection()  # type: ignore[no-untyped-call]
            try:
                await conn.connect()
                current = await self._catch_up(conn)
                failures = 0
                async with asyncio.TaskGroup() as tasks:
                    tasks.create_task(self._read(current))
                    tasks.create_task(self._write(current))
            except* _LOST as lost:
                # the first failure is news; the retries of a long outage are not
                if not self._closing:
                    report = log.warning if failures == 0 else log.debug
                    report("Redis bus connection lost, reconnecting: %s", lost.exceptions[0])
            except* Exception:
                if not self._closing:
                    log.exception("Redis bus connection failed, reconnecting")
            finally:
                self._current = None
                self._on_lost()
                await conn.disconnect(nowait=True)
            if not self._closing:
                await asyncio.sleep(delays.compute(failures))
                failures += 1

    async def _catch_up(self, conn: AbstractConnection) -> _Connection:
        """Subscribe every wanted channel, let the bus replay, then hand over what came meanwhile."""
        current = _Connection(conn)
        self._changed.clear()
        await current.subscribe(sorted(self._wanted))
        early: list[tuple[str, str]] = []
        while current.pending:
            reply = await current.read(REPLY_SECONDS)
            kind = reply[0]
            if kind == "subscribe":
                current.confirm(reply[1])
            elif kind == "message":
                early.append((reply[1], reply[2]))
        await self._on_connected()
        self.generation += 1
        self._current = current
        log.info("Redis bus connected, %d channels", len(current.sent))
        for name in current.sent:
            self._on_confirmed(name)
        for name, payload in early:
            self._on_message(name, payload)
        return current

    async def _read(self, current: _Connection) -> None:
        while True:
            reply = await current.read(math.inf)
            kind = reply[0]
            if kind == "message":
                self._on_message(reply[1], reply[2])
            elif kind == "subscribe" and current.confirm(reply[1]):
                self._on_confirmed(reply[1])

    async def _write(self, current: _Connection) -> None:
        """Send what changed in the wanted set, and PING a quiet connection."""
        loop = asyncio.get_running_loop()
        me = asyncio.current_task()
        while True:
            # Python 3.11's wait_for (used by redis-py for socket_timeout) can swallow a
            # cancellation that lands as its inner task finishes (CPython gh-86296): honour it here
            if me is not None and me.cancelling():
                raise asyncio.CancelledError
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(PING_SECONDS / 2):
                    await self._wake.wait()
            self._wake.clear()
            changed, self._changed = self._changed, set()
            await current.subscribe(sorted(n for n in changed if n in self._wanted and n not in current.sent))
            leaving = sorted(n for n in changed if n not in self._wanted and n in current.sent)
            current.sent.difference_update(leaving)
            await current.send_batches("UNSUBSCRIBE", leaving)
            now = loop.time()
            if now - current.last_read > PING_SECONDS + REPLY_SECONDS:
                raise TimeoutError("no reply to PING on the Redis pub/sub connection")
            if now - current.last_read >= PING_SECONDS and now - current.last_ping >= PING_SECONDS:
                current.last_ping = now
                await current.send("PING")
