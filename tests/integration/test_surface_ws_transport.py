"""The WebSocket size limit at the transport, with Uvicorn configured as ``veo server`` does.

Below ``WS_MAX_SIZE`` a message reaches the protocol, which answers ``too_large`` for anything
over its 128 KiB; above it Uvicorn closes the connection with 1009 before buffering the whole
message (its default would hold up to 16 MiB per message in memory).
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator

import pytest
import uvicorn
import websockets
from websockets.exceptions import ConnectionClosed

from veo.config import Settings
from veo.protocol.base import MAX_MESSAGE_BYTES
from veo.server.app import create_app
from veo.server.main import WS_MAX_SIZE
from veo.tasks import spawn

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.filterwarnings("ignore:The `websockets` implementation is deprecated"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:websockets.*"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning:uvicorn.*"),
]


@pytest.fixture
async def ws_url(settings: Settings) -> AsyncIterator[str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings), log_level="warning", lifespan="on", ws="websockets", ws_max_size=WS_MAX_SIZE
    )
    server = uvicorn.Server(config)
    task = spawn(server.serve(sockets=[sock]), name="ws-limit-test")
    while not server.started:
        assert not task.done(), "the server stopped during start-up"
        await asyncio.sleep(0.02)
    try:
        yield f"ws://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def test_a_message_over_the_transport_limit_closes_1009(ws_url: str) -> None:
    async with websockets.connect(f"{ws_url}/ws/agent", max_size=None) as ws:
        await ws.send("x" * (WS_MAX_SIZE + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_a_message_under_it_gets_the_protocol_answer(ws_url: str) -> None:
    message = json.dumps({"v": 1, "type": "join", "code": "1" * (MAX_MESSAGE_BYTES + 1)})
    async with websockets.connect(f"{ws_url}/ws/agent", max_size=None) as ws:
        await ws.send(message)
        answer = json.loads(await ws.recv())
    assert answer["type"] == "error" and answer["code"] == "too_large"
