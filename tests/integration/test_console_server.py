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
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from playwright.async_api import Browser, Page, async_playwright
from websockets.asyncio.client import ClientConnection, connect

from veo.bench.chromium import CHROMIUM, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS
from veo.config import Settings
from veo.protocol import sas
from veo.protocol.signaling import Consent, Hangup, Join, Offer, Reveal, parse_server_message
from veo.server.app import create_app
from veo.server.auth import service as auth_service
from veo.tasks import spawn

CHROMIUM_ARGS = [*BASE_ARGS, WEBRTC_ARGS[0]]
EMAIL = "console-tech@example.org"
PASSWORD = "correct horse battery staple"
WAIT_S = 30

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]


@dataclass
class Stack:
    base_url: str
    ws_base: str
    page: Page
    errors: list[str]


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[Stack]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    base_url = f"http://127.0.0.1:{port}"
    settings = Settings(
        data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'veo.db'}", public_url=base_url
    )
    app = create_app(settings)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = spawn(server.serve(sockets=[sock]), name="console-server-test")
    async with async_playwright() as pw:
        browser: Browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = await browser.new_page()
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
            yield Stack(base_url, f"ws://127.0.0.1:{port}", page, errors)
        finally:
            await browser.close()
            server.should_exit = True
            await task
            sock.close()


async def _receive(ws: ClientConnection) -> Any:
    return parse_server_message(await asyncio.wait_for(ws.recv(), WAIT_S))


async def _open_console(stack: Stack) -> str:
    """Sign in, create a ticket, start a session; return the join code the console shows."""
    page = stack.page
    await page.fill("input[name=email]", EMAIL)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("form[action='/login'] [type=submit]")
    await page.wait_for_selector("#user-name")
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

    # Reopening the console of an ended session shows the end and the note form straight away.
    await page.goto(f"{stack.base_url}/sessions/{session_id}/console")
    await page.wait_for_selector("#note-form", state="visible")
    assert await page.get_attribute("#conn-state", "data-state") == "ended"
    assert stack.errors == [], json.dumps(stack.errors)
