"""The agent people get: a copy that knows its server (and code), a link from the join page, and
what the user sees when either cannot be used. Real ``veo agent`` processes on Xvfb; a real veo
server (uvicorn on loopback, over TLS where the host name matters).

* A downloaded copy (``--embedded-from``: a file carrying the trailer ``/download`` appends) joins
  with its embedded code, without ``--server`` or ``--code``; the consent dialog names the host TLS
  verified on that connection.
* A copy cut short: the problem window says so, *Close* ends the agent with 2, no traceback.
* A ``veo://`` link naming a server the installed configuration does not list: refused in the
  window, and nothing connects to that server; a link to a listed server joins.
* A server that wants a newer agent: the code window says both versions and links the download
  page; the code is not used.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import sys
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from fastapi import FastAPI
from PIL import Image
from tests.integration.launch_windows import check_consent, check_problem
from tests.integration.notify_support import new_ticket
from tests.integration.test_agent_tls import self_signed
from tests.sqlite_template import migrated_sqlite
from tests.support import make_user
from tests.tk_process import run_in_tk
from tests.xvfb import click_rect, xdotool, xvfb_display

from veo.agent.signaling import WebSocketChannel
from veo.agent.tls import client_context
from veo.config import Settings
from veo.i18n import gettext_for
from veo.protocol.agent_config import EmbeddedConfig, join_link, seal
from veo.server.app import create_app
from veo.server.sessions import service
from veo.server.sessions.models import RemoteSession
from veo.tasks import spawn

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(
        not all(shutil.which(t) for t in ("Xvfb", "xdotool")), reason="needs Xvfb and xdotool"
    ),
]

BUILD = b"\x7fELF stands in for the one-file build\n" * 64
ORGANIZATION = "ACME IT"


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display(size="1366x768x24") as name:
        yield name


# ---------------------------------------------------------------- a real veo server


@asynccontextmanager
async def veo_server(
    tmp_path: Path, tls: tuple[Path, Path] | None = None, **settings: Any
) -> AsyncIterator[tuple[str, FastAPI]]:
    """``(public_url, app)``: veo on a free loopback port, ``https://localhost`` with ``tls``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    base_url = f"https://localhost:{port}" if tls else f"http://127.0.0.1:{port}"
    app = create_app(
        Settings(
            data_dir=tmp_path / "data",
            database_url=migrated_sqlite(tmp_path / "veo.db"),
            public_url=base_url,
            organization=ORGANIZATION,
            **settings,
        )
    )
    extra: dict[str, Any] = {"ssl_certfile": str(tls[0]), "ssl_keyfile": str(tls[1])} if tls else {}
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on", **extra))
    task = spawn(server.serve(sockets=[sock]), name="veo-launch-test")
    try:
        for _ in range(600):
            if server.started:
                break
            await asyncio.sleep(0.05)
        assert server.started, "the server did not start"
        yield base_url, app
    finally:
        server.should_exit = True
        await task
        sock.close()


def new_code(app: FastAPI) -> tuple[str, str]:
    """A session waiting for its agent: ``(session_id, code)``."""
    ticket_id = new_ticket(app)
    email = f"ana-{uuid.uuid4().hex[:8]}@example.org"
    technician = make_user(app.state.db, email, name="Ana García").user
    with app.state.db.session() as s:
        created = service.create_session(
            s, ticket_id=ticket_id, technician=technician, permissions=None, ttl_seconds=600
        )
        assert created.code is not None
        return created.id, created.code


def session_row(app: FastAPI, session_id: str) -> RemoteSession:
    with app.state.db.session() as s:
        row = s.get(RemoteSession, session_id)
        assert row is not None
        s.expunge(row)
        found: RemoteSession = row
        return found


def downloaded_copy(folder: Path, config: EmbeddedConfig, cut: int = 0) -> Path:
    """What ``/download`` hands out: the build with the trailer after it (``cut`` bytes short)."""
    data = BUILD + seal(config)
    path = folder / "veo-agent"
    path.write_bytes(data[: len(data) - cut])
    path.chmod(0o755)
    return path


# ---------------------------------------------------------------- the agent process


class Agent:
    def __init__(self, process: asyncio.subprocess.Process, log: Path, stderr: Path) -> None:
        self.process = process
        self.log = log
        self.stderr = stderr

    def lines(self) -> list[str]:
        return self.log.read_text(errors="replace").splitlines() if self.log.exists() else []

    async def line(self, pattern: str, seconds: float = 60) -> str:
        regex = re.compile(pattern)

        async def wait() -> str:
            while True:
                for line in self.lines():
                    if regex.search(line):
                        return line
                if self.process.returncode is not None:
                    raise AssertionError(
                        f"the agent exited ({self.process.returncode}) before logging {pattern!r}:\n"
                        + self.stderr.read_text(errors="replace")[-3000:]
                    )
                await asyncio.sleep(0.05)

        return await asyncio.wait_for(wait(), seconds)

    async def rect(self, window: str, widget: str) -> list[int]:
        line = await self.line(rf"ui-geometry {window} .*\"{widget}\"")
        rects: dict[str, list[int]] = json.loads(line.split(f"ui-geometry {window} ", 1)[1])
        return rects[widget]

    async def stop(self) -> int:
        if self.process.returncode is None:
            self.process.terminate()
        return await asyncio.wait_for(self.process.wait(), 30)


async def start_agent(display: str, tmp_path: Path, *args: str, installed: Path | None = None) -> Agent:
    log, stderr = tmp_path / "agent.log", tmp_path / "agent.stderr"
    env = {
        **os.environ,
        "DISPLAY": display,
        "VEO_AGENT_HISTORY": str(tmp_path / "history.jsonl"),
        "VEO_AGENT_INSTALLED_CONFIG": str(installed or tmp_path / "no-agent.json"),
        "XDG_STATE_HOME": str(tmp_path / "state"),
    }
    env.pop("VEO_AGENT_CA_FILE", None)
    with stderr.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "veo", "agent", *args, "--log-file", str(log),
            env=env, stdout=asyncio.subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    return Agent(process, log, stderr)


def screenshot(display: str, out: Path) -> Image.Image:
    import mss
    import mss.tools

    with mss.MSS(display=display) as screen:
        shot = screen.grab(screen.monitors[0])
        mss.tools.to_png(shot.rgb, shot.size, output=str(out))
    return Image.open(out).convert("RGB")


def _shows_a_window(picture: Image.Image, rect: list[int]) -> bool:
    """Xvfb's root is black: the window's area (around ``rect``) is not."""
    x, y, w, _h = rect
    return picture.getpixel((x + w // 2, max(0, y - 20))) != (0, 0, 0)


# ---------------------------------------------------------------- a downloaded copy


async def test_downloaded_copy_joins_with_its_code_and_names_the_verified_host(
    display: str, tmp_path: Path
) -> None:
    cert, key = self_signed(tmp_path / "tls", ["localhost"], ("127.0.0.1",))
    async with veo_server(tmp_path, (cert, key)) as (base_url, app):
        session_id, code = new_code(app)
        copy = downloaded_copy(
            tmp_path, EmbeddedConfig(server=base_url, organization=ORGANIZATION, code=code, language="en")
        )
        # no --server, no --code: the file knows both (--ca-file: this test's own CA)
        agent = await start_agent(display, tmp_path, "--embedded-from", str(copy), "--ca-file", str(cert))
        try:
            started = await agent.line(r"veo agent connecting to ")
            assert f"wss://localhost:{base_url.rsplit(':', 1)[1]}/ws/agent" in started
            assert "configuration from embedded, with a code" in started
            shown = await agent.line(r"consent dialog shows the server ")
            assert shown.endswith("consent dialog shows the server localhost (verified: True)")
            deny = await agent.rect("consent", "deny")
            row = session_row(app, session_id)
            assert row.joined_at is not None and row.status != "waiting"
            picture = screenshot(display, tmp_path / "consent.png")
            assert _shows_a_window(picture, deny)
            assert not any("code window" in line for line in agent.lines())  # straight to joining
        finally:
            assert await agent.stop() == 0
    assert "Traceback" not in agent.stderr.read_text()


async def test_cut_short_copy_says_so_in_a_window_and_exits_2(display: str, tmp_path: Path) -> None:
    copy = downloaded_copy(
        tmp_path, EmbeddedConfig(server="https://support.acme.example", code="123456789"), 7
    )
    agent = await start_agent(display, tmp_path, "--embedded-from", str(copy), "--lang", "es")
    try:
        said = await agent.line(r"problem window says: ")
        expected = gettext_for("es").gettext(
            "This copy of veo is incomplete: download it again from your support department's page."
        )
        assert said.endswith(expected)
        close = await agent.rect("problem", "close")
        picture = screenshot(display, tmp_path / "problem.png")
        assert _shows_a_window(picture, close)
        click_rect(display, close)
        assert await asyncio.wait_for(agent.process.wait(), 30) == 2
    finally:
        await agent.stop()
    err = agent.stderr.read_text()
    assert "veo agent: " + expected in err and "Traceback" not in err
    assert not any("connecting to" in line for line in agent.lines())


async def test_a_used_embedded_code_is_asked_again_in_the_code_window(display: str, tmp_path: Path) -> None:
    from veo.server.sessions import redeem

    async with veo_server(tmp_path) as (base_url, app):
        _old, used = new_code(app)
        with app.state.db.session() as s:
            redeem.redeem_code(s, used, address="127.0.0.1")  # someone joined with it already
        session_id, fresh = new_code(app)
        copy = downloaded_copy(tmp_path, EmbeddedConfig(server=base_url, code=used, language="en"))
        agent = await start_agent(display, tmp_path, "--embedded-from", str(copy))
        try:
            said = await agent.line(r"code window says: ")
            assert "This code has already been used" in said
            entry = await agent.rect("code", "entry")
            click_rect(display, entry)
            xdotool(display, "key", "End", "key", "--repeat", "15", "BackSpace")
            xdotool(display, "type", "--delay", "20", fresh)
            xdotool(display, "key", "Return")
            await agent.line(r"consent dialog shows the server 127.0.0.1")
            assert session_row(app, session_id).joined_at is not None
        finally:
            assert await agent.stop() == 0


# ---------------------------------------------------------------- a veo:// link


async def test_link_to_another_server_is_refused_and_nothing_connects(display: str, tmp_path: Path) -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(4)
    listener.setblocking(False)
    foreign = f"http://127.0.0.1:{listener.getsockname()[1]}"
    installed = tmp_path / "agent.json"
    installed.write_text(json.dumps({"v": 1, "servers": ["https://support.acme.example"]}))
    agent = await start_agent(
        display, tmp_path, join_link(foreign, "123456789"), "--lang", "en", installed=installed
    )
    try:
        said = await agent.line(r"problem window says: ")
        assert said.endswith(
            f"This link asks veo to connect to {foreign}, which is not your organization's support server "
            "(support.acme.example). veo did not connect."
        )
        close = await agent.rect("problem", "close")
        screenshot(display, tmp_path / "refused.png")
        click_rect(display, close)
        assert await asyncio.wait_for(agent.process.wait(), 30) == 2
        with pytest.raises(BlockingIOError):
            listener.accept()  # nobody knocked
    finally:
        listener.close()
        await agent.stop()
    assert "Traceback" not in agent.stderr.read_text()


async def test_link_to_the_configured_server_joins_with_its_code(display: str, tmp_path: Path) -> None:
    async with veo_server(tmp_path) as (base_url, app):
        session_id, code = new_code(app)
        installed = tmp_path / "agent.json"
        installed.write_text(json.dumps({"v": 1, "servers": [base_url], "organization": ORGANIZATION}))
        agent = await start_agent(
            display, tmp_path, join_link(base_url, code), "--lang", "en", installed=installed
        )
        try:
            started = await agent.line(r"veo agent connecting to ")
            assert "configuration from link, with a code" in started
            shown = await agent.line(r"consent dialog shows the server ")
            assert shown.endswith("consent dialog shows the server 127.0.0.1 (verified: False)")
            assert session_row(app, session_id).joined_at is not None
        finally:
            assert await agent.stop() == 0


# ---------------------------------------------------------------- versions


async def test_outdated_agent_is_told_both_versions_and_the_download_page(
    display: str, tmp_path: Path
) -> None:
    async with veo_server(tmp_path, agent_min_version="99.0.0") as (base_url, app):
        session_id, code = new_code(app)
        copy = downloaded_copy(tmp_path, EmbeddedConfig(server=base_url, code=code, language="en"))
        agent = await start_agent(display, tmp_path, "--embedded-from", str(copy))
        try:
            said = await agent.line(r"code window says: ")
            assert (
                "This veo app is too old (version 0.2.0)" in said and "needs version 99.0.0 or newer" in said
            )
            link = await agent.line(r"code window links to ")
            assert link.endswith(f"code window links to {base_url}/download")
            await agent.rect("code", "link")
            screenshot(display, tmp_path / "outdated.png")
            row = session_row(app, session_id)
            assert row.joined_at is None and row.status == "waiting"  # the code is still good
        finally:
            assert await agent.stop() == 0


# ---------------------------------------------------------------- the host, from the connection


async def test_verified_host_is_the_one_tls_checked(tmp_path: Path) -> None:
    from websockets.asyncio.server import ServerConnection, serve

    cert, key = self_signed(tmp_path / "tls", ["localhost"], ("127.0.0.1",))
    import ssl

    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def idle(ws: ServerConnection) -> None:
        await ws.wait_closed()

    async with serve(idle, "127.0.0.1", 0, ssl=context) as server:
        port = server.sockets[0].getsockname()[1]
        for host in ("localhost", "127.0.0.1"):
            channel = await WebSocketChannel.open(f"wss://{host}:{port}/ws/agent", client_context(str(cert)))
            try:
                assert channel.verified_host == host
            finally:
                await channel.close()
        # TLS without verification is never reported as a checked host
        unchecked = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        unchecked.check_hostname = False
        unchecked.verify_mode = ssl.CERT_NONE
        channel = await WebSocketChannel.open(f"wss://localhost:{port}/ws/agent", unchecked)
        try:
            assert channel.verified_host is None
        finally:
            await channel.close()
    async with serve(idle, "127.0.0.1", 0) as plain:
        port = plain.sockets[0].getsockname()[1]
        channel = await WebSocketChannel.open(f"ws://127.0.0.1:{port}/ws/agent")
        try:
            assert channel.verified_host is None
        finally:
            await channel.close()


@pytest.fixture
def system_store_elsewhere(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """OpenSSL's own defaults find nothing (as the one-file build's Debian OpenSSL on Fedora); the
    system's bundle is the test CA, at a place only truststore's candidate list knows: (cert, key)."""
    import truststore._openssl

    cert, key = self_signed(tmp_path / "tls", ["localhost"], ("127.0.0.1",))
    (tmp_path / "no-certs").mkdir()
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "missing.pem"))
    monkeypatch.setenv("SSL_CERT_DIR", str(tmp_path / "no-certs"))
    monkeypatch.setattr(truststore._openssl, "_CA_FILE_CANDIDATES", [str(cert)])
    return cert, key


def _rating_reaches(url: str, tls: Any) -> bool:
    """True when the rating's POST (urllib, ``tls`` or its default context) got past the TLS check."""
    from veo.agent.rating import _post
    from veo.agent.tls import is_untrusted_certificate

    try:
        _post(url, b"{}", tls)
    except Exception as exc:  # the stand-in is no HTTP server: only the certificate check matters
        return not is_untrusted_certificate(exc)
    return True


async def test_the_system_store_is_found_where_openssl_does_not_look(
    system_store_elsewhere: tuple[Path, Path],
) -> None:
    """T71: the signaling (client_context), a TURN relay over TLS (aioice: ``ssl=True``) and the
    rating (urllib) all trust the system's store, and a --ca-file stays the only trust."""
    import ssl

    from websockets.asyncio.server import ServerConnection, serve

    from veo.agent.signaling import ConnectError
    from veo.agent.tls import trust_the_system_everywhere

    cert, key = system_store_elsewhere
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)

    async def idle(ws: ServerConnection) -> None:
        await ws.wait_closed()

    loop = asyncio.get_running_loop()
    async with serve(idle, "127.0.0.1", 0, ssl=context) as server:
        port = server.sockets[0].getsockname()[1]
        url = f"wss://localhost:{port}/ws/agent"
        with pytest.raises(ConnectError) as refused:  # what the agent had before truststore
            await WebSocketChannel.open(url, ssl.create_default_context())
        assert refused.value.untrusted
        channel = await WebSocketChannel.open(url, client_context())
        try:
            assert channel.verified_host == "localhost"
        finally:
            await channel.close()
        with pytest.raises(ssl.SSLCertVerificationError):  # aioice's turns: relay, before
            await loop.create_connection(asyncio.Protocol, "localhost", port, ssl=True)
        https = f"https://localhost:{port}/api/v1/sessions/s1/rating"
        assert not await asyncio.to_thread(_rating_reaches, https, None)
        assert await asyncio.to_thread(_rating_reaches, https, client_context())  # what main() passes

        trust_the_system_everywhere()
        transport, _protocol = await loop.create_connection(asyncio.Protocol, "localhost", port, ssl=True)
        transport.close()
        assert await asyncio.to_thread(_rating_reaches, https, None)
        # --ca-file: that file only, even with the system's store injected
        other, _other_key = self_signed(cert.parent.parent / "other", ["localhost"], ("127.0.0.1",))
        with pytest.raises(ConnectError) as refused:
            await WebSocketChannel.open(url, client_context(str(other)))
        assert refused.value.untrusted


# ---------------------------------------------------------------- the windows' words, in process
# The checks live in launch_windows.py: the spawned Tk process imports the checks' module, and this
# one imports the whole server (the app, uvicorn, the reports' scikit-learn).


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("check", [check_consent, check_problem])
def test_window_words(display: str, check: Callable[..., None], language: str) -> None:
    run_in_tk(display, check, language)  # Tk keeps its X connection per process
