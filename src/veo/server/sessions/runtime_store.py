"""Where every node keeps the sessions' protocol state (``runtime.py``), one lock per session.

The hub handles each message under :meth:`RuntimeStore.edit`: the session's lock is taken, its
state loaded, the step runs, the state is saved when the block ends. Two nodes (or two sockets
on one node) handling messages of one session therefore see each other's steps in order, which
is what lets the agent reach one node and the console another.

- :class:`MemoryRuntimeStore`: one node (no ``VEO_REDIS_URL``); an ``asyncio.Lock`` per session.
  It keeps JSON too, so the state's round trip is exercised on every test and every single-node
  install, not only with Redis.
- :class:`RedisRuntimeStore`: ``<prefix>rt:<id>`` (JSON, expires 24 h after its last save, so a
  session nobody touches any more cannot stay forever), locked with redis-py's ``Lock`` on
  ``<prefix>lock:<id>`` (it expires after 10 s: a node that dies holding it blocks nobody long).

A session that ended is :meth:`~RuntimeStore.drop`-ped: its state is deleted and a tombstone
(``<prefix>ended:<id>``, 5 minutes) is left, so an edit that loaded the state before the end
cannot save it back (the check and the write are one Lua script in Redis). The database stays
the durable truth: when the store has nothing for a live session the hub rebuilds it from the
session's row (``runtime.rebuild``).

Steps run while the lock is held and must not take it again (neither lock is re-entrant):
functions that steps call take the ``SessionRuntime`` they are given; only the hub's entry points
(a message, a dropped socket, the liveness sweep) call :meth:`~RuntimeStore.edit`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from typing import Protocol

import anyio
import redis.asyncio as aioredis
from redis.asyncio.lock import Lock
from redis.exceptions import LockError, RedisError

from veo.config import Settings
from veo.server.redis_clients import redis_client
from veo.server.sessions.runtime import SessionRuntime
from veo.tasks import spawn

log = logging.getLogger(__name__)

#: A session's state expires this long after its last save (a forgotten session cannot stay).
STATE_TTL_SECONDS = 24 * 3600
#: A dropped session's tombstone: longer than any edit can last.
TOMBSTONE_SECONDS = 300
#: The Redis lock expires after this (a node that died holding it), and a waiter gives up after
#: ``LOCK_WAIT_SECONDS`` (the message then gets ``server_error``, the peer may send it again).
LOCK_SECONDS = 10.0
LOCK_WAIT_SECONDS = 10.0


class RuntimeStoreError(RuntimeError):
    """The session's lock could not be taken in time, or the store cannot be reached (Redis down):
    the message is refused (``server_error``), except an end, which needs no state
    (``SignalingHub``'s fallback)."""


class StateNotSaved(RuntimeStoreError):
    """The step ran but its state was not saved: the session's lock was lost meanwhile (it could
    not be renewed in time), so another node may have edited the session. Raised after the block,
    so the peer gets ``server_error`` and the log says which session; the step is not run again."""


@dataclass
class Held:
    """One session's state while its lock is held: ``rt`` is saved when the block ends.

    ``rt`` is None when the store has nothing; the caller may set it (a rebuilt state) or leave
    it None (nothing is saved). ``ended``: the session was dropped recently (a tombstone), so
    nothing should be rebuilt. ``rebuilt``: ``rt`` was made from the database in this block (the
    hub's doing, not the store's).
    """

    rt: SessionRuntime | None
    ended: bool = False
    rebuilt: bool = False


class RuntimeStore(Protocol):
    #: Whether other nodes share this store: with a private one, a live session it knows nothing
    #: about was left by a previous process; with a shared one, a node may still hold it.
    shared: bool

    def edit(self, session_id: str) -> AbstractAsyncContextManager[Held]:
        """Take the session's lock, load its state, yield it; save it when the block ends."""

    async def get(self, session_id: str) -> SessionRuntime | None:
        """The session's last saved state, without the lock (for reading only)."""

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRuntime]:
        """The saved states of those sessions that have one."""

    async def drop(self, session_id: str) -> None:
        """The session ended: forget its state; a save already under way is refused."""

    async def ping(self) -> None:
        """Raise if the store cannot be used."""

    async def close(self) -> None:
        """Release the store's connections."""


class MemoryRuntimeStore:
    """One node's store: this process's memory, JSON like Redis, an ``asyncio.Lock`` per session."""

    shared = False

    def __init__(self) -> None:
        self._data: dict[str, str] = {}
        self._ended: dict[str, float] = {}
        #: session id -> [lock, users]: a lock lives only while someone holds or waits for it
        self._locks: dict[str, tuple[asyncio.Lock, list[int]]] = {}

    def _tombstone(self, session_id: str) -> bool:
        until = self._ended.get(session_id)
        if until is not None and until <= time.monotonic():
            del self._ended[session_id]
            return False
        return until is not None

    @asynccontextmanager
    async def edit(self, session_id: str) -> AsyncIterator[Held]:
        lock, users = self._locks.setdefault(session_id, (asyncio.Lock(), [0]))
        users[0] += 1
        try:
            async with lock:
                raw = self._data.get(session_id)
                held = Held(
                    SessionRuntime.loads(raw) if raw is not None else None, self._tombstone(session_id)
                )
                yield held
                if held.rt is not None and not self._tombstone(session_id):
                    self._data[session_id] = held.rt.dumps()
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._locks[session_id]

    async def get(self, session_id: str) -> SessionRuntime | None:
        raw = self._data.get(session_id)
        return SessionRuntime.loads(raw) if raw is not None else None

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRuntime]:
        return {i: SessionRuntime.loads(self._data[i]) for i in session_ids if i in self._data}

    async def drop(self, session_id: str) -> None:
        self._data.pop(session_id, None)
        now = time.monotonic()
        for old in [k for k, until in self._ended.items() if until <= now]:
            del self._ended[old]
        self._ended[session_id] = now + TOMBSTONE_SECONDS

    async def ping(self) -> None:
        return None

    async def close(self) -> None:
        return None


#: Save the state unless the session was dropped (tombstone) or the lock was lost (it expired and
#: another node may be editing): one script, so nothing runs between the checks and the write.
_SAVE = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
if redis.call('GET', KEYS[3]) ~= ARGV[3] then return -1 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


class RedisRuntimeStore:
    """Every node's store: one JSON document per session in Redis, locked with redis-py's ``Lock``."""

    shared = True

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "veo:",
        lock_seconds: float = LOCK_SECONDS,
        lock_wait_seconds: float = LOCK_WAIT_SECONDS,
    ) -> None:
        # bounded: a step waiting on a Redis that went away fails (``server_error``), never hangs
        self._client: aioredis.Redis = redis_client(url, purpose="runtime-store")
        self.prefix = prefix
        self._lock_seconds = lock_seconds
        self._lock_wait_seconds = lock_wait_seconds
        self._save = self._client.register_script(_SAVE)

    def _key(self, session_id: str) -> str:
        return f"{self.prefix}rt:{session_id}"

    def _ended_key(self, session_id: str) -> str:
        return f"{self.prefix}ended:{session_id}"

    @asynccontextmanager
    async def edit(self, session_id: str) -> AsyncIterator[Held]:
        name = f"{self.prefix}lock:{session_id}"
        lock = self._client.lock(
            name,
            timeout=self._lock_seconds,
            blocking_timeout=self._lock_wait_seconds,
            sleep=0.01,
            thread_local=False,
        )
        token = secrets.token_hex(16).encode()
        try:
            acquired = await lock.acquire(token=token)
        except RedisError as exc:
            raise RuntimeStoreError(f"session {session_id}: the runtime store is unreachable") from exc
        if not acquired:
            raise RuntimeStoreError(f"session {session_id}: its lock was not free in time")
        watchdog: asyncio.Task[None] | None = None
        try:
            try:
                raw, ended = await self._client.mget([self._key(session_id), self._ended_key(session_id)])
            except RedisError as exc:
                raise RuntimeStoreError(f"session {session_id}: the runtime store is unreachable") from exc
            watchdog = spawn(self._renew(session_id, lock), name=f"veo-lock-{session_id}")
            held = Held(SessionRuntime.loads(raw) if raw is not None else None, ended is not None)
            yield held
            if held.rt is not None:
                await self._store(session_id, name, token, held.rt)
        finally:
            if watchdog is not None:
                watchdog.cancel()
            # shielded: a step cancelled with its socket (the server, ``_pump``) still frees the
            # lock at once, rather than making the session's next messages wait for it to expire
            with anyio.CancelScope(shield=True):
                try:
                    await lock.release()
                except (LockError, RedisError):
                    log.debug("session %s: the lock had expired already", session_id)

    async def _renew(self, session_id: str, lock: Lock) -> None:
        """Keep the session's lock while the step runs (a slow database, a bus publish retrying).

        A renewal that Redis does not answer is tried again at the next beat (the lock may still
        be ours); once the token is gone the lock was lost and the save will say so.
        """
        while True:
            await asyncio.sleep(self._lock_seconds / 3)
            try:
                await lock.reacquire()
            except LockError:
                log.warning("session %s: its lock was lost during a step", session_id)
                return
            except RedisError as exc:
                log.warning("session %s: renewing its lock failed: %s", session_id, exc)

    async def _store(self, session_id: str, lock: str, token: bytes, rt: SessionRuntime) -> None:
        """Save after a step. Redis unreachable: logged (the step's work is done, the next step
        rebuilds what it needs); the lock lost: :class:`StateNotSaved`, loudly."""
        try:
            saved = await self._save(
                keys=[self._key(session_id), self._ended_key(session_id), lock],
                args=[rt.dumps(), STATE_TTL_SECONDS, token],
            )
        except RedisError:
            log.warning("session %s: the runtime store is unreachable; the step's state is lost", session_id)
            return
        if saved == -1:
            log.error("session %s: its lock was lost during a step; state not saved", session_id)
            raise StateNotSaved(f"session {session_id}: its lock was lost during a step; state not saved")

    async def get(self, session_id: str) -> SessionRuntime | None:
        try:
            raw = await self._client.get(self._key(session_id))
        except RedisError as exc:
            raise RuntimeStoreError("the runtime store is unreachable") from exc
        return SessionRuntime.loads(raw) if raw is not None else None

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRuntime]:
        ids = list(session_ids)
        if not ids:
            return {}
        try:
            raws = await self._client.mget([self._key(i) for i in ids])
        except RedisError as exc:
            raise RuntimeStoreError("the runtime store is unreachable") from exc
        return {i: SessionRuntime.loads(raw) for i, raw in zip(ids, raws, strict=True) if raw is not None}

    async def drop(self, session_id: str) -> None:
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.set(self._ended_key(session_id), b"1", ex=TOMBSTONE_SECONDS)
                pipe.delete(self._key(session_id))
                await pipe.execute()
        except RedisError as exc:
            raise RuntimeStoreError(f"session {session_id}: the runtime store is unreachable") from exc

    async def ping(self) -> None:
        await self._client.ping()

    async def close(self) -> None:
        await self._client.aclose()


def create_runtime_store(settings: Settings) -> RuntimeStore:
    """Redis when ``VEO_REDIS_URL`` is set (``bus/auto.py`` checked the URL), else this process."""
    if not settings.redis_url:
        return MemoryRuntimeStore()
    return RedisRuntimeStore(settings.redis_url)
