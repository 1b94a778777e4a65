"""Remote sessions on the app: ``install(app)`` creates the bus and the hub and mounts the routes.

Call it after ``app.state.settings`` and ``app.state.db`` are set. It makes the data directory's
code secret the one codes are digested with (``code_secret.py``). The hub starts through
``app.state.startup_hooks`` (its heartbeat and a first liveness sweep: what a previous process
left live is interrupted, not ended) and the bus and hub close through
``app.state.shutdown_hooks``, both run by ``create_app``'s lifespan; an app without those lists
gets its lifespan wrapped instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from veo.config import Settings
from veo.server.bus.auto import create_bus
from veo.server.db.engine import Database
from veo.server.sessions import api, attachments, code_secret, pages, sockets
from veo.server.sessions.hub import SignalingHub
from veo.server.sessions.liveness import create_liveness
from veo.server.sessions.ratelimit import create_limiter
from veo.server.sessions.runtime_store import create_runtime_store

router = APIRouter()
router.include_router(pages.router)
router.include_router(api.router)
router.include_router(attachments.router)
router.include_router(sockets.router)


def install(app: FastAPI) -> None:
    """Create ``app.state.bus`` and ``app.state.hub`` and mount the session routes."""
    settings: Settings | None = getattr(app.state, "settings", None)
    db: Database | None = getattr(app.state, "db", None)
    if settings is None or db is None:
        raise RuntimeError("set app.state.settings and app.state.db before sessions.routes.install(app)")
    code_secret.use(settings.data_dir)
    bus = create_bus(settings)
    # the sessions' protocol state and the nodes' heartbeats: Redis with the Redis bus
    hub = SignalingHub(
        db=db,
        bus=bus,
        settings=settings,
        limiter=create_limiter(settings),
        store=create_runtime_store(settings),
        liveness=create_liveness(settings),
    )
    app.state.bus = bus
    app.state.hub = hub

    async def shutdown() -> None:
        await hub.close()
        await hub.limiter.close()
        await bus.close()

    start_hooks: list[Any] | None = getattr(app.state, "startup_hooks", None)
    stop_hooks: list[Any] | None = getattr(app.state, "shutdown_hooks", None)
    if start_hooks is not None and stop_hooks is not None:
        start_hooks.append(hub.start)
        stop_hooks.append(shutdown)
    else:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> AsyncIterator[Any]:
            async with inner(a) as state:
                await hub.start()
                try:
                    yield state
                finally:
                    await shutdown()

        app.router.lifespan_context = lifespan
    app.include_router(router)
