"""Redis bus, for several server nodes (``VEO_REDIS_URL``), that survives a Redis restart.

Shape: ONE pub/sub connection per node (``redis_link.PubSubLink``) carries every channel, and the
bus fans each message out to the local subscriptions, each a bounded ``local.LocalQueue`` that
drops its oldest message when its consumer falls behind (as the memory bus). Entering
``subscribe`` returns once Redis confirmed the channel, so a message published right after is not
lost.

Restart: each publish also appends the message to a short history stream (``history.py``) and the
pub/sub payload carries the entry id. Every subscription remembers the last id it delivered; when
the connection comes back the link subscribes everything again, the bus reads each channel's
entries after that id, delivers them in order, drops the pub/sub copies it already has, and then
yields ``base.RESYNC`` so the consumer sends its whole state again. Ids are millisecond times, so
after a Redis restart without persistence the new stream's ids are larger than the old ones and
everything published since the restart is replayed; with persistence the stream comes back with
its old ids, and only what this node had not delivered is.

What cannot be recovered, and why RESYNC exists:
- a message whose publish completed just before Redis died but that this node had not read yet:
  Redis loses both the pub/sub copy and (without persistence) its history entry;
- more than ``HISTORY_LENGTH`` messages missed on one channel, or a node away longer than
  ``HISTORY_TTL_MS`` from a channel nobody publishes on: the oldest are trimmed or expired;
- a history evicted by Redis itself (a ``maxmemory-policy`` that evicts keys);
- a message dropped by a full local queue (a consumer far behind);
- after a restart without persistence, if the clock went back by more than Redis was down: the
  new stream's first ids are below the last one seen, and count as seen.
A publish whose reply was lost on a connection that broke while Redis stayed up is retried, so
that rare message may arrive twice (at least once rather than silently none).

Publishing while Redis is down retries with backoff for ``wait_seconds``
(:data:`PUBLISH_WAIT_SECONDS`), then raises ``BusUnavailableError``; entering ``subscribe`` has the
same bound. ``ping`` answers from the link's state and one PING, so ``/readyz`` says "bus" while
the connection is down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Final

import redis.asyncio as aioredis
from redis.backoff import EqualJitterBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from veo.server.bus import history
from veo.server.bus.base import RESYNC, BusClosedError, BusUnavailableError
from veo.server.bus.history import EntryId
from veo.server.bus.local import DEFAULT_QUEUE_SIZE, LocalQueue
from veo.server.bus.redis_link import PubSubLink
from veo.server.redis_clients import redis_client

log = logging.getLogger(__name__)

#: How long a publish (or entering ``subscribe``) keeps retrying while Redis is unreachable.
PUBLISH_WAIT_SECONDS: Final = 20.0
RETRY_FIRST_SECONDS: Final = 0.05
RETRY_CAP_SECONDS: Final = 1.0

_UNREACHABLE = (RedisConnectionError, RedisTimeoutError)


def _retry_delays() -> EqualJitterBackoff:
    return EqualJitterBackoff(cap=RETRY_CAP_SECONDS, base=RETRY_FIRST_SECONDS)


class _Listener(LocalQueue):
    """A subscription: its queue plus the last history entry it delivered."""

    def __init__(self, channel: str, maxsize: int) -> None:
        super().__init__(channel, maxsize)
        self.last: EntryId | None = None
        #: Set once the block started: from then on a reconnect replays for it and yields RESYNC.
        self.ready = False

    def deliver(self, entry: EntryId, message: str) -> bool:
        """Queue ``message`` unless this subscription already delivered ``entry`` (or a later one)."""
        if self.last is not None and entry <= self.last:
            return False
        self.last = entry
        self.put(message)
        return True

    def start_after(self, newest: EntryId) -> None:
        self.last = newest if self.last is None else max(self.last, newest)
        self.ready = True


class _Channel:
    """This node's subscriptions to one channel, and whether Redis confirmed it."""

    __slots__ = ("confirmed", "listeners")

    def __init__(self) -> None:
        self.listeners: set[_Listener] = set()
        self.confirmed = asyncio.Event()


class RedisBus:
    """The bus of a node among several; see the module docstring for what it guarantees.

    ``prefix`` starts every Redis name it uses (history streams and pub/sub channels
    ``<prefix>bus:<channel>``), so tests can share a Redis server.
    """

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "veo:",
        queue_size: int = DEFAULT_QUEUE_SIZE,
        wait_seconds: float = PUBLISH_WAIT_SECONDS,
    ) -> None:
        # the node's one client policy (``redis_clients.py``): longer outages than its one
        # immediate retry are publish's and subscribe's own bounded retries
        self._client: aioredis.Redis = redis_client(url, purpose="bus", decode_responses=True)
        self._publish_script = self._client.register_script(history.PUBLISH_SCRIPT)
        self._newest = history.NewestIds(self._client)
        self._link = PubSubLink(
            url,
            on_message=self._dispatch,
            on_confirmed=self._confirmed,
            on_connected=self._catch_up,
            on_lost=self._lost,
        )
        self._prefix = prefix
        self._queue_size = queue_size
        self._wait = wait_seconds
        self._channels: dict[str, _Channel] = {}
        self._server: str | None = None
        self._closed = False
        #: Messages delivered from history after reconnects, and the reconnects themselves.
        self.replayed = 0
        self.resyncs = 0

    def _key(self, channel: str) -> str:
        return f"{self._prefix}bus:{channel}"

    async def publish(self, channel: str, message: str) -> None:
        if self._closed:
            return
        key = self._key(channel)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        delays = _retry_delays()
        failures = 0
        while True:
            try:
                await self._publish_script(
                    keys=[key], args=[message, history.HISTORY_LENGTH, history.HISTORY_TTL_MS]
                )
                return
            except _UNREACHABLE as exc:
                if self._closed:
                    return
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise BusUnavailableError(
                        f"Redis did not take a message for {channel} within {self._wait:g} s: {exc}"
                    ) from exc
                # the link already warns about the lost connection, once for all publishers
                log.debug("Redis bus publish failed, retrying: %s", exc)
                await asyncio.sleep(min(remaining, delays.compute(failures)))
                failures += 1
            except RedisError as exc:  # Redis answered no (out of memory, read-only replica...)
                raise BusUnavailableError(f"Redis refused a message for {channel}: {exc}") from exc

    @asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[AsyncIterator[str]]:
        name = self._key(channel)
        listener = _Listener(channel, self._queue_size)
        if self._closed:
            listener.close()
            yield listener.messages()
            return
        entry = self._channels.get(name)
        if entry is None:
            entry = self._channels[name] = _Channel()
            if self._link.confirmed(name):  # left and joined again before Redis heard of it
                entry.confirmed.set()
            self._link.want(name)
        entry.listeners.add(listener)
        try:
            await self._settle(name, entry, listener)
            yield listener.messages()
        finally:
            entry.listeners.discard(listener)
            if not entry.listeners and self._channels.get(name) is entry:
                del self._channels[name]
                self._link.drop(name)

    async def _settle(self, name: str, entry: _Channel, listener: _Listener) -> None:
        """Wait for Redis to confirm ``name`` and note where its history stands, within the bound.

        The newest entry id at that moment is where a later replay starts: the entries before it
        were published before this subscription began.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._wait
        delays = _retry_delays()
        failures = 0
        while not self._closed:
            try:
                async with asyncio.timeout_at(deadline):
                    await entry.confirmed.wait()
                    if self._closed:
                        break
                    generation = self._link.generation
                    newest = await self._newest.get(name)
            except TimeoutError as exc:
                raise BusUnavailableError(
                    f"Redis did not confirm a subscription within {self._wait:g} s"
                ) from exc
            except _UNREACHABLE:
                await asyncio.sleep(max(0.0, min(deadline - loop.time(), delays.compute(failures))))
                failures += 1
                continue
            if generation == self._link.generation and entry.confirmed.is_set():
                listener.start_after(newest)
                return
        listener.close()

    def _dispatch(self, name: str, payload: str) -> None:
        entry = self._channels.get(name)
        if entry is None:
            return  # unsubscribed meanwhile
        decoded = history.decode(payload)
        if decoded is None:
            log.warning("ignored a message without a history id on %s", name)
            return
        for listener in entry.listeners:
            listener.deliver(*decoded)

    def _confirmed(self, name: str) -> None:
        entry = self._channels.get(name)
        if entry is not None:
            entry.confirmed.set()

    def _lost(self) -> None:
        for entry in self._channels.values():
            entry.confirmed.clear()

    async def _catch_up(self) -> None:
        """After a (re)connect: replay each started subscription's missed history, then RESYNC.

        Runs before the link hands over any message of the new connection, so the replayed
        entries come first and their pub/sub copies are recognised by id and skipped.
        """
        info = await self._client.info("server")
        server = str(info["run_id"])
        restarted = self._server is not None and server != self._server
        self._server = server
        behind = {
            name: [listener for listener in entry.listeners if listener.ready]
            for name, entry in self._channels.items()
        }
        behind = {name: listeners for name, listeners in behind.items() if listeners}
        if not behind:
            return
        if restarted:
            log.warning("Redis restarted (new run_id): catching up on %d channels", len(behind))
        starts = {name: _earliest(listeners) for name, listeners in behind.items()}
        missed = await history.after(self._client, starts)
        for name, listeners in behind.items():
            for listener in listeners:
                for entry_id, message in missed.get(name, ()):
                    self.replayed += listener.deliver(entry_id, message)
                listener.put(RESYNC)
        self.resyncs += 1

    async def ping(self) -> None:
        if self._closed:
            raise BusClosedError("the bus is closed")
        if self._link.started and not self._link.connected:
            raise BusUnavailableError("the Redis pub/sub connection is down (reconnecting)")
        try:
            await self._client.ping()
        except _UNREACHABLE as exc:
            raise BusUnavailableError(f"Redis does not answer: {exc}") from exc

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for entry in self._channels.values():
            entry.confirmed.set()  # releases subscriptions still waiting for Redis
            for listener in entry.listeners:
                listener.close()
        await self._link.aclose()
        await self._client.aclose()


def _earliest(listeners: list[_Listener]) -> EntryId | None:
    """Where to start reading for these subscriptions: the oldest last id (None: everything)."""
    lasts = [listener.last for listener in listeners]
    if any(last is None for last in lasts):
        return None
    return min(last for last in lasts if last is not None)
