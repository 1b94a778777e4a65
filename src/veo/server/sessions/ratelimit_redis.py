"""The join limiter's counts in Redis, shared by every node (``VEO_REDIS_URL``; rules in ``ratelimit.py``).

Keys (``prefix`` is ``veo:`` in production, a random one in tests):

- ``<prefix>limit:fail:<group>``: sorted set of an address group's counted failures, member the
  slot's id, score the time in milliseconds; expires a window after its newest failure.
- ``<prefix>limit:p48:<prefix48>``: the same for an IPv6 /48.
- ``<prefix>limit:flight:<group>``: sorted set of the group's joins in flight, score the end of
  each slot's lease: a node that dies holding slots frees them when the leases end.
- ``<prefix>limit:flood``: hash of failures of all groups per 10-second bucket (bucket start in
  ms → count), for the flood threshold, as the memory store's buckets.

Deciding and counting are one Lua script (``ATTEMPT``): Redis runs a script with no other command
in between, so the joins of all nodes are decided one after the other, each seeing the failures
counted before it, and hundreds at once still get at most the allowance of lookups. Times are
whole milliseconds (Lua numbers are doubles, and Redis turns a script's numbers into integers);
without an injected clock the scripts read Redis's ``TIME``, one clock for every node.

Any Redis or connection error is raised as :class:`~veo.server.sessions.ratelimit.LimiterUnavailable`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from veo.server.redis_clients import redis_client
from veo.server.sessions.ratelimit import LimiterUnavailable, Rules, Slot, Verdict

#: Seconds to connect to Redis or wait for an answer before the join is refused as unavailable.
TIMEOUT_SECONDS = 2.0
#: Connections per node: each script takes well under a millisecond, so a few dozen serve
#: thousands of joins a second; more joins at once wait up to ``QUEUE_SECONDS`` for one.
CONNECTIONS = 32
QUEUE_SECONDS = 10.0
#: The flood count's buckets per window (the memory store's too).
BUCKETS = 60
#: What Redis or the network may raise; all of them mean "unavailable" to the join.
_UNAVAILABLE = (RedisError, OSError, TimeoutError)

# Every script's first lines: ``now`` in ms from ARGV[1], or from Redis's ``TIME`` when it is ''
# (one clock for every node); one copy so the scripts cannot drift apart on it.
_NOW = """
local now
if ARGV[1] == '' then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
else
  now = tonumber(ARGV[1])
end
"""

# KEYS: fail, p48 (ignored without a /48), flood.
# ARGV: now ms ('' for Redis's TIME), window ms, bucket ms, max, flood threshold, flood max,
#       /48 max, /48 flood max, slot id, has /48 ('1'/'0'), count ('1': attempt, '0': only look).
# Returns {allowed 0/1, failed, flooded 0/1, /48 failed, total, wait ms, now ms}.
_LOOK_AND_COUNT = (
    _NOW
    + """
local window = tonumber(ARGV[2])
local width = tonumber(ARGV[3])
local has_p48 = ARGV[10] == '1'
local since = now - window
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', since)
if has_p48 then redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', since) end
local total = 0
local buckets = redis.call('HGETALL', KEYS[3])
for i = 1, #buckets, 2 do
  if tonumber(buckets[i]) + width <= since then
    redis.call('HDEL', KEYS[3], buckets[i])
  else
    total = total + tonumber(buckets[i + 1])
  end
end
local flooded = total >= tonumber(ARGV[5])
local limit = flooded and tonumber(ARGV[6]) or tonumber(ARGV[4])
local plimit = flooded and tonumber(ARGV[8]) or tonumber(ARGV[7])
local failed = redis.call('ZCARD', KEYS[1])
local pfailed = 0
if has_p48 then pfailed = redis.call('ZCARD', KEYS[2]) end
local wait = 0
local function oldest_blocking(key, n, lim)
  if n >= lim then
    local at = redis.call('ZRANGE', key, n - lim, n - lim, 'WITHSCORES')
    local w = tonumber(at[2]) + window - now
    if w < 1 then w = 1 end
    if w > wait then wait = w end
  end
end
oldest_blocking(KEYS[1], failed, limit)
if has_p48 then oldest_blocking(KEYS[2], pfailed, plimit) end
local f = flooded and 1 or 0
if wait > 0 or ARGV[11] ~= '1' then
  return {0, failed, f, pfailed, total, wait, now}
end
local ttl = window + width
redis.call('ZADD', KEYS[1], now, ARGV[9])
redis.call('PEXPIRE', KEYS[1], ttl)
if has_p48 then
  redis.call('ZADD', KEYS[2], now, ARGV[9])
  redis.call('PEXPIRE', KEYS[2], ttl)
end
redis.call('HINCRBY', KEYS[3], now - now % width, 1)
redis.call('PEXPIRE', KEYS[3], ttl)
return {1, failed, f, pfailed, total, 0, now}
"""
)

# KEYS: flight. ARGV: now ms ('' for TIME), most in flight, slot id, lease ms. Returns 1 or 0.
_ENTER = (
    _NOW
    + """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[4]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[4]))
return 1
"""
)

# KEYS: fail, p48, flood. ARGV: slot id, bucket ms, has /48. Takes the slot's failure back.
_FORGIVE = """
local at = redis.call('ZSCORE', KEYS[1], ARGV[1])
if not at then return 0 end
at = tonumber(at)
redis.call('ZREM', KEYS[1], ARGV[1])
if ARGV[3] == '1' then redis.call('ZREM', KEYS[2], ARGV[1]) end
local bucket = at - at % tonumber(ARGV[2])
local n = tonumber(redis.call('HGET', KEYS[3], bucket) or '0')
if n > 0 then redis.call('HINCRBY', KEYS[3], bucket, -1) end
return 1
"""


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def _unavailable(exc: Exception) -> LimiterUnavailable:
    """Redis failed one of the limiter's steps: the join is refused, the log says why."""
    return LimiterUnavailable(f"Redis did not answer the join limiter: {exc}"[:300])


class RedisStore:
    def __init__(self, client: aioredis.Redis, *, prefix: str = "veo:") -> None:
        self._client = client
        #: Every key of this store starts so (``veo:limit:`` in production).
        self.keys_start = f"{prefix}limit:"
        self._look_and_count = client.register_script(_LOOK_AND_COUNT)
        self._enter = client.register_script(_ENTER)
        self._forgive = client.register_script(_FORGIVE)

    @classmethod
    def from_url(cls, url: str, *, prefix: str = "veo:") -> RedisStore:
        """A store with its own pool: at most ``CONNECTIONS``, a burst of joins waits its turn."""
        client = redis_client(
            url,
            purpose="join-limiter",
            timeout_seconds=TIMEOUT_SECONDS,
            decode_responses=True,
            max_connections=CONNECTIONS,
            queue_seconds=QUEUE_SECONDS,
        )
        return cls(client, prefix=prefix)

    def _keys(self, group: str, prefix: str | None) -> list[str]:
        # An IPv4 address has no /48: its key is named but never touched.
        return [
            f"{self.keys_start}fail:{group}",
            f"{self.keys_start}p48:{prefix or '-'}",
            f"{self.keys_start}flood",
        ]

    async def _run(self, script: Any, keys: list[str], args: list[str | int]) -> Any:
        try:
            return await script(keys=keys, args=args)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def _look(
        self, rules: Rules, group: str, prefix: str | None, now: float | None, *, slot: Slot | None = None
    ) -> list[int]:
        args: list[str | int] = [
            "" if now is None else _ms(now),
            _ms(rules.window),
            _ms(rules.window / BUCKETS),
            rules.max_failures,
            rules.flood_failures,
            rules.flood_max_failures,
            rules.prefix_max_failures,
            rules.prefix_flood_max_failures,
            slot.id if slot else "",
            "1" if prefix else "0",
            "1" if slot else "0",
        ]
        reply = await self._run(self._look_and_count, self._keys(group, prefix), args)
        return [int(value) for value in reply]

    # ------------------------------------------------------------------ reading

    async def failures(self, rules: Rules, group: str, now: float | None) -> int:
        return (await self._look(rules, group, None, now))[1]

    async def prefix_failures(self, rules: Rules, prefix: str | None, now: float | None) -> int:
        if prefix is None:
            return 0
        return (await self._look(rules, "-", prefix, now))[3]

    async def total_failures(self, rules: Rules, now: float | None) -> int:
        return (await self._look(rules, "-", None, now))[4]

    async def retry_after(self, rules: Rules, group: str, prefix: str | None, now: float | None) -> float:
        return (await self._look(rules, group, prefix, now))[5] / 1000

    async def tracked_groups(self) -> int:
        """Groups with a failure or a join in flight (a group with both is counted once)."""
        failing = {key.removeprefix(f"{self.keys_start}fail:") async for key in self._scan("fail:*")}
        flying = {key.removeprefix(f"{self.keys_start}flight:") async for key in self._scan("flight:*")}
        return len(failing | flying)

    async def _scan(self, pattern: str) -> AsyncIterator[str]:
        try:
            async for key in self._client.scan_iter(match=f"{self.keys_start}{pattern}", count=1000):
                yield key
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def tracked_prefixes(self) -> int:
        return len([key async for key in self._scan("p48:*")])

    # ------------------------------------------------------------------ one join

    async def enter(self, rules: Rules, slot: Slot, now: float | None) -> bool:
        args: list[str | int] = [
            "" if now is None else _ms(now),
            rules.max_in_flight,
            slot.id,
            _ms(rules.slot_lease),
        ]
        return bool(await self._run(self._enter, [f"{self.keys_start}flight:{slot.group}"], args))

    async def attempt(self, rules: Rules, slot: Slot, now: float | None) -> Verdict:
        allowed, failed, flooded, _pfailed, _total, wait, at = await self._look(
            rules, slot.group, slot.prefix, now, slot=slot
        )
        return Verdict(
            allowed=bool(allowed),
            failed=failed,
            flooded=bool(flooded),
            wait=wait / 1000,
            counted_at=at / 1000 if allowed else None,
        )

    async def forgive(self, rules: Rules, slot: Slot) -> None:
        args: list[str | int] = [slot.id, _ms(rules.window / BUCKETS), "1" if slot.prefix else "0"]
        await self._run(self._forgive, self._keys(slot.group, slot.prefix), args)

    async def leave(self, rules: Rules, slot: Slot) -> None:
        try:
            await self._client.zrem(f"{self.keys_start}flight:{slot.group}", slot.id)
        except _UNAVAILABLE as exc:
            raise _unavailable(exc) from exc

    async def close(self) -> None:
        await self._client.aclose()
