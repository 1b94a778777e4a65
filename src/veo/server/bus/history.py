"""A short history per Redis bus channel, so a subscriber that lost its connection can catch up.

Redis pub/sub forgets whatever is published while a subscriber is disconnected. Each publish
therefore also appends the message to a capped stream ``<prefix>bus:<channel>`` (the same name is
the pub/sub channel) and publishes ``"<entry id> <message>"``, in ONE Lua script: one round trip,
and no subscriber can see the pub/sub message without the entry existing. The stream keeps about
:data:`HISTORY_LENGTH` entries and expires :data:`HISTORY_TTL_MS` after its last publish, so an
idle channel costs nothing.

Entry ids are ``<milliseconds>-<sequence>`` and only grow within one stream, so a subscriber that
remembers the last id it delivered asks for the entries after it (``XRANGE (id +``) and drops any
pub/sub copy it already has.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

import redis.asyncio as aioredis

from veo.tasks import spawn

#: About this many entries are kept per channel (``MAXLEN ~``: Redis trims whole nodes, so up to
#: 100 more may stay). A subscriber that missed more than this relies on RESYNC alone. Signaling
#: is a few messages a second, so this covers a gap of many seconds; it is also the bound on what
#: a peer sending the largest messages (128 KiB) can make Redis hold: about 40 MiB per channel.
HISTORY_LENGTH: Final = 200
#: The history of a channel expires this long after its last publish: far longer than a node needs
#: to reconnect (its backoff stops growing at 2 s), short enough that idle channels cost nothing.
HISTORY_TTL_MS: Final = 120_000
#: Channels read per pipeline when catching up after a reconnect.
REPLAY_BATCH: Final = 200

#: KEYS[1] stream and channel; ARGV message, max length, time to live (ms).
PUBLISH_SCRIPT: Final = """
local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[2], '*', 'm', ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('PUBLISH', KEYS[1], id .. ' ' .. ARGV[1])
return id
"""


class EntryId(NamedTuple):
    """A stream entry id, ordered as Redis orders them."""

    ms: int
    seq: int

    @classmethod
    def parse(cls, text: str) -> EntryId:
        ms, _, seq = text.partition("-")
        return cls(int(ms), int(seq))

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"


#: Lower than every id Redis assigns: "everything in the stream".
ORIGIN: Final = EntryId(0, 0)


def decode(payload: str) -> tuple[EntryId, str] | None:
    """Split a pub/sub payload into its entry id and message; None if it is not ours."""
    head, sep, message = payload.partition(" ")
    if not sep:
        return None
    try:
        return EntryId.parse(head), message
    except ValueError:
        return None


def _entries(reply: Any) -> list[tuple[EntryId, str]]:
    return [(EntryId.parse(entry_id), fields.get("m", "")) for entry_id, fields in reply or ()]


class NewestIds:
    """Where each channel's history stands, asked for by many new subscriptions at once.

    A thousand agents connecting together would otherwise send a thousand XREVRANGE at once and
    open as many pooled connections: the requests of one moment share one pipeline instead.
    """

    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._waiting: dict[str, list[asyncio.Future[EntryId]]] = {}
        self._flushing: asyncio.Task[None] | None = None

    async def get(self, key: str) -> EntryId:
        """The id of the newest entry of ``key``, or :data:`ORIGIN` if it has none (yet)."""
        answer: asyncio.Future[EntryId] = asyncio.get_running_loop().create_future()
        self._waiting.setdefault(key, []).append(answer)
        if self._flushing is None or self._flushing.done():
            self._flushing = spawn(self._flush(), name="veo-bus-newest-ids")
        return await answer

    async def _flush(self) -> None:
        await asyncio.sleep(0)  # let the subscriptions of this moment join the batch
        while self._waiting:
            batch, self._waiting = self._waiting, {}
            try:
                newest = await self._read(list(batch))
            except Exception as exc:  # each waiting subscription decides what to do with it
                for answers in batch.values():
                    for answer in answers:
                        if not answer.done():
                            answer.set_exception(exc)
                continue
            for key, answers in batch.items():
                for answer in answers:
                    if not answer.done():
                        answer.set_result(newest[key])

    async def _read(self, keys: list[str]) -> dict[str, EntryId]:
        found: dict[str, EntryId] = {}
        for first in range(0, len(keys), REPLAY_BATCH):
            batch = keys[first : first + REPLAY_BATCH]
            async with self._client.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.xrevrange(key, count=1)
                replies = await pipe.execute()
            for key, reply in zip(batch, replies, strict=True):
                entries = _entries(reply)
                found[key] = entries[0][0] if entries else ORIGIN
        return found


async def after(
    client: aioredis.Redis, starts: Mapping[str, EntryId | None]
) -> dict[str, list[tuple[EntryId, str]]]:
    """Each key's entries after its start id (all of them for None), oldest first, pipelined."""
    found: dict[str, list[tuple[EntryId, str]]] = {}
    keys: Sequence[str] = list(starts)
    for first in range(0, len(keys), REPLAY_BATCH):
        batch = keys[first : first + REPLAY_BATCH]
        async with client.pipeline(transaction=False) as pipe:
            for key in batch:
                start = starts[key]
                pipe.xrange(key, min="-" if start is None else f"({start}", max="+")
            replies = await pipe.execute()
        for key, reply in zip(batch, replies, strict=True):
            found[key] = _entries(reply)
    return found
