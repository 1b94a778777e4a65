"""Remote sessions: pages, REST routes and the signaling WebSockets (placeholder, being built)."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

router = APIRouter()


def install(app: FastAPI) -> None:
    """Create the bus and the hub on ``app.state`` and mount the session routes."""
    app.include_router(router)
