"""The agent verifies TLS: a real ``wss://`` server on 127.0.0.1 with a self-signed certificate.

Without ``--ca-file`` the agent refuses it (certificate not trusted) before anything is sent: the
server never sees an HTTP request, let alone the join code. With ``--ca-file`` pointing at that
certificate the handshake succeeds and the join arrives (the server answers ``error``: only the
trust decision matters here). A certificate from the trusted file but for another host name is
still refused: host-name checking stays on.
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import ssl
import sys
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from tests.certs import self_signed
from tests.xvfb import xvfb_display
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from veo.agent.signaling import ConnectError, WebSocketChannel
from veo.agent.tls import client_context
from veo.protocol.signaling import Error, Join, parse_agent_message

pytestmark = pytest.mark.timeout(90)


@dataclass
class TlsServer:
    """A ``wss://`` stand-in for the veo server that records everything that reaches it."""

    port: int = 0
    handshakes: list[str | None] = field(default_factory=list)  # TLS ClientHellos seen
    requests: list[str] = field(default_factory=list)  # HTTP requests (after a good handshake)
    messages: list[str] = field(default_factory=list)  # WebSocket messages

    @property
    def url(self) -> str:
        return f"wss://127.0.0.1:{self.port}/ws/agent"

    def process_request(self, _connection: ServerConnection, request: Request) -> Response | None:
        self.requests.append(request.path)
        return None

    async def handler(self, ws: ServerConnection) -> None:
        async for raw in ws:
            self.messages.append(str(raw))
            message = parse_agent_message(raw)
            if isinstance(message, Join):
                await ws.send(Error(code="invalid_code", message="no such code", fatal=True).dumps())
                await ws.close()
                return


@pytest.fixture
def certificate(tmp_path: Path) -> tuple[Path, Path]:
    return self_signed(tmp_path / "tls", ["localhost"], ("127.0.0.1",))


async def _serve(cert: Path, key: Path) -> tuple[TlsServer, Server]:
    recorder = TlsServer()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    def saw_hello(_sock: ssl.SSLObject, name: str | None, _ctx: ssl.SSLContext) -> None:
        recorder.handshakes.append(name)

    context.sni_callback = saw_hello  # type: ignore[assignment]
    server = await serve(
        recorder.handler, "127.0.0.1", 0, ssl=context, process_request=recorder.process_request
    )
    recorder.port = server.sockets[0].getsockname()[1]
    return recorder, server


@pytest.fixture
async def tls_server(certificate: tuple[Path, Path]) -> AsyncIterator[TlsServer]:
    recorder, server = await _serve(*certificate)
    try:
        yield recorder
    finally:
        server.close()
        await server.wait_closed()


async def test_self_signed_server_is_refused_and_nothing_is_sent(tls_server: TlsServer) -> None:
    with pytest.raises(ConnectError) as refused:
        await WebSocketChannel.open(tls_server.url)  # the system's trust store
    assert refused.value.untrusted
    assert "certificate verify failed" in refused.value.detail
    assert "self-signed" in refused.value.detail or "self signed" in refused.value.detail
    assert tls_server.handshakes, "the agent never tried: this test would prove nothing"
    assert tls_server.requests == [] and tls_server.messages == []


async def test_ca_file_trusts_the_private_certificate(
    tls_server: TlsServer, certificate: tuple[Path, Path]
) -> None:
    channel = await WebSocketChannel.open(tls_server.url, client_context(str(certificate[0])))
    try:
        await channel.send(Join(code="123456789", agent_version="test", platform="test").dumps())
        reply = await channel.recv()
    finally:
        await channel.close()
    assert '"invalid_code"' in reply
    assert tls_server.requests == ["/ws/agent"] and len(tls_server.messages) == 1


async def test_host_name_is_checked_even_with_a_trusted_ca_file(tmp_path: Path) -> None:
    """Trusted issuer, wrong name: the certificate says veo.example, the agent dialled 127.0.0.1."""
    cert, key = self_signed(tmp_path / "other", ["veo.example"])
    recorder, server = await _serve(cert, key)
    try:
        with pytest.raises(ConnectError) as refused:
            await WebSocketChannel.open(recorder.url, client_context(str(cert)))
        assert refused.value.untrusted
        assert "mismatch" in refused.value.detail.lower() or "match" in refused.value.detail.lower()
        assert recorder.handshakes and recorder.requests == [] and recorder.messages == []
    finally:
        server.close()
        await server.wait_closed()


# ------------------------------------------------------------------ the real ``veo agent`` command

needs_display = pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    if not shutil.which("Xvfb"):
        pytest.skip("needs Xvfb")
    with xvfb_display() as name:
        yield name


def _lines(log: Path) -> list[str]:
    return log.read_text(errors="replace").splitlines() if log.exists() else []


async def _wait_for_line(log: Path, pattern: str, process: asyncio.subprocess.Process) -> str:
    regex = re.compile(pattern)
    while True:
        for line in _lines(log):
            if regex.search(line):
                return line
        if process.returncode is not None:
            raise AssertionError(f"the agent exited ({process.returncode}) before logging {pattern!r}")
        await asyncio.sleep(0.05)


async def _agent(
    display: str, tmp_path: Path, url: str, *extra: str
) -> tuple[asyncio.subprocess.Process, Path]:
    log = tmp_path / "agent.log"
    env = {**os.environ, "DISPLAY": display, "VEO_AGENT_HISTORY": str(tmp_path / "history.jsonl")}
    env.pop("VEO_AGENT_CA_FILE", None)
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "veo", "agent", "--server", url.removesuffix("/ws/agent"),
        "--code", "123 456 789", "--lang", "en", "--log-file", str(log), *extra,
        env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    return process, log


async def _stop(process: asyncio.subprocess.Process) -> int:
    if process.returncode is None:
        process.terminate()
    return await asyncio.wait_for(process.wait(), 30)


@needs_display
async def test_agent_command_refuses_the_untrusted_server(
    display: str, tls_server: TlsServer, tmp_path: Path
) -> None:
    process, log = await _agent(display, tmp_path, tls_server.url.replace("wss://", "https://"))
    try:
        line = await asyncio.wait_for(_wait_for_line(log, r"server certificate not trusted", process), 40)
        assert "nothing sent" in line and "certificate verify failed" in line
        # the code window comes back with the explanation; the code never left this computer
        await asyncio.wait_for(_wait_for_line(log, r"ui-geometry code ", process), 20)
        assert tls_server.handshakes and tls_server.requests == [] and tls_server.messages == []
    finally:
        assert await _stop(process) == 0


@needs_display
async def test_agent_command_with_ca_file_completes_the_handshake(
    display: str, tls_server: TlsServer, certificate: tuple[Path, Path], tmp_path: Path
) -> None:
    url = tls_server.url.replace("wss://", "https://")
    process, log = await _agent(display, tmp_path, url, "--ca-file", str(certificate[0]))
    try:
        await asyncio.wait_for(_wait_for_line(log, r"join refused: invalid_code", process), 40)
        assert tls_server.requests == ["/ws/agent"]
        assert '"code":"123456789"' in tls_server.messages[0].replace(" ", "")
        assert not any("certificate not trusted" in line for line in _lines(log))
    finally:
        assert await _stop(process) == 0
