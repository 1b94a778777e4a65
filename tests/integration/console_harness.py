"""The console page's test harness: a stand-in server, a stand-in aiortc agent, one Chromium.

The real server and agent are built in parallel, so the console page tests play both: a small ASGI
app renders ``console.html`` (with a minimal ``base.html``), serves the real static files under the
strict CSP and relays ``/ws/console``; the "agent" is a real aiortc offerer, so the SDP,
fingerprints, nonces and SAS are the genuine article. Every message the page sends is parsed with
``veo.protocol``, so a shape drift fails here. Used by ``test_console_page.py``,
``test_console_two_tabs.py`` and ``test_console_device.py``: one place that knows how to serve the
page and wait for its socket, so a change to the page's start-up is made once.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from aiortc.mediastreams import MediaStreamTrack
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader
from playwright.async_api import Browser, Page, async_playwright

from veo.bench.chromium import CHROMIUM, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS
from veo.protocol import sas
from veo.protocol.signaling import Offer, SessionState, parse_console_message
from veo.tasks import spawn

WEB = Path(__file__).resolve().parents[2] / "src" / "veo" / "server" / "web"
CHROMIUM_ARGS = [*BASE_ARGS, WEBRTC_ARGS[0]]
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'"
#: Minimal stand-in for the real base.html (blocks title, head, content, scripts).
BASE_HTML = """<!doctype html><html lang="{{ lang }}"><head><meta charset="utf-8">
<title>{% block title %}{% endblock %}</title>{% block head %}{% endblock %}</head>
<body><main>{% block content %}{% endblock %}</main>{% block scripts %}{% endblock %}</body></html>"""
WAIT_MS = 30_000

pytestmark = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]

#: The async tests share one event loop, so one Chromium serves them all (``browser``); the sync
#: test that reruns the file in a namespace must not carry the mark.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@dataclass
class Relay:
    """The server's side of /ws/console: what the page sent, and a way to talk to it."""

    received: asyncio.Queue[dict[str, Any]] = field(default_factory=asyncio.Queue)
    socket: WebSocket | None = None
    connections: int = 0
    connected: asyncio.Event = field(default_factory=asyncio.Event)
    notes: list[dict[str, str]] = field(default_factory=list)
    end_posts: list[dict[str, str]] = field(default_factory=list)
    #: turn reconnecting consoles away ("try again later": the console keeps retrying)
    refuse: bool = False

    async def send(self, message: Any) -> None:
        assert self.socket is not None, "the console is not connected"
        await self.socket.send_text(message.dumps())

    async def next(self) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.received.get(), WAIT_MS / 1000)
        parse_console_message(json.dumps(raw))  # the page must speak the protocol exactly
        return raw

    async def drop(self, code: int = 1012) -> None:
        """Close the socket from the server side (1012: a restarting node; 4401: signed out)."""
        assert self.socket is not None
        self.connected.clear()
        await self.socket.close(code=code)


def stand_in_app(relay: Relay, csp: str = CSP) -> FastAPI:
    """What every stand-in console server has: the strict CSP on every response, the real static
    files, and ``/ws/console`` relayed to ``relay``."""
    app = FastAPI()

    @app.middleware("http")
    async def strict_csp(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = csp
        return response

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)

    @app.websocket("/ws/console")
    async def ws_console(websocket: WebSocket) -> None:
        if relay.refuse:
            await websocket.close(code=1013)
            return
        await websocket.accept()
        relay.socket = websocket
        relay.connections += 1
        relay.connected.set()
        try:
            while True:
                relay.received.put_nowait(json.loads(await websocket.receive_text()))
        except WebSocketDisconnect:
            pass

    app.mount("/static", StaticFiles(directory=WEB / "static"), name="static")
    return app


def make_app(relay: Relay, session: SimpleNamespace, **context: Any) -> FastAPI:
    """The stand-in server; ``context`` adds to (or replaces) what console.html is rendered with."""
    env = Environment(
        loader=ChoiceLoader([DictLoader({"base.html": BASE_HTML}), FileSystemLoader(WEB / "templates")]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    app = stand_in_app(relay)

    @app.get("/sessions/{session_id}/console")
    async def console(session_id: str) -> HTMLResponse:
        base: dict[str, Any] = {
            "session": session,
            "ticket": SimpleNamespace(id=42, title="Printer <offline>", requester_name="Ana Pérez"),
            "code_display": "123 456 789",
            "join_url": "http://127.0.0.1/join?code=123456789",
            "expires_at": datetime.now(UTC) + timedelta(minutes=10),
            "ws_url": f"/ws/console?session={session_id}",
            "protocol_url": "/api/v1/protocol.json",
            "agent_command": "veo agent --server http://127.0.0.1 --code 123456789",
            "csrf_token": "csrf-test-token",
            "user": SimpleNamespace(name="Tech"),
            "lang": "en",
        }
        html = env.get_template("console.html").render(**{**base, **context})
        return HTMLResponse(html)

    @app.post("/sessions/{session_id}/note")
    async def note(session_id: str, request: Request) -> HTMLResponse:
        form = await request.form()
        relay.notes.append({k: str(v) for k, v in form.items()})
        return HTMLResponse("<!doctype html><title>saved</title><p id='saved'>saved</p>")

    @app.post("/sessions/{session_id}/end")
    async def end(session_id: str, request: Request) -> HTMLResponse:
        form = await request.form()
        relay.end_posts.append({k: str(v) for k, v in form.items()})
        return HTMLResponse("<!doctype html><title>ended</title><p id='ended-by-form'>ended</p>")

    return app


class StandInAgent:
    """The agent's WebRTC half: offerer with a video track (``track``, aiortc's test pattern by
    default) and the data channel ``veo``."""

    def __init__(self, track: MediaStreamTrack | None = None) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.nonce = sas.new_nonce()
        self.channel = self.pc.createDataChannel("veo", ordered=True)
        self.pc.addTransceiver(track or VideoStreamTrack(), direction="sendonly")

    async def offer(self, resume: bool = False) -> Offer:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return Offer(sdp=self.pc.localDescription.sdp, commitment=sas.commitment(self.nonce), resume=resume)

    async def accept(self, answer: dict[str, Any], session_id: str) -> str:
        """Apply the console's answer; return the SAS as the agent would compute it."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        fp_offer = sas.sha256_fingerprint(self.pc.localDescription.sdp)
        fp_answer = sas.sha256_fingerprint(answer["sdp"])
        return sas.sas_code(fp_offer, fp_answer, self.nonce, bytes.fromhex(answer["nonce"]), session_id)

    async def close(self) -> None:
        await self.pc.close()


async def send_session_state(relay: Relay, session_id: str, status: str, **extra: Any) -> None:
    """The server's ``session_state`` for a session that asked for view and control."""
    await relay.send(
        SessionState(
            session_id=session_id,
            status=status,
            agent_connected=status != "waiting",
            requested=["view", "control"],
            **extra,
        )
    )


@dataclass
class Harness:
    page: Page
    relay: Relay
    session_id: str
    errors: list[str]

    async def state(self, selector: str) -> str | None:
        return await self.page.get_attribute(selector, "data-state")

    async def wait_state(self, selector: str, state: str) -> None:
        # attached, not visible: #control-state lives in the tools panel's Session tab
        await self.page.wait_for_selector(
            f'{selector}[data-state="{state}"]', state="attached", timeout=WAIT_MS
        )

    async def session_state(self, status: str, **extra: Any) -> None:
        await send_session_state(self.relay, self.session_id, status, **extra)


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module (a launch took 1-2 s a test); each test has its own context."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


#: the marks every page test module carries: a time limit, and a skip without Chromium
PAGE_MARKS = [
    pytest.mark.timeout(180),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]


def stand_in_session(number: int, **extra: Any) -> SimpleNamespace:
    """A waiting session asking for view and control; ``number`` tells the modules' ids apart."""
    return SimpleNamespace(
        id=f"0000{secrets.token_hex(4)}-0000-4000-8000-{number:012d}",
        status="waiting",
        requested_permissions=["view", "control"],
        **extra,
    )


@dataclass
class Served:
    """A stand-in app served by uvicorn on a socket of our own."""

    server: uvicorn.Server
    task: asyncio.Task[None]
    sock: socket.socket

    @property
    def port(self) -> int:
        return int(self.sock.getsockname()[1])

    async def stop(self) -> None:
        self.server.should_exit = True
        await self.task
        self.sock.close()


async def serve_app(app: FastAPI, name: str) -> Served:
    """``app`` on 127.0.0.1. Our own listening socket: the port is known at once, and early
    connections wait in the backlog."""
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    return Served(server, spawn(server.serve(sockets=[sock]), name=name), sock)


@asynccontextmanager
async def open_console(browser: Browser, session: SimpleNamespace, **context: Any) -> AsyncIterator[Harness]:
    """The console page of ``session`` served by the stand-in app (``context`` as in
    :func:`make_app`), open in a fresh browser context, its socket to the relay connected."""
    relay = Relay()
    served = await serve_app(make_app(relay, session, **context), "console-test-server")
    browser_context = await browser.new_context()  # nothing (storage, permissions) carried over
    try:
        page = await browser_context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"http://127.0.0.1:{served.port}/sessions/{session.id}/console")
        await asyncio.wait_for(relay.connected.wait(), WAIT_MS / 1000)
        yield Harness(page, relay, session.id, errors)
    finally:
        await browser_context.close()
        await served.stop()
