"""The device socket on the app: ``install(app)`` makes this node's :class:`DeviceLine`.

Call it after ``veo.server.sessions.routes.install(app)`` (the line rides on the hub: its node id,
its bus, its way of telling a session's peers that it ended). The line starts and stops through
``app.state.startup_hooks`` / ``shutdown_hooks`` (stopped before the hub: its hooks run in
reverse); an app without those lists gets its lifespan wrapped instead, as the sessions do.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI

from veo.server.devices import socket
from veo.server.devices.line import DeviceLine


def install(app: FastAPI) -> DeviceLine:
    """Create ``app.state.device_line`` and mount ``/ws/device``."""
    hub = getattr(app.state, "hub", None)
    if hub is None:
        raise RuntimeError("install the session routes before devices.routes.install(app)")
    line = DeviceLine(hub)
    app.state.device_line = line
    start_hooks: list[Any] | None = getattr(app.state, "startup_hooks", None)
    stop_hooks: list[Any] | None = getattr(app.state, "shutdown_hooks", None)
    if start_hooks is not None and stop_hooks is not None:
        start_hooks.append(line.start)
        stop_hooks.append(line.close)
    else:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> AsyncIterator[Any]:
            async with inner(a) as state:
                await line.start()
                try:
                    yield state
                finally:
                    await line.close()

        app.router.lifespan_context = lifespan
    app.include_router(socket.router)
    return line
