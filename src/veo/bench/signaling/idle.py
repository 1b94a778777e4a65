"""Idle agents: N joined agent sockets that stay open and only answer the server's pings.

The agents join in waves of ``JOIN_CONCURRENCY`` (each from its own loopback address), spread
round-robin over the nodes. Once all are in, the nodes settle for ``SETTLE_SECONDS``; their
memory is then read, and their CPU seconds over ``duration`` seconds of idling: what holding the
connections costs (the server pings every agent every 5 s and the agents ping back, as
``veo agent`` does, so "idle" includes the keepalive traffic).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

from websockets.asyncio.client import ClientConnection

from veo.bench.signaling import peers
from veo.bench.signaling.nodes import Node
from veo.bench.signaling.world import Waiting
from veo.tasks import spawn

#: Joins in flight at once (each is a database transaction on its node).
JOIN_CONCURRENCY = 16
#: Seconds the nodes get after the last join before they are measured.
SETTLE_SECONDS = 5.0


@dataclass
class Held:
    sockets: list[ClientConnection]
    #: node name -> agents it holds
    per_node: dict[str, int]
    failures: dict[str, int]
    join_seconds: float
    #: sockets on which the server accepted permessage-deflate (the agents offer it)
    compressed: int = 0


async def _join_one(
    node: Node, waiting: Waiting, index: int, compression: bool, gate: asyncio.Semaphore
) -> ClientConnection | str:
    """The joined socket, or why it could not join (a failure is counted, not raised)."""
    async with gate:
        try:
            ws = await peers.open_agent(node.ws, index, compression=compression)
        except Exception as exc:
            return f"{type(exc).__name__}: {exc}"[:160]
        try:
            await peers.send(ws, peers.join(waiting.code))
            await peers.expect(ws, "joined")
        except Exception as exc:
            await ws.close()
            return f"{type(exc).__name__}: {exc}"[:160]
        return ws


def tally_nodes(sockets: Iterable[ClientConnection], nodes: Sequence[Node], per_node: dict[str, int]) -> int:
    """Counts each socket to the node holding it (by the port it reached) into ``per_node``;
    returns how many of them negotiated compression. Agents here and devices (``devices.py``)."""
    ports = {n.port: n.name for n in nodes}
    compressed = 0
    for ws in sockets:
        per_node[ports[ws.remote_address[1]]] += 1
        compressed += bool(ws.protocol.extensions)
    return compressed


def abort_all(sockets: Iterable[ClientConnection]) -> None:
    """Drops the connections without waiting for each closing handshake: the nodes are stopped
    right after."""
    for ws in sockets:
        with contextlib.suppress(Exception):
            ws.transport.abort()


@asynccontextmanager
async def holding(
    nodes: list[Node],
    waiting: list[Waiting],
    *,
    compression: bool,
    progress: Callable[[str], None],
    first_index: int = 0,
) -> AsyncIterator[Held]:
    """Join an agent for every waiting session (source addresses from ``first_index`` on); they
    stay connected until the block ends."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    gate = asyncio.Semaphore(JOIN_CONCURRENCY)
    tasks = [
        spawn(
            _join_one(nodes[i % len(nodes)], w, first_index + i, compression, gate),
            name=f"veo-bench-join-{i}",
        )
        for i, w in enumerate(waiting)
    ]
    held = Held(sockets=[], per_node={n.name: 0 for n in nodes}, failures={}, join_seconds=0.0)
    step = max(1, len(tasks) // 10)
    try:
        for done, task in enumerate(asyncio.as_completed(tasks), start=1):
            got = await task
            if isinstance(got, str):
                held.failures[got] = held.failures.get(got, 0) + 1
            else:
                held.sockets.append(got)
            if done % step == 0:
                progress(f"{done}/{len(tasks)} agents joined or failed")
        held.compressed = tally_nodes(held.sockets, nodes, held.per_node)
        held.join_seconds = round(loop.time() - began, 1)
        yield held
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        abort_all(held.sockets)
