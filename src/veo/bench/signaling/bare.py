"""The yardstick: what an idle WebSocket costs a bare Uvicorn app with ``veo server``'s options.

``python -m veo.bench.signaling.bare [N]`` starts a minimal ASGI app (accept, answer the first
message, then only wait) under Uvicorn with the same WebSocket protocol class, pings, size limit
and compression setting as ``veo server`` (``veo.server.main``), connects N simulated agents
(``peers.py``, each from its own loopback address) and prints the server's memory per socket and
its CPU over 20 s of idling. The difference to ``veo bench signaling``'s figure is what veo itself
keeps per joined agent. Run with ``serve PORT`` it is that server.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import time
import warnings
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import httpx

from veo.bench.signaling import peers, procfs
from veo.bench.signaling.nodes import HOST, free_port

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
IDLE_SECONDS = 20.0


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})
        return
    await receive()  # websocket.connect
    await send({"type": "websocket.accept"})
    await receive()  # the agent's first message
    await send({"type": "websocket.send", "text": '{"type":"joined"}'})
    while (await receive())["type"] != "websocket.disconnect":
        pass


def serve(port: int) -> None:
    warnings.filterwarnings("ignore", message="The `websockets` implementation is deprecated")
    import uvicorn

    from veo.server.main import WS_MAX_SIZE, WS_PER_MESSAGE_DEFLATE, WS_PING_SECONDS
    from veo.server.ws_protocol import QuickCloseWebSocketProtocol

    uvicorn.run(
        app,
        host=HOST,
        port=port,
        ws=QuickCloseWebSocketProtocol,
        log_level="warning",
        ws_max_size=WS_MAX_SIZE,
        ws_ping_interval=WS_PING_SECONDS,
        ws_ping_timeout=WS_PING_SECONDS,
        ws_per_message_deflate=WS_PER_MESSAGE_DEFLATE,
    )


def _ready(port: int) -> None:
    for _ in range(300):
        try:
            httpx.get(f"http://{HOST}:{port}/", timeout=1.0)
            return
        except httpx.HTTPError:
            time.sleep(0.1)


async def _measure(pid: int, port: int, count: int, idle_seconds: float) -> str:
    held: list[Any] = []
    gate = asyncio.Semaphore(64)

    async def one(index: int) -> None:
        async with gate:
            ws = await peers.open_agent(f"ws://{HOST}:{port}", index)
            await ws.send('{"type":"join"}')
            await ws.recv()
            held.append(ws)

    try:
        warm = 20  # the first sockets also pay for lazy imports and buffers: not counted
        await asyncio.gather(*(one(i) for i in range(warm)))
        await asyncio.sleep(2)
        before = procfs.usage(pid)
        await asyncio.gather(*(one(i) for i in range(warm, warm + count)))
        await asyncio.sleep(5)
        after = procfs.usage(pid)
        await asyncio.sleep(idle_seconds)
        end = procfs.usage(pid)
    finally:
        for ws in held:
            ws.transport.abort()
    return (
        f"bare uvicorn: {len(held) - warm} sockets, RSS {before.rss_kib / 1024:.0f} -> "
        f"{after.rss_kib / 1024:.0f} MiB, {(after.rss_kib - before.rss_kib) / count:.1f} KiB per socket "
        f"(PSS {(after.pss_kib - before.pss_kib) / count:.1f}), idle CPU "
        f"{100 * (end.cpu_s - after.cpu_s) / idle_seconds:.1f} % of one core"
    )


def measure(count: int, idle_seconds: float = IDLE_SECONDS) -> str:
    """Start the bare server, hold ``count`` idle agents on it, and say what they cost."""
    procfs.raise_open_files()
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "veo.bench.signaling.bare", "serve", str(port)])
    try:
        _ready(port)
        return asyncio.run(_measure(server.pid, port, count, idle_seconds))
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
    else:
        print(measure(int(sys.argv[1]) if len(sys.argv) > 1 else 1000))
