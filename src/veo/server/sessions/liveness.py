"""Which nodes are alive, and the sweep that acts for the sessions of those that are not.

A session ends because its peers are gone, never because a node started. Each node writes a
heartbeat (``<prefix>node:<id>``: JSON ``{"node", "host", "pid", "version", "started", "time"}``,
unix seconds; it expires after :data:`HEARTBEAT_TTL_SECONDS` and is written again every
:data:`HEARTBEAT_SECONDS`); ``veo doctor`` reads the same keys for the node list and clock skew.
Without Redis (:class:`MemoryLiveness`) a node knows only itself, and the hubs registered on the
same object (tests of two hubs in one process).

Every node runs :func:`sweep` every few seconds (one query of the connected sessions, one read of
their states, one read of the heartbeats they name):

- an interrupted session whose deadline passed is ended (``interruptions.end_lost`` checks it
  again in its own transaction): a grace timer lost with its node is covered;
- a session whose agent socket is held by a node whose heartbeat has been missing for a whole
  heartbeat period (so a Redis restart, after which every node writes its heartbeat again within
  :data:`HEARTBEAT_SECONDS`, kills nobody) is interrupted (``link: server_restart``);
- a session the store says this node holds, but whose socket this node no longer has (it closed
  while the store was unreachable, so the drop was never recorded), is handled as that drop now;
- a session no node holds for :attr:`SignalingHub.unheld_grace_seconds` (its node died during
  the short wait before consent, or the store lost its state and nobody claimed it back) is
  interrupted too. With a private store (one node) a live session the store knows nothing about
  was left by a previous process: it is interrupted at once, as at every start before.

``interruptions.record_interrupted`` is conditional on the session's row (locked), so two nodes
sweeping at once write one interruption, and ending is conditional the same way.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Protocol

import redis.asyncio as aioredis

from veo import __version__
from veo.config import Settings
from veo.server.db.base import utcnow
from veo.server.redis_clients import redis_client
from veo.server.sessions import interruptions, resuming, txn
from veo.server.sessions.runtime_store import RuntimeStoreError

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub

log = logging.getLogger(__name__)

HEARTBEAT_SECONDS = 5.0
HEARTBEAT_TTL_SECONDS = 15
SWEEP_SECONDS = 5.0


class Liveness(Protocol):
    async def beat(self, node: str, started: float) -> None:
        """Say that ``node`` (started at ``started``) is alive, for the next heartbeat TTL."""

    async def alive(self, nodes: Iterable[str]) -> set[str]:
        """Those of ``nodes`` whose heartbeat has not expired."""

    async def forget(self, node: str) -> None:
        """``node`` stops (a clean shutdown): its heartbeat goes at once."""

    async def close(self) -> None:
        """Release connections."""


def heartbeat(node: str, started: float, now: float) -> str:
    """The heartbeat document (``veo doctor`` reads it: which nodes, which version, clock skew)."""
    info = {
        "node": node,
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "version": __version__,
        "started": started,
        "time": now,
    }
    return json.dumps(info, separators=(",", ":"))


class MemoryLiveness:
    """Nodes in this process: alive from their first beat until they are forgotten."""

    def __init__(self) -> None:
        self._nodes: set[str] = set()

    async def beat(self, node: str, started: float) -> None:
        self._nodes.add(node)

    async def alive(self, nodes: Iterable[str]) -> set[str]:
        return set(nodes) & self._nodes

    async def forget(self, node: str) -> None:
        self._nodes.discard(node)

    async def close(self) -> None:
        return None


class RedisLiveness:
    """Heartbeats in Redis, shared by every node."""

    def __init__(self, url: str, *, prefix: str = "veo:", ttl_seconds: int = HEARTBEAT_TTL_SECONDS) -> None:
        self._client: aioredis.Redis = redis_client(url, purpose="liveness", decode_responses=True)
        self.prefix = prefix
        self._ttl = ttl_seconds

    def _key(self, node: str) -> str:
        return f"{self.prefix}node:{node}"

    async def beat(self, node: str, started: float) -> None:
        await self._client.set(self._key(node), heartbeat(node, started, time.time()), ex=self._ttl)

    async def alive(self, nodes: Iterable[str]) -> set[str]:
        names = sorted(set(nodes))
        if not names:
            return set()
        found = await self._client.mget([self._key(n) for n in names])
        return {n for n, raw in zip(names, found, strict=True) if raw is not None}

    async def forget(self, node: str) -> None:
        await self._client.delete(self._key(node))

    async def close(self) -> None:
        await self._client.aclose()


def create_liveness(settings: Settings) -> Liveness:
    """Redis heartbeats when ``VEO_REDIS_URL`` is set, else this process's nodes only."""
    if not settings.redis_url:
        return MemoryLiveness()
    return RedisLiveness(settings.redis_url)


class DeadNodes:
    """Nodes whose heartbeat has been missing for a whole TTL, as one node's sweeps saw them.

    A heartbeat missing once is not enough: after a Redis restart every key is gone until each
    node writes its own again (within :data:`HEARTBEAT_SECONDS`).
    """

    def __init__(self, patience_seconds: float = HEARTBEAT_TTL_SECONDS) -> None:
        self.patience_seconds = patience_seconds
        self._missing_since: dict[str, float] = {}

    def update(self, named: set[str], alive: set[str], now: float) -> set[str]:
        for node in list(self._missing_since):
            if node in alive or node not in named:
                del self._missing_since[node]
        dead = set()
        for node in named - alive:
            since = self._missing_since.setdefault(node, now)
            if now - since >= self.patience_seconds:
                dead.add(node)
        return dead


async def sweep(hub: SignalingHub) -> None:
    """One pass over the connected sessions (see the module's docstring)."""
    rows = await txn.run(hub.db, interruptions.connected_sessions)
    if not rows:
        return
    states = await hub.store.get_many(row.id for row in rows)
    named = {
        rt.agent_node for rt in states.values() if rt.agent_node is not None and rt.agent_node != hub.node
    }
    alive = await hub.liveness.alive(named)
    dead = hub.dead_nodes.update(named, alive, time.monotonic())
    now, wall = utcnow(), hub.clock()
    for row in rows:
        try:
            rt = states.get(row.id)
            if rt is not None and rt.agent_node == hub.node and hub.agent_socket(row.id) is None:
                # this node's own drop that was never recorded (the store was unreachable when
                # the socket closed): recorded now, as if the socket had just closed
                hub.agent_dropped(row.id, rt.agent_generation)
                continue
            if row.resume_deadline is not None:
                if row.resume_deadline <= now:
                    await resuming.end_if_lost(hub, row.id)
                continue
            if (
                rt is None
                or (rt.agent_node is None and _unheld_too_long(hub, rt.unheld_since, wall))
                or rt.agent_node in dead
            ):
                await resuming.take_over(hub, row.id, holder=rt.agent_node if rt is not None else None)
        except RuntimeStoreError as exc:  # Redis went away mid-sweep: the next one goes on
            log.warning("the liveness sweep stopped: %s", exc)
            return
        except Exception:
            log.exception("session %s: the liveness sweep failed on it", row.id)


def _unheld_too_long(hub: SignalingHub, since: float | None, wall: float) -> bool:
    return since is None or wall - since >= hub.unheld_grace_seconds
