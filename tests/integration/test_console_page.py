"""The console page in headless Chromium against a stand-in server and a stand-in aiortc agent.

The real server and agent are built in parallel, so this test plays both: a small ASGI app renders
``console.html`` (with a minimal ``base.html``), serves the real static files under the strict CSP
and relays ``/ws/console``; the "agent" is a real aiortc offerer, so the SDP, fingerprints, nonces
and SAS are the genuine article. Media does not flow here (aiortc drops 127.0.0.1 candidates, field
note 1): ``test_console_media.py`` covers video and the data channel inside a network namespace.
Every message the page sends is parsed with ``veo.protocol``, so a shape drift fails here.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import pytest_asyncio
import uvicorn
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription, VideoStreamTrack
from fastapi import FastAPI, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import ChoiceLoader, DictLoader, Environment, FileSystemLoader
from playwright.async_api import Browser, Page, async_playwright
from tests.netns import only_in_namespace, rerun_in_namespace

from veo.bench.chromium import CHROMIUM, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS
from veo.protocol import sas
from veo.protocol.datachannel import INPUT_TYPES, parse_console_data_message
from veo.protocol.signaling import (
    AgentJoined,
    Consent,
    ControlState,
    Ended,
    Error,
    Offer,
    Reveal,
    SessionState,
    parse_console_message,
)
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


def make_app(relay: Relay, session: SimpleNamespace, **context: Any) -> FastAPI:
    """The stand-in server; ``context`` adds to (or replaces) what console.html is rendered with."""
    env = Environment(
        loader=ChoiceLoader([DictLoader({"base.html": BASE_HTML}), FileSystemLoader(WEB / "templates")]),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
    )
    env.install_null_translations(newstyle=True)  # type: ignore[attr-defined]
    app = FastAPI()

    @app.middleware("http")
    async def csp(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        response.headers["Content-Security-Policy"] = CSP
        return response

    @app.get("/favicon.ico")
    async def favicon() -> Response:
        return Response(status_code=204)

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

    @app.websocket("/ws/console")
    async def ws_console(websocket: WebSocket) -> None:
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


class StandInAgent:
    """The agent's WebRTC half: offerer with a video track and the data channel ``veo``."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.nonce = sas.new_nonce()
        self.channel = self.pc.createDataChannel("veo", ordered=True)
        self.pc.addTransceiver(VideoStreamTrack(), direction="sendonly")

    async def offer(self) -> Offer:
        await self.pc.setLocalDescription(await self.pc.createOffer())
        return Offer(sdp=self.pc.localDescription.sdp, commitment=sas.commitment(self.nonce))

    async def accept(self, answer: dict[str, Any], session_id: str) -> str:
        """Apply the console's answer; return the SAS as the agent would compute it."""
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=answer["sdp"], type="answer"))
        fp_offer = sas.sha256_fingerprint(self.pc.localDescription.sdp)
        fp_answer = sas.sha256_fingerprint(answer["sdp"])
        return sas.sas_code(fp_offer, fp_answer, self.nonce, bytes.fromhex(answer["nonce"]), session_id)

    async def close(self) -> None:
        await self.pc.close()


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
        await self.relay.send(
            SessionState(
                session_id=self.session_id,
                status=status,
                agent_connected=status != "waiting",
                requested=["view", "control"],
                **extra,
            )
        )


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module (a launch took 1-2 s a test); each test has its own context."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@pytest_asyncio.fixture(loop_scope="module")
async def harness(browser: Browser) -> AsyncIterator[Harness]:
    session_id = f"0000{secrets.token_hex(4)}-0000-4000-8000-000000000001"
    relay = Relay()
    session = SimpleNamespace(id=session_id, status="waiting", requested_permissions=["view", "control"])
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(relay, session), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    # Our own listening socket: the port is known at once and early connections wait in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    task = spawn(server.serve(sockets=[sock]), name="console-test-server")
    context = await browser.new_context()  # nothing (storage, permissions) carried from a test before
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    await page.goto(f"http://127.0.0.1:{port}/sessions/{session_id}/console")
    await asyncio.wait_for(relay.connected.wait(), WAIT_MS / 1000)
    yield Harness(page, relay, session_id, errors)
    await context.close()
    server.should_exit = True
    await task
    sock.close()


@ON_MODULE_LOOP
async def test_page_loads_without_errors_and_shows_the_code(harness: Harness) -> None:
    page = harness.page
    await harness.session_state("waiting")
    await harness.wait_state("#conn-state", "waiting")
    assert await page.text_content("#session-code") == "123 456 789"
    assert "code=123456789" in (await page.text_content("#join-url") or "")
    assert "veo agent" in (await page.text_content("#agent-command") or "")
    await page.wait_for_function("() => document.getElementById('code-expiry').textContent.includes('9:')")
    assert await page.is_hidden("#error-banner")
    assert await page.is_hidden("#note-form")
    assert await page.text_content("#sas-code") == ""
    view = await page.evaluate("({...window.veoConsole})")
    assert view == {
        "state": "waiting",
        "phase": "waiting",
        "sas": "",
        "screen": None,
        "granted": [],
        "paused": False,
        "control": "off",
        "technicianSasConfirmed": False,
        "identity": None,
        "mode": "agent",
        "linkDown": False,
        "reverify": False,
        "desktop": None,  # what the user's desktop allows: unknown until the agent says
    }
    assert (
        await page.evaluate("(() => { window.veoConsole.sas = 'x'; return window.veoConsole.sas; })()") == ""
    )
    assert harness.errors == []


@ON_MODULE_LOOP
async def test_full_signaling_flow_shows_the_same_sas_as_the_agent(harness: Harness) -> None:
    page, relay = harness.page, harness.relay
    await relay.send(AgentJoined(platform="Linux", address="192.0.2.7"))
    await harness.session_state("joined")
    await harness.wait_state("#conn-state", "joined")
    assert await page.is_hidden("#waiting-panel")
    assert await page.is_visible("#remote-video")

    agent = StandInAgent()
    try:
        await relay.send(await agent.offer())
        await harness.wait_state("#conn-state", "connecting")
        answer = await relay.next()
        assert answer["type"] == "answer" and answer["v"] == 1
        assert answer["nonce"] != agent.nonce.hex()
        assert "a=fingerprint:sha-256" in answer["sdp"]
        expected = await agent.accept(answer, harness.session_id)

        assert await page.text_content("#sas-code") == ""  # nothing before the reveal
        await relay.send(Reveal(nonce=agent.nonce.hex()))
        await page.wait_for_function("() => document.getElementById('sas-code').textContent.trim() !== ''")
        assert await page.text_content("#sas-code") == sas.display(expected)
        assert await page.evaluate("window.veoConsole.sas") == expected
        assert await page.is_visible("#sas-hint")

        await relay.send(Consent(granted=["view", "control"], sas_confirmed=True))
        await harness.session_state("active", granted=["view", "control"])
        await page.wait_for_function(
            "() => document.getElementById('granted').textContent.includes('View screen')"
        )
        assert "Control mouse and keyboard" in (await page.text_content("#granted") or "")
        assert await harness.state("#control-state") == "off"  # no `control` from the agent yet

        await page.click("#sas-match")
        assert await relay.next() == {"type": "sas_confirm", "v": 1}
        await harness.session_state("active", granted=["view", "control"], technician_sas_confirmed=True)
        # Asked once the code is confirmed, with no method chosen beforehand.
        await page.wait_for_selector("#identity-bar", state="visible")
        assert await page.input_value("#identity-method") == ""
        await page.click("#identity-save")  # nothing chosen: nothing is recorded
        await page.select_option("#identity-method", "phone_questions")
        await page.click("#identity-save")
        assert await relay.next() == {"type": "identity", "v": 1, "method": "phone_questions"}
        await harness.session_state(
            "active",
            granted=["view", "control"],
            technician_sas_confirmed=True,
            identity_required=True,
            identity="phone_questions",
        )
        await page.wait_for_selector("#sas-confirmed", state="visible")
        assert await page.is_hidden("#sas-match")
        assert await page.is_hidden("#identity-bar")
        assert await page.text_content("#identity-state") == "Verified by phone questions"
        assert await page.evaluate("window.veoConsole.technicianSasConfirmed") is True

        await relay.send(ControlState(paused=True))
        await harness.wait_state("#control-state", "paused")
        assert await page.evaluate("window.veoConsole.paused") is True

        await page.click("#end-session")
        hangup = await relay.next()
        assert hangup["type"] == "hangup"
        assert await page.is_disabled("#end-session")
        await relay.send(Ended(by="technician", reason="technician_ended"))
        await harness.wait_state("#conn-state", "ended")
        await page.wait_for_selector("#note-form", state="visible")
        assert await harness.state("#control-state") == "off"
        assert "You ended the session" in (await page.text_content("#end-reason") or "")

        await page.fill("#note-form textarea[name=note]", "Replaced the toner.")
        await page.click("#note-form button[type=submit]")
        await page.wait_for_selector("#saved")
        assert relay.notes == [
            {"csrf_token": "csrf-test-token", "note": "Replaced the toner.", "resolve": ""}
        ]
    finally:
        await agent.close()
    assert harness.errors == []


@ON_MODULE_LOOP
async def test_commitment_mismatch_aborts_with_a_plain_warning(harness: Harness) -> None:
    page, relay = harness.page, harness.relay
    await harness.session_state("joined")
    agent = StandInAgent()
    try:
        await relay.send(await agent.offer())
        answer = await relay.next()
        await agent.accept(answer, harness.session_id)
        await relay.send(Reveal(nonce=secrets.token_bytes(32).hex()))  # not the committed nA
        abort = await relay.next()
        assert abort == {"type": "abort", "v": 1, "reason": "sas_commitment_mismatch"}
        await harness.wait_state("#conn-state", "aborted")
        banner = await page.text_content("#error-banner") or ""
        assert "The verification failed: the connection may be intercepted" in banner
        assert await page.is_visible("#error-banner")
        assert await page.text_content("#sas-code") == ""
        await page.wait_for_selector("#note-form", state="visible")
        await relay.send(Ended(by="system", reason="sas_commitment_mismatch"))
        assert await harness.state("#conn-state") == "aborted"
    finally:
        await agent.close()


@ON_MODULE_LOOP
async def test_reconnects_after_the_socket_drops_and_stops_after_the_end(harness: Harness) -> None:
    page, relay = harness.page, harness.relay
    await harness.session_state("joined")
    await harness.wait_state("#conn-state", "joined")
    await relay.drop()
    await asyncio.wait_for(relay.connected.wait(), WAIT_MS / 1000)
    assert relay.connections == 2
    await harness.session_state("joined")
    await page.wait_for_selector("#error-banner", state="hidden")
    await relay.send(Ended(by="user", reason="denied"))
    await harness.wait_state("#conn-state", "ended")
    assert await page.text_content("#end-reason") == "The user did not allow the session."
    assert await page.is_hidden("#session-area")


@ON_MODULE_LOOP
async def test_signed_out_socket_stops_and_end_falls_back_to_the_form(harness: Harness) -> None:
    page, relay = harness.page, harness.relay
    await harness.session_state("joined")
    await harness.wait_state("#conn-state", "joined")
    await relay.drop(code=4401)
    await page.wait_for_selector("#error-banner", state="visible")
    assert "signed out" in (await page.text_content("#error-banner") or "")
    await page.click("#end-session")  # no socket: the plain form posts instead
    await page.wait_for_selector("#ended-by-form")
    assert relay.end_posts == [{"csrf_token": "csrf-test-token"}]
    assert relay.connections == 1


@ON_MODULE_LOOP
async def test_server_error_is_shown_in_the_banner(harness: Harness) -> None:
    await harness.relay.send(Error(code="out_of_order", message="answer before offer"))
    await harness.page.wait_for_selector("#error-banner", state="visible")
    assert await harness.page.text_content("#error-banner") == "answer before offer"


# ---------------------------------------------------------------- media and input, in a network namespace

NETNS_ENV = "VEO_CONSOLE_NETNS"
in_netns = only_in_namespace(NETNS_ENV, "test_media_in_a_namespace")


def test_media_in_a_namespace() -> None:
    """Run the media tests below in a private network namespace (field note 1): nothing leaves it."""
    rerun_in_namespace(__file__, NETNS_ENV, timeout=170)


class ChannelLog:
    """What the console sent over the data channel, each message checked against the protocol.

    ``queue`` holds the input messages; the others (the technician's pointer, annotations) are
    kept in ``features`` so the input checks see only input.
    """

    def __init__(self, channel: Any) -> None:
        self.queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.features: list[dict[str, Any]] = []
        self.opened = asyncio.Event()
        if channel.readyState == "open":
            self.opened.set()
        channel.on("open", self.opened.set)
        channel.on("message", self._on_message)
        self.channel = channel

    def _on_message(self, raw: str) -> None:
        message = parse_console_data_message(raw)
        if message.type in INPUT_TYPES:
            self.queue.put_nowait(json.loads(raw))
        else:
            self.features.append(json.loads(raw))

    async def next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.queue.get(), WAIT_MS / 1000)

    def send(self, **message: Any) -> None:
        self.channel.send(json.dumps({"v": 1, **message}))


async def _connect(harness: Harness, agent: StandInAgent) -> None:
    """Signaling up to an active session: offer, answer, reveal, consent."""
    relay = harness.relay
    await relay.send(AgentJoined(platform="Linux"))
    await harness.session_state("joined")
    await relay.send(await agent.offer())
    answer = await relay.next()
    await agent.accept(answer, harness.session_id)
    await relay.send(Reveal(nonce=agent.nonce.hex()))
    await relay.send(Consent(granted=["view", "control"], sas_confirmed=True))
    await harness.session_state("active", granted=["view", "control"])


@in_netns
@ON_MODULE_LOOP
async def test_in_namespace_video_plays_and_input_flows_only_while_control_is_active(
    harness: Harness,
) -> None:
    page = harness.page
    agent = StandInAgent()
    log = ChannelLog(agent.channel)
    try:
        await _connect(harness, agent)
        await harness.wait_state("#conn-state", "active")
        await page.wait_for_function(
            "() => document.getElementById('remote-video').videoWidth > 0", timeout=WAIT_MS
        )
        await asyncio.wait_for(log.opened.wait(), WAIT_MS / 1000)

        log.send(type="screen", width=1920, height=1080)
        log.send(type="control", granted=["view", "control"], paused=False, active=False)
        await page.wait_for_function(
            "() => window.veoConsole.screen && window.veoConsole.screen.width === 1920"
        )
        assert await harness.state("#control-state") == "off"

        box = await page.locator("#remote-video").bounding_box()
        assert box is not None
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        await page.mouse.click(cx, cy)  # control not active: the console must not even try
        await page.keyboard.press("z")
        # Not sent, and the console says so over the video instead of dropping the click silently.
        await page.wait_for_selector("#input-notice", state="visible")
        assert await page.get_attribute("#input-notice", "data-key") == "notice.not_yet"
        await page.focus("#remote-input")
        await page.keyboard.press("Tab")  # without control, Tab still leaves the screen
        assert await page.evaluate("() => document.activeElement.id") != "remote-input"

        log.send(type="control", granted=["view", "control"], paused=False, active=True)
        await harness.wait_state("#control-state", "active")
        size = await page.evaluate(
            "(v) => [v.videoWidth, v.videoHeight]", await page.query_selector("#remote-video")
        )
        scale = min(box["width"] / size[0], box["height"] / size[1])
        left = box["x"] + (box["width"] - size[0] * scale) / 2
        top = box["y"] + (box["height"] - size[1] * scale) / 2
        await page.mouse.move(left + size[0] * scale * 0.25 + 0.5, top + size[1] * scale * 0.75 + 0.5)
        await page.mouse.down()
        first = await log.next()  # ordered channel: anything sent while inactive would come first
        while first["type"] == "pointer_move":
            first = await log.next()
        # One CSS pixel is 1920 / shown width screen pixels: that much rounding is allowed here (the
        # mapping itself is tested exactly in tests/unit/console/test_mapping_js.py).
        slack = 1920 / (size[0] * scale) + 1
        assert (first["type"], first["button"], first["down"]) == ("pointer_button", "left", True)
        assert abs(first["x"] - 480) <= slack and abs(first["y"] - 810) <= slack, first
        await page.mouse.up()
        assert (await log.next())["down"] is False

        await page.mouse.wheel(0, 100)
        wheel = await log.next()
        assert (wheel["type"], wheel["dy"], wheel["dx"]) == ("wheel", 1, 0)

        await page.keyboard.press("a")
        assert await log.next() == {"type": "key", "v": 1, "key": "a", "code": "KeyA", "down": True}
        assert await log.next() == {"type": "key", "v": 1, "key": "a", "code": "KeyA", "down": False}
        await page.keyboard.press("Tab")  # with control, Tab goes to the remote and focus stays
        assert (await log.next())["key"] == "Tab"
        assert (await log.next())["key"] == "Tab"
        assert await page.evaluate("() => document.activeElement.id") == "remote-input"

        log.send(type="control", granted=["view", "control"], paused=True, active=False)
        await harness.relay.send(ControlState(paused=True))
        await harness.wait_state("#control-state", "paused")
        await page.wait_for_selector("#paused-overlay", state="visible")
        await page.keyboard.press("b")  # paused: nothing leaves, and the console says why
        await page.wait_for_selector('#input-notice[data-key="notice.paused"]', state="visible")
        log.send(type="control", granted=["view", "control"], paused=False, active=True)
        await harness.wait_state("#control-state", "active")
        await page.keyboard.press("c")
        assert [(m["key"], m["down"]) for m in (await log.next(), await log.next())] == [
            ("c", True),
            ("c", False),
        ]

        log.send(type="dropped", reason="control_paused")
        await page.wait_for_selector('#input-notice[data-key="dropped.control_paused"]', state="visible")
        assert await page.text_content("#input-notice") == "The user paused control."
        assert await page.text_content("#dropped-notice") == "The user paused control."

        await page.click("#end-session")  # focus leaves the video first: release_all
        assert (await log.next())["type"] == "release_all"
        assert (await harness.relay.next())["type"] == "hangup"
    finally:
        await agent.close()
    assert harness.errors == []
