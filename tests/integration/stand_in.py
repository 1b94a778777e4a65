"""A WebSocket server on a thread of its own inside a private network namespace: what the agent
tests' stand-ins for the server (and console) run on.

The agent under test runs in the namespace too, so it reaches nothing but this server. A subclass
answers each connection in :meth:`ThreadedServer.handle`; ``start``/``stop`` (or ``with``) run
and end it from the test's thread.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Self

from tests.netns import enter_netns
from websockets.asyncio.server import ServerConnection, serve


class ThreadedServer:
    """``serve(self.handle, "127.0.0.1", port)`` inside ``netns``, on a daemon thread."""

    def __init__(self, netns: str, port: int, *, name: str = "stand-in") -> None:
        self.netns = netns
        self.port = port
        self.loop: asyncio.AbstractEventLoop | None = None
        self.stopped: asyncio.Event | None = None
        self.ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    async def handle(self, ws: ServerConnection) -> None:
        raise NotImplementedError

    def start(self) -> None:
        self._thread.start()
        assert self.ready.wait(30)

    def stop(self) -> None:
        if self.loop is not None and self.stopped is not None:
            self.loop.call_soon_threadsafe(self.stopped.set)
        self._thread.join(30)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _run(self) -> None:
        enter_netns(self.netns)
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.stopped = asyncio.Event()
        async with serve(self.handle, "127.0.0.1", self.port):
            self.ready.set()
            await self.stopped.wait()
