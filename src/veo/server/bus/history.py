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

import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final, NamedTuple

import redis.asyncio as aioredis

log = logging.getLogger(__name__)

#: About this many entries are kept per channel (``MAXLEN ~``: Redis trims whole nodes, so a few
#: more may stay). A subscriber that missed more than this relies on RESYNC alone.
HISTORY_LENGTH: Final = 500
#: The history of a channel expires this long after its last publish; far longer than a reconnect.
HISTORY_TTL_MS: Final = 300_000
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


async def latest(client: aioredis.Redis, key: str) -> EntryId:
    """The id of the newest entry of ``key``, or :data:`ORIGIN` if it has none (yet)."""
    newest = _entries(await client.xrevrange(key, count=1))
    return newest[0][0] if newest else ORIGIN


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
