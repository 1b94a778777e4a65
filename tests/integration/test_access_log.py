"""Uvicorn's access log never holds a join code, a rating token or another secret of an address.

A real Uvicorn server on a loopback port, started as ``veo server`` starts it (``log_config=None``:
Uvicorn's loggers propagate to the root logger that ``veo server`` sends to stderr); the test
reads the records that reach the root logger.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from pathlib import Path

import httpx
import pytest
import uvicorn
import websockets

from veo.config import Settings
from veo.server.accesslog import redact_target
from veo.server.app import create_app
from veo.tasks import spawn

pytestmark = pytest.mark.timeout(60)
CODE = "123456789"


async def test_access_lines_carry_no_secrets(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="uvicorn.access")
    caplog.set_level(logging.INFO, logger="uvicorn.error")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    base = f"http://127.0.0.1:{sock.getsockname()[1]}"
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'veo.db'}", public_url=base
    )
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), log_config=None, log_level="info", ws="websockets-sansio", lifespan="on"
        )
    )
    task = spawn(server.serve(sockets=[sock]), name="access-log-server")
    try:
        async with httpx.AsyncClient(base_url=base) as client:
            for _ in range(400):  # the app migrates its database before it answers
                if server.started:
                    break
                await asyncio.sleep(0.05)
            assert (await client.get(f"/join?code={CODE}&lang=es")).status_code == 200
            await client.get(f"/join?lang=en&CODE={CODE}")
            await client.get("/rate/s3cr3t-rating-token")
            await client.get("/healthz?access_token=s3cr3t-bearer&password=hunter2")
        async with websockets.connect(base.replace("http", "ws") + f"/ws/agent?code={CODE}"):
            pass
    finally:
        server.should_exit = True
        await task
        sock.close()
    lines = [r.getMessage() for r in caplog.records if r.name in ("uvicorn.access", "uvicorn.error")]
    requests = [
        line for line in lines if "/join" in line or "/rate/" in line or "/healthz" in line or "/ws/" in line
    ]
    assert len(requests) == 5, lines  # every request was logged, so the check below is not empty
    assert any("/join?code=[redacted]&lang=es" in line for line in requests)
    assert any("/rate/[redacted]" in line for line in requests)
    for line in requests:
        assert CODE not in line and "s3cr3t" not in line and "hunter2" not in line, line


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/join?code=123", "/join?code=[redacted]"),
        ("/join", "/join"),
        ("/tickets?status=open&page=2", "/tickets?status=open&page=2"),
        ("/x?api%5Fkey=1&next=%2Fcode", "/x?api%5Fkey=[redacted]&next=%2Fcode"),
        ("/x?totp&code", "/x?totp&code"),
        ("/rate/abc/extra?x=1", "/rate/[redacted]/extra?x=1"),
    ],
)
def test_redact_target(target: str, expected: str) -> None:
    assert redact_target(target) == expected
