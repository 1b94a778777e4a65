"""The asyncio event loop of the agent, in a worker thread (Tk owns the main thread).

Tk must run on the main thread on every platform, and a Tk callback must never wait on the
network; so signaling and WebRTC live on this loop and the two sides only exchange messages:
``call`` / ``submit`` into the loop (``call_soon_threadsafe``), a queue out of it.

The stream hands each frame from thread to thread (this loop, the capture thread, aiortc's
encoder thread, x264's): a thread that wants the GIL back while another runs Python waits up to
the interpreter's switch interval, 5 ms by default. :data:`GIL_SWITCH_SECONDS` shortens it for
the whole agent when the loop starts.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

T = TypeVar("T")

#: the agent's GIL switch interval: 1080p scrolling, alternated three times with the default
#: 5 ms (``veo bench stream``, 2026-12-07): latency 18 / 17 / 18 ms against 24 / 21 / 23, agent
#: CPU 37 / 36 / 34 % against 40 / 37 / 35, typing unchanged (10 / 10 / 8 against 11 / 9 / 8)
GIL_SWITCH_SECONDS = 0.0005


class LoopThread:
    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name="veo-agent-loop", daemon=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()
        self.loop.run_until_complete(self.loop.shutdown_asyncgens())
        self.loop.close()

    def start(self) -> None:
        sys.setswitchinterval(GIL_SWITCH_SECONDS)
        self._thread.start()

    def submit(self, coro: Coroutine[Any, Any, T]) -> Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def call(self, fn: Callable[..., object], *args: object) -> None:
        self.loop.call_soon_threadsafe(fn, *args)

    def stop(self, timeout: float = 5.0) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout)
