"""Remote sessions on the app: ``install(app)`` creates the bus and the hub and mounts the routes.

Call it after ``app.state.settings`` and ``app.state.db`` are set. The bus and hub are closed by
``app.state.shutdown_hooks`` (run by ``create_app``'s lifespan); an app without that list gets its
lifespan wrapped instead.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from veo.config import Settings
from veo.server.bus.auto import create_bus
from veo.server.db.engine import Database
from veo.server.sessions import api, pages, sockets
from veo.server.sessions.hub import SignalingHub

router = APIRouter()
router.include_router(pages.router)
router.include_router(api.router)
router.include_router(sockets.router)


def install(app: FastAPI) -> None:
    """Create ``app.state.bus`` and ``app.state.hub`` and mount the session routes."""
    settings: Settings | None = getattr(app.state, "settings", None)
    db: Database | None = getattr(app.state, "db", None)
    if settings is None or db is None:
        raise RuntimeError("set app.state.settings and app.state.db before sessions.routes.install(app)")
    bus = create_bus(settings)
    hub = SignalingHub(db=db, bus=bus, settings=settings)
    app.state.bus = bus
    app.state.hub = hub

    async def shutdown() -> None:
        await hub.close()
        await bus.close()

    hooks: list[Any] | None = getattr(app.state, "shutdown_hooks", None)
    if hooks is not None:
        hooks.append(shutdown)
    else:
        inner = app.router.lifespan_context

        @asynccontextmanager
        async def lifespan(a: Any) -> AsyncIterator[Any]:
            async with inner(a) as state:
                try:
                    yield state
                finally:
                    await shutdown()

        app.router.lifespan_context = lifespan
    app.include_router(router)
