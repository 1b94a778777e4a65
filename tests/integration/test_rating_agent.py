"""The agent's side of the rating: its URL rule, and a real post to the real server over loopback."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from tests.integration.notify_support import free_port, manual_worker
from tests.integration.test_rating import _joined_session, _stored
from tests.support import BASE_URL

from veo.agent.rating import rating_url, send_rating
from veo.agent.urls import agent_ws_url
from veo.config import Settings
from veo.tasks import spawn


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_url=BASE_URL, outbox_poll_seconds=3600
    )


class _Server(uvicorn.Server):
    """Uvicorn that says when it listens (``started`` as an event, not a flag to poll)."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@pytest.fixture
async def served(app: FastAPI) -> AsyncIterator[str]:
    """The app on a real socket (its lifespan already ran in the ``app`` fixture)."""
    port = free_port()
    server = _Server(uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"))
    task = spawn(server.serve(), name="test-uvicorn")
    await asyncio.wait_for(server.listening.wait(), timeout=30)
    try:
        yield agent_ws_url(f"http://127.0.0.1:{port}")
    finally:
        server.should_exit = True
        await task


def test_rating_url_follows_the_signaling_address() -> None:
    assert rating_url("wss://support.example.org/ws/agent", "abc") == (
        "https://support.example.org/api/v1/sessions/abc/rating"
    )
    assert (
        rating_url("wss://example.org/help/ws/agent", "a/b")
        == "https://example.org/help/api/v1/sessions/a%2Fb/rating"
    )
    assert (
        rating_url("ws://127.0.0.1:8000/ws/agent", "s1") == "http://127.0.0.1:8000/api/v1/sessions/s1/rating"
    )


async def test_agent_sends_the_rating_once(app: FastAPI, served: str) -> None:
    await manual_worker(app)
    session_id, token = _joined_session(app)
    assert await send_rating(served, session_id, token, 4, "Gracias") is True
    assert _stored(app, session_id) == (4, "Gracias")
    # A second send (e.g. a retry after a lost answer) is not an error for the user, and changes nothing.
    assert await send_rating(served, session_id, token, 1, "") is True
    assert _stored(app, session_id) == (4, "Gracias")
    assert await send_rating(served, session_id, "forged", 5, "") is False


async def test_unreachable_server_is_reported_not_raised() -> None:
    ws_url = f"ws://127.0.0.1:{free_port()}/ws/agent"
    assert await send_rating(ws_url, "s1", "token", 5, "") is False
