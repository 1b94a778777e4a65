"""The console page served by the real server, driven through the real signaling hub.

Chromium signs in, opens a ticket, presses *Start remote session* and lands on the console; a
stand-in agent (a WebSocket client plus an aiortc offerer, as the real agent does) joins with the
code shown on the page. This checks what the stand-in test cannot: the real ``base.html``, the
real CSP, cookies on ``/ws/console``, the hub's message order and the note form's POST.
"""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from playwright.async_api import Browser, Page
from sqlalchemy import select
from tests.integration.browser_support import module_browser  # noqa: F401  (the fixture `browser`)
from tests.integration.live_server import sign_in
from tests.sqlite_template import migrated_sqlite
from websockets.asyncio.client import ClientConnection, connect

from veo.bench.chromium import CHROMIUM, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS
from veo.config import Settings
from veo.protocol import sas
from veo.protocol.signaling import Consent, Hangup, Join, Offer, Reveal, parse_server_message
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.auth import service as auth_service
from veo.server.db.base import utcnow
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.service import expire_waiting
from veo.tasks import spawn

CHROMIUM_ARGS = [*BASE_ARGS, WEBRTC_ARGS[0]]
EMAIL = "console-tech@example.org"
PASSWORD = "correct horse battery staple"
WAIT_S = 30

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
    # one event loop for the module, so one Chromium serves every test (``browser``)
    pytest.mark.asyncio(loop_scope="module"),
]


@dataclass
class Stack:
    base_url: str
    ws_base: str
    page: Page
    errors: list[str]
    app: Any


@pytest_asyncio.fixture(loop_scope="module")
async def stack(tmp_path: Path, browser: Browser) -> AsyncIterator[Stack]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path / "data", database_url=migrated_sqlite(tmp_path / "veo.db"), public_url=base_url
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = spawn(server.serve(sockets=[sock]), name="console-server-test")
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    # A missing /favicon.ico is the browser's own request, not the page's: only that one is allowed.
    page.on(
        "console",
        lambda msg: (
            errors.append(f"{msg.text} {msg.location.get('url', '')}")
            if msg.type == "error" and not msg.location.get("url", "").endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"{base_url}/login")  # the server is up (and migrated) once this answers
    with app.state.db.session() as s:
        auth_service.create_user(
            s, EMAIL, name="Carla Tech", role="technician", password=PASSWORD, must_change_password=False
        )
    try:
        yield Stack(base_url, f"ws://127.0.0.1:{port}", page, errors, app)
    finally:
        await context.close()
        server.should_exit = True
        await task
        sock.close()


async def _receive(ws: ClientConnection) -> Any:
    return parse_server_message(await asyncio.wait_for(ws.recv(), WAIT_S))


async def _open_console(stack: Stack) -> str:
    """Sign in, create a ticket, start a session; return the join code the console shows."""
    page = stack.page
    await sign_in(page, EMAIL, PASSWORD)
    await page.goto(f"{stack.base_url}/tickets/new")
    await page.fill("[name=title]", "Printer is offline")
    await page.fill("[name=description]", "Since Monday.")
    await page.fill("[name=requester_name]", "Bob User")
    await page.fill("[name=requester_email]", "bob@example.org")
    await page.click("#create-ticket")
    await page.wait_for_selector("#start-session")
    await page.click("#start-session")
    await page.wait_for_selector('#conn-state[data-state="waiting"]')
    code = (await page.text_content("#session-code") or "").replace(" ", "")
    assert len(code) == 9 and code.isdigit(), code
    return code


async def test_real_server_console_flow(stack: Stack) -> None:
    page = stack.page
    code = await _open_console(stack)
    assert "Printer is offline" in (await page.text_content(".console-bar") or "")
    assert "Bob User" in (await page.text_content(".requester") or "")
    session_id = await page.get_attribute("#console", "data-session-id")
    assert session_id

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    pc.createDataChannel("veo", ordered=True)
    pc.addTransceiver(VideoStreamTrack(), direction="sendonly")
    nonce = sas.new_nonce()
    try:
        async with connect(f"{stack.ws_base}/ws/agent") as ws:
            await ws.send(Join(code=code, platform="Linux test").dumps())
            joined = await _receive(ws)
            assert joined.type == "joined", joined
            await page.wait_for_selector('#conn-state[data-state="joined"]')

            await pc.setLocalDescription(await pc.createOffer())
            await ws.send(Offer(sdp=pc.localDescription.sdp, commitment=sas.commitment(nonce)).dumps())
            answer = await _receive(ws)
            assert answer.type == "answer", answer
            await pc.setRemoteDescription(RTCSessionDescription(sdp=answer.sdp, type="answer"))
            await ws.send(Reveal(nonce=nonce.hex()).dumps())
            expected = sas.sas_code(
                sas.sha256_fingerprint(pc.localDescription.sdp),
                sas.sha256_fingerprint(answer.sdp),
                nonce,
                bytes.fromhex(answer.nonce),
                session_id,
            )
            await page.wait_for_function("() => document.getElementById('sas-code').textContent !== ''")
            assert await page.text_content("#sas-code") == sas.display(expected)

            await ws.send(Consent(granted=["view", "control"], sas_confirmed=True).dumps())
            await page.wait_for_function(
                "() => document.getElementById('granted').textContent.includes('Control mouse')"
            )
            await ws.send(Hangup(reason="stopped").dumps())
            await page.wait_for_selector('#conn-state[data-state="ended"]')
            await page.wait_for_selector("#note-form", state="visible")
            assert "user ended" in (await page.text_content("#end-reason") or "")
    finally:
        await pc.close()

    await page.fill("#note-form textarea[name=note]", "Printer driver reinstalled.")
    await page.click("#note-form [type=submit]")
    await page.wait_for_url("**/tickets/*")
    assert "Printer driver reinstalled." in await page.content()

    # Reopening the console of an ended session shows the end and the note form straight away,
    # with the note saved so far; the end is said as a sentence, never as the stored code.
    await page.goto(f"{stack.base_url}/sessions/{session_id}/console")
    await page.wait_for_selector("#note-form", state="visible")
    assert await page.get_attribute("#conn-state", "data-state") == "ended"
    assert await page.input_value("#note") == "Printer driver reinstalled."
    assert await page.text_content("#end-reason") == "The user ended the session."
    with stack.app.state.db.session() as s:
        ticket = s.get(RemoteSession, session_id).ticket
        assert (ticket.status, ticket.resolution_note) == ("new", "")  # Save note leaves the ticket as it was

    # *Save and resolve the ticket*: the note becomes the ticket's resolution, the ticket resolved, audited.
    await page.fill("#note", "Printer driver reinstalled; test page printed.")
    await page.click("#note-resolve")
    await page.wait_for_url("**/tickets/*")
    with stack.app.state.db.session() as s:
        session = s.get(RemoteSession, session_id)
        ticket = session.ticket
        assert session.resolution_note == "Printer driver reinstalled; test page printed."
        assert (ticket.status, ticket.resolution_note) == ("resolved", session.resolution_note)
        changes = s.scalars(
            select(AuditEvent.details).where(
                AuditEvent.action == "ticket.updated", AuditEvent.ticket_id == ticket.id
            )
        ).all()
        assert any(d.get("status", {}).get("to") == "resolved" for d in changes), changes
    # A resolved ticket's console offers only Save note.
    await page.goto(f"{stack.base_url}/sessions/{session_id}/console")
    await page.wait_for_selector("#note-form", state="visible")
    assert await page.query_selector("#note-resolve") is None
    assert stack.errors == [], json.dumps(stack.errors)


async def test_an_expired_code_offers_a_new_code(stack: Stack) -> None:
    page = stack.page
    old_code = await _open_console(stack)
    old_id = await page.get_attribute("#console", "data-session-id")
    assert await page.is_hidden("#new-code-form")
    with stack.app.state.db.session() as s:
        s.get(RemoteSession, old_id).code_expires_at = utcnow() - timedelta(seconds=1)
        expire_waiting(s)
        s.commit()
    await page.reload()
    await page.wait_for_selector("#new-code-ended", state="visible")
    assert await page.text_content("#end-reason") == "The code expired before the user joined."
    assert await page.is_hidden("#note-form")  # nothing happened: nothing to note
    await page.click("#new-code-ended button[type=submit]")
    await page.wait_for_url("**/sessions/*/console")
    await page.wait_for_selector('#conn-state[data-state="waiting"]')
    new_id = await page.get_attribute("#console", "data-session-id")
    new_code = (await page.text_content("#session-code") or "").replace(" ", "")
    assert new_id != old_id and len(new_code) == 9 and new_code != old_code
    with stack.app.state.db.session() as s:
        assert s.get(RemoteSession, old_id).status == "expired"
        fresh = s.get(RemoteSession, new_id)
        assert (fresh.status, fresh.requested_permissions) == ("waiting", ["view", "control"])
    assert stack.errors == [], json.dumps(stack.errors)
