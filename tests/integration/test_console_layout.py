"""The console as a technician sees it, at every stage of a session, at 1366x768 and 1920x1080,
in English and Spanish.

Served like the console page tests (``console_harness.py``: a stand-in server relaying
``/ws/console`` and a real aiortc offerer as the agent) but with the real ``base.html``,
``veo.css`` and the real translations, inside a private network namespace so that video and the
data channel flow. At each stage it checks what a technician relies on: *End session* inside the
first viewport, the state badge and sentence in the page's language, the verification step while
it is pending, nothing about features that were not requested, and no internal code
(``snake_case`` reasons, Python lists) in the visible text.

Resume after a drop (issue 13) is driven through the same stages: the link to the user's computer
lost (the session's deadline said, input held), a resume offer whose reveal carries a wrong proof
(refused), one with the right proof (back, "Reconnected"), one without (the codes compared again),
and a reloaded page that resumes with the key its tab kept.

``VEO_CONSOLE_SHOTS=DIR`` also saves a screenshot of every stage there
(``console-<lang>-<width>x<height>-<stage>.png``).
"""

from __future__ import annotations

import asyncio
import fractions
import json
import os
import re
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import pytest_asyncio
from aiortc.mediastreams import MediaStreamTrack
from av import VideoFrame
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader
from playwright.async_api import Browser, Page, async_playwright
from tests.integration.console_harness import (
    Relay,
    Served,
    StandInAgent,
    send_session_state,
    serve_app,
    stand_in_app,
)
from tests.netns import only_in_namespace, rerun_in_namespace

from veo.bench.chromium import CHROMIUM, WEBRTC_ARGS
from veo.bench.chromium import CHROMIUM_ARGS as BASE_ARGS
from veo.i18n import translations
from veo.protocol import resume, sas
from veo.protocol.datachannel import INPUT_TYPES, parse_console_data_message
from veo.protocol.signaling import (
    AgentJoined,
    Consent,
    ControlState,
    Ended,
    Reveal,
)
from veo.server.web import wording

WEB = Path(__file__).resolve().parents[2] / "src" / "veo" / "server" / "web"
CHROMIUM_ARGS = [*BASE_ARGS, WEBRTC_ARGS[0]]
CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'"
WAIT_S = 30
NETNS_ENV = "VEO_CONSOLE_LAYOUT_NETNS"
SIZES = [(1366, 768), (1920, 1080)]
LANGUAGES = ["en", "es"]
REQUESTER = "María Usuaria"
#: The badge of each state (English source; the Spanish page shows the catalog's translation).
BADGES = {
    "waiting": "Waiting",
    "joined": "User joined",
    "verifying": "Verifying",
    "active": "Active",
    "paused": "Paused by the user",
    "reconnecting": "Reconnecting",
    "ended": "Ended",
}
#: Internal codes that must never be read: snake_case words, Python list syntax.
SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
PY_LIST = re.compile(r"\[\s*'|'\s*\]")

pytestmark = [
    pytest.mark.timeout(600),
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="chromium is not installed"),
]

#: The async tests share one event loop, so one Chromium serves them all (``browser``); the sync
#: test that reruns the file in a namespace must not carry the mark.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")
in_netns = only_in_namespace(NETNS_ENV, "test_console_layout")


def test_console_layout() -> None:
    """Run the checks below in a private network namespace (media needs it; nothing leaves it)."""
    rerun_in_namespace(__file__, NETNS_ENV, timeout=590)


# ---------------------------------------------------------------- the stand-in server and agent


def make_app(relay: Relay, session: SimpleNamespace, lang: str) -> FastAPI:
    env = Environment(
        loader=FileSystemLoader(WEB / "templates"), autoescape=True, extensions=["jinja2.ext.i18n"]
    )
    env.install_gettext_translations(translations(lang), newstyle=True)  # type: ignore[attr-defined]
    env.globals["words"] = wording  # as the real environment (templating.py) has it
    app = stand_in_app(relay, CSP)

    @app.get("/sessions/{session_id}/console")
    async def console(session_id: str) -> HTMLResponse:
        html = env.get_template("console.html").render(
            session=session,
            ticket=SimpleNamespace(
                id=42,
                title="The printer does not print",
                requester_name=REQUESTER,
                requester_email="maria@example.com",
                status="open",
            ),
            code_display="123 456 789",
            join_url="https://veo.example.org/join?code=123456789",
            expires_at=datetime.now(UTC) + timedelta(minutes=10),
            ws_url=f"/ws/console?session={session_id}",
            protocol_url="/api/v1/protocol.json",
            agent_command="veo agent --server https://veo.example.org --code 123456789",
            download_url="https://veo.example.org/download",
            csrf_token="csrf-test-token",
            user=SimpleNamespace(name="Carla Técnica", role="technician"),
            organization="Soporte Ejemplo",
            languages=["en", "es"],
            lang_links={"en": "?lang=en", "es": "?lang=es"},
            current_path=f"/sessions/{session_id}/console",
            lang=lang,
            ask_permissions=["view", "control", "clipboard", "files"],  # the header's "Ask for more…"
        )
        return HTMLResponse(html)

    @app.post("/api/v1/sessions/{session_id}/chat-transcript")
    async def transcript(session_id: str) -> Response:
        return Response(status_code=204)  # the chat goes to the ticket at the end; not this test's subject

    return app


class DesktopTrack(MediaStreamTrack):
    """A still picture of a desktop (a window with a title bar on a blue background), 5 fps."""

    kind = "video"

    def __init__(self) -> None:
        super().__init__()
        image = np.zeros((720, 1280, 3), dtype=np.uint8)
        image[:, :] = (36, 88, 150)
        image[680:, :] = (30, 34, 40)  # task bar
        image[120:560, 240:1040] = (245, 246, 248)  # a window
        image[120:160, 240:1040] = (60, 64, 72)  # its title bar
        image[220:250, 300:700] = (190, 196, 204)
        image[280:310, 300:900] = (190, 196, 204)
        image[470:520, 860:1000] = (31, 95, 191)  # a button
        self.frame = VideoFrame.from_ndarray(image, format="rgb24")
        self.start = time.monotonic()
        self.count = 0

    async def recv(self) -> VideoFrame:
        self.count += 1
        await asyncio.sleep(max(0.0, self.start + self.count / 5 - time.monotonic()))
        frame = self.frame
        frame.pts = self.count * 18000
        frame.time_base = fractions.Fraction(1, 90000)
        return frame


class Agent(StandInAgent):
    """The harness's agent showing a desktop, and what the console sent on the data channel."""

    def __init__(self) -> None:
        super().__init__(DesktopTrack())
        self.inputs: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.opened = asyncio.Event()
        self.channel.on("open", self.opened.set)
        self.channel.on("message", self._on_message)

    def _on_message(self, raw: str) -> None:
        message = parse_console_data_message(raw)
        if message.type in INPUT_TYPES:
            self.inputs.put_nowait(json.loads(raw))

    def send(self, **message: Any) -> None:
        self.channel.send(json.dumps({"v": 1, **message}))

    async def next_input(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.inputs.get(), WAIT_S)


@dataclass
class Run:
    page: Page
    relay: Relay
    session_id: str
    lang: str
    size: tuple[int, int]
    errors: list[str]

    def word(self, english: str) -> str:
        return translations(self.lang).gettext(english)

    async def session_state(self, status: str, **extra: Any) -> None:
        await send_session_state(self.relay, self.session_id, status, **extra)

    async def wait_phase(self, phase: str) -> None:
        await self.page.wait_for_selector(f'#conn-state[data-phase="{phase}"]', timeout=WAIT_S * 1000)

    async def check_stage(self, stage: str, phase: str) -> None:
        """What must hold at every stage; then a screenshot if asked for."""
        await self.wait_phase(phase)
        page = self.page
        width, height = self.size
        badge = (await page.text_content("#state-badge") or "").strip()
        assert badge == self.word(BADGES[phase]), (stage, badge)
        if self.lang == "es":
            assert badge != BADGES[phase] or phase == "active", (stage, "badge not translated", badge)
        assert (await page.text_content("#state-sentence") or "").strip(), stage
        # End session: always there, inside the first viewport, never scrolled to.
        end = await page.locator("#end-session").bounding_box()
        assert end is not None and await page.is_visible("#end-session"), stage
        assert end["x"] >= 0 and end["x"] + end["width"] <= width, (stage, end)
        assert end["y"] >= 0 and end["y"] + end["height"] <= height, (stage, end)
        assert await page.evaluate("document.scrollingElement.scrollHeight") <= height, stage
        # Words, not codes.
        text = await page.evaluate("document.body.innerText")
        assert not SNAKE.findall(text), (stage, SNAKE.findall(text))
        assert not PY_LIST.search(text), (stage, text)
        # Features nobody asked for are not on the page at all.
        assert await page.is_hidden("#tab-files") and await page.is_hidden("#tab-clipboard"), stage
        for never in ("The user did not allow the clipboard.", "The user did not allow file transfer."):
            assert self.word(never) not in text and never not in text, stage
        shots = os.environ.get("VEO_CONSOLE_SHOTS")
        if shots:
            await asyncio.to_thread(Path(shots).mkdir, parents=True, exist_ok=True)
            await page.screenshot(path=f"{shots}/console-{self.lang}-{width}x{height}-{stage}.png")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def browser() -> AsyncIterator[Browser]:
    """One Chromium for the module (a launch took 1-2 s a test); each test opens its own context."""
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        await browser.close()


@dataclass
class Server:
    relay: Relay
    session_id: str
    url: str
    session: SimpleNamespace


async def serve(lang: str) -> tuple[Server, Served]:
    session_id = f"0000{secrets.token_hex(4)}-0000-4000-8000-000000000042"
    relay = Relay()
    session = SimpleNamespace(
        id=session_id, status="waiting", requested_permissions=["view", "control"], identity_required=True
    )
    served = await serve_app(make_app(relay, session, lang), "console-layout-server")
    url = f"http://127.0.0.1:{served.port}/sessions/{session_id}/console"
    return Server(relay, session_id, url, session), served


#: The session as the server describes it once the user allowed and everything was confirmed.
CONFIRMED: dict[str, Any] = {
    "granted": ["view", "control"],
    "identity_required": True,
    "technician_sas_confirmed": True,
    "identity": "phone_questions",
}


def deadline(seconds: int = 120) -> str:
    """session_state.resume_deadline: when the server ends the session unless the link comes back."""
    return (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()


async def resume_offer(run: Run, key: bytes, reveal: str) -> Agent:
    """A new connection as the agent makes it after a drop: a resume offer, the console's answer
    (whose proof must check out under ``key``), then a reveal with the agent's proof (``proof``),
    a wrong one (``bad``) or none (``none``, as when the agent got no proof to answer)."""
    agent = Agent()
    offer = await agent.offer(resume=True)
    await run.relay.send(offer)
    answer = await run.relay.next()
    assert answer["type"] == "answer", answer
    await agent.accept(answer, run.session_id)
    fps = (sas.sha256_fingerprint(offer.sdp), sas.sha256_fingerprint(answer["sdp"]))
    exchange = (run.session_id, *fps, offer.commitment, answer["nonce"])
    assert resume.check(key, "console", answer["resume_proof"], *exchange), "the console's proof"
    proofs = {
        "proof": resume.proof(key, "agent", *exchange),
        "bad": resume.proof(secrets.token_bytes(32), "agent", *exchange),
        "none": None,
    }
    await run.relay.send(Reveal(nonce=agent.nonce.hex(), resume_proof=proofs[reveal]))
    return agent


async def carry_on(run: Run, agent: Agent) -> None:
    """The agent's new data channel carries the session again: screen, control, the key again."""
    await asyncio.wait_for(agent.opened.wait(), WAIT_S)
    agent.send(type="screen", width=1280, height=720)
    agent.send(type="control", granted=["view", "control"], paused=False, active=True)


async def stored_key(page: Page, session_id: str) -> str | None:
    key: str | None = await page.evaluate(
        "(sid) => sessionStorage.getItem(`veo-resume-key:${sid}`)", session_id
    )
    return key


@in_netns
@pytest.mark.parametrize("lang", LANGUAGES)
@pytest.mark.parametrize("size", SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@ON_MODULE_LOOP
async def test_in_namespace_every_stage(browser: Browser, size: tuple[int, int], lang: str) -> None:
    stand_in, served = await serve(lang)
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=lang)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    relay = stand_in.relay
    run = Run(page, relay, stand_in.session_id, lang, size, errors)
    agent = Agent()
    agents = [agent]
    try:
        # The <video> carries disablepictureinpicture in the HTML itself, before any stream.
        html = await (await page.request.get(stand_in.url)).text()
        video_tag = re.search(r"<video\b[^>]*>", html)
        assert video_tag is not None and "disablepictureinpicture" in video_tag.group(0)

        await page.goto(stand_in.url)
        await asyncio.wait_for(relay.connected.wait(), WAIT_S)
        await run.session_state("waiting")
        assert (await page.text_content("#session-code")) == "123 456 789"
        assert await page.is_visible("#copy-code") and await page.is_visible("#copy-link")
        await run.check_stage("1-waiting", "waiting")
        # The copy buttons use the pages' one helper (static/shared/copy.js), in the page's language.
        origin = stand_in.url.split("/sessions")[0]
        await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
        await page.click("#copy-code")
        copied = "Copiado" if lang == "es" else "Copied"
        await page.wait_for_function(
            "([sel, text]) => { const b = document.querySelector(sel);"
            " return b.dataset.copyState === 'done' && b.textContent === text; }",
            arg=["#copy-code", copied],
        )
        assert await page.evaluate("navigator.clipboard.readText()") == "123456789"

        await relay.send(AgentJoined(platform="Linux", address="192.0.2.7"))
        await run.session_state("joined")
        await run.check_stage("2-joined", "joined")

        await relay.send(await agent.offer())
        await agent.accept(await relay.next(), run.session_id)
        await relay.send(Reveal(nonce=agent.nonce.hex()))
        await page.wait_for_selector("#verify-bar", state="visible")
        for button in ("#sas-match", "#sas-mismatch"):
            box = await page.locator(button).bounding_box()
            assert box is not None and box["y"] + box["height"] <= size[1], button
        await run.check_stage("3-verifying", "verifying")

        await relay.send(Consent(granted=["view", "control"], sas_confirmed=True))
        await run.session_state("active", granted=["view", "control"], identity_required=True)
        await page.wait_for_function(
            "() => document.getElementById('remote-video').videoWidth > 0", timeout=WAIT_S * 1000
        )
        await asyncio.wait_for(agent.opened.wait(), WAIT_S)
        agent.send(type="screen", width=1280, height=720)
        await page.click("#sas-match")
        assert await relay.next() == {"type": "sas_confirm", "v": 1}
        await run.session_state(
            "active", granted=["view", "control"], identity_required=True, technician_sas_confirmed=True
        )
        # The identity question: nothing chosen beforehand, the policy's reason said.
        await page.wait_for_selector("#identity-bar", state="visible")
        assert await page.input_value("#identity-method") == ""
        await run.check_stage("4-identity", "active")
        await page.select_option("#identity-method", "phone_questions")
        await page.click("#identity-save")
        assert await relay.next() == {"type": "identity", "v": 1, "method": "phone_questions"}
        await run.session_state(
            "active",
            granted=["view", "control"],
            identity_required=True,
            technician_sas_confirmed=True,
            identity="phone_questions",
        )
        agent.send(type="control", granted=["view", "control"], paused=False, active=True)
        await page.wait_for_selector('#control-state[data-state="active"]', state="attached")
        await page.wait_for_selector("#identity-bar", state="hidden")
        # The input layer, not the video, is what a click on the screen meets.
        hit = await page.evaluate(
            """() => { const r = document.getElementById('remote-video').getBoundingClientRect();
                       return document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2).id; }"""
        )
        assert hit == "remote-input"
        # Chat lines counted on the tab with the language's plural form.
        await page.click("#tab-session")
        stop = await page.text_content("#stop-key") or ""
        assert ("Ctrl+Alt+Mayús+Fin" if lang == "es" else "Ctrl+Alt+Shift+End") in stop
        agent.send(type="chat", id="u1", text="¿Ve mi pantalla?")
        await page.wait_for_function("() => document.getElementById('tab-chat').dataset.unread === '1'")
        one = await page.text_content("#tab-chat")
        agent.send(type="chat", id="u2", text="La impresora sigue sin imprimir.")
        await page.wait_for_function("() => document.getElementById('tab-chat').dataset.unread === '2'")
        two = await page.text_content("#tab-chat")
        assert (one, two) == (
            ("Chat (1 nuevo)", "Chat (2 nuevos)") if lang == "es" else ("Chat (1 new)", "Chat (2 new)")
        )
        await run.check_stage("5-active", "active")
        # Tools folded away: the screen takes the whole width; a new line shows on the Tools button.
        await page.click("#tools-toggle")
        await page.wait_for_selector("#tools-panel", state="hidden")
        wide = await page.locator("#remote-video").bounding_box()
        assert wide is not None and wide["width"] == size[0], wide
        agent.send(type="chat", id="u3", text="¿Sigue ahí?")
        await page.wait_for_selector('#tools-toggle[data-unread="3"]')
        await page.click("#tools-toggle")
        await page.wait_for_selector("#tools-panel", state="visible")
        await page.click("#tab-chat")

        # The user pauses control: said over the video; a click says it was not sent.
        agent.send(type="control", granted=["view", "control"], paused=True, active=False)
        await relay.send(ControlState(paused=True))
        await run.wait_phase("paused")
        overlay = await page.text_content("#paused-overlay") or ""
        assert REQUESTER in overlay and await page.is_visible("#paused-overlay")
        video = await page.locator("#remote-video").bounding_box()
        assert video is not None
        await page.mouse.click(video["x"] + video["width"] / 2, video["y"] + video["height"] / 2)
        await page.wait_for_selector('#input-notice[data-key="notice.paused"]', state="visible")
        await run.check_stage("6-paused", "paused")
        agent.send(type="control", granted=["view", "control"], paused=False, active=True)
        await relay.send(ControlState(paused=False))
        await run.wait_phase("active")
        await page.keyboard.press("c")  # ordered channel: the paused click would have come first
        first = await agent.next_input()
        while first["type"] == "pointer_move":
            first = await agent.next_input()
        assert (first["type"], first["key"], first["down"]) == ("key", "c", True), first

        # The link to the server drops and cannot come back for a while.
        relay.refuse = True
        await relay.drop()
        await run.check_stage("7-reconnecting", "reconnecting")
        relay.refuse = False
        await asyncio.wait_for(relay.connected.wait(), WAIT_S)
        await run.session_state("active", **CONFIRMED)
        await run.wait_phase("active")

        # The verified connection hands over the resume key: this page verified it ("Codes match"
        # above), so its tab keeps the key for a reload.
        key = secrets.token_bytes(32)
        agent.send(type="resume_key", key=key.hex())
        await page.wait_for_function(
            "([sid, want]) => sessionStorage.getItem(`veo-resume-key:${sid}`) === want",
            arg=[stand_in.session_id, key.hex()],
        )
        # The link to the user's computer is lost: the server keeps the grant until the deadline.
        await agent.pc.close()
        await run.session_state("active", **CONFIRMED, interrupted=True, resume_deadline=deadline())
        await page.wait_for_selector("#link-overlay", state="visible", timeout=WAIT_S * 1000)
        await page.keyboard.press("x")  # not sent: said over the screen
        await page.wait_for_selector('#input-notice[data-key="notice.reconnecting"]', state="visible")
        sentence = await page.text_content("#state-sentence") or ""
        assert re.search(r"\d\d:\d\d", sentence), sentence  # when the session ends
        over_screen = await page.text_content("#link-overlay") or ""
        assert re.search(r"\b[12]:\d\d\b", over_screen), over_screen  # and in how long
        assert await page.get_attribute("#control-state", "data-state") == "off"
        await run.check_stage("7b-link-lost", "reconnecting")

        # A new connection whose agent proof is wrong: refused, reported, said in a sentence; its
        # video is never shown (the last picture stays under "reconnecting").
        await page.evaluate("() => { window.lastStream = document.querySelector('video').srcObject; }")
        refused = await resume_offer(run, key, "bad")
        agents.append(refused)
        assert await relay.next() == {"type": "resume_refused", "v": 1, "reason": "bad_proof"}
        await page.wait_for_selector("#error-banner", state="visible")
        banner = await page.text_content("#error-banner") or ""
        refusal = (
            "A new connection was refused: it could not prove it comes from the computer you verified,"
            " so someone may be interfering. Waiting for the user's computer to try again."
        )
        assert banner == run.word(refusal), banner
        assert await page.evaluate(
            "() => window.lastStream !== null"
            " && document.querySelector('video').srcObject === window.lastStream"
        )
        await run.check_stage("7c-refused", "reconnecting")

        # The next one proves the key: back without a new code, a brief "Reconnected".
        agent = await resume_offer(run, key, "proof")
        agents.append(agent)
        await carry_on(run, agent)
        await run.session_state("active", **CONFIRMED)
        await page.wait_for_selector('#input-notice[data-key="notice.reconnected"]', state="visible")
        # "Reconnected" comes with the picture back: there is a screen to click on at once
        assert await page.evaluate("() => document.getElementById('remote-video').videoWidth > 0")
        await page.wait_for_selector('#control-state[data-state="active"]', state="attached")
        assert await page.is_hidden("#verify-bar") and await page.is_hidden("#error-banner")
        await run.check_stage("7d-reconnected", "active")
        await page.keyboard.press("r")
        first = await agent.next_input()
        while first["type"] == "pointer_move":
            first = await agent.next_input()
        assert (first["type"], first["key"]) == ("key", "r"), first

        # A connection without the agent's proof (it got none to answer): the codes are compared again.
        await agent.pc.close()
        await run.session_state("active", **CONFIRMED, interrupted=True, resume_deadline=deadline(90))
        await run.wait_phase("reconnecting")
        agent = await resume_offer(run, key, "none")
        agents.append(agent)
        # what this not-yet-verified connection says is held, not shown as the user's, until the
        # technician compared the new code (the real agent says nothing there but heartbeats)
        await asyncio.wait_for(agent.opened.wait(), WAIT_S)
        agent.send(type="chat", id="held-1", text="Held until the codes match")
        await asyncio.sleep(0.5)
        held_text = "Held until the codes match"
        assert held_text not in (await page.text_content("#chat-panel") or "")
        # a state sent before the server cleared the old "Codes match" does not skip the comparison
        await run.session_state("active", **CONFIRMED, interrupted=True, resume_deadline=deadline(90))
        await page.wait_for_selector("#sas-match", state="visible")
        await asyncio.sleep(0.5)  # the stale state is handled by now
        assert await page.is_visible("#sas-match")
        again = {**CONFIRMED, "technician_sas_confirmed": False}
        await run.session_state("active", **again, interrupted=True, resume_deadline=deadline(90))
        await page.wait_for_selector("#sas-match", state="visible")
        assert re.fullmatch(r"\d{3} \d{3}", (await page.text_content("#sas-code")) or "")
        await run.check_stage("7e-verify-again", "verifying")
        await page.click("#sas-match")
        assert await relay.next() == {"type": "sas_confirm", "v": 1}
        await page.wait_for_function(
            "(want) => (document.getElementById('chat-panel').textContent || '').includes(want)",
            arg=held_text,
        )
        await run.session_state("active", **CONFIRMED, interrupted=True, resume_deadline=deadline(90))
        await page.wait_for_selector("#verify-bar", state="hidden")
        await carry_on(run, agent)
        await run.session_state("active", **CONFIRMED)  # the user confirmed too: "resumed"
        await page.wait_for_selector('#control-state[data-state="active"]', state="attached")
        await run.wait_phase("active")

        # The technician reloads the page (F5): it waits for the agent's resume offer and proves the
        # key its tab kept; nothing is asked again.
        stand_in.session.status = "active"
        relay.connected.clear()
        await agent.pc.close()
        await page.reload()
        await asyncio.wait_for(relay.connected.wait(), WAIT_S)
        await run.session_state("active", **CONFIRMED, interrupted=True, resume_deadline=deadline(100))
        await run.check_stage("7f-reloaded", "reconnecting")
        assert await stored_key(page, stand_in.session_id) == key.hex()
        agent = await resume_offer(run, key, "proof")
        agents.append(agent)
        await carry_on(run, agent)
        await run.session_state("active", **CONFIRMED)
        await page.wait_for_selector('#control-state[data-state="active"]', state="attached")
        await run.wait_phase("active")
        assert await page.is_hidden("#verify-bar")

        await relay.send(Ended(by="user", reason="user_stopped"))
        await run.check_stage("8-ended", "ended")
        assert await page.text_content("#end-reason") == run.word("The user stopped the session.")
        assert await page.is_visible("#note-form") and await page.is_visible("#note-resolve")
        # the chat's notice no longer speaks of a session still to end
        await page.wait_for_function(
            "(want) => document.getElementById('chat-notice').textContent === want",
            arg=run.word("The session is over: no more messages can be sent."),
        )
        assert await stored_key(page, stand_in.session_id) is None  # nothing may resume it any more
        duration = await page.text_content("#end-duration") or ""
        assert re.search(r"\d", duration) and not re.search(r"\d+:\d\d|\bmin\b|\bs\b", duration), duration
        # The refused reconnection (1013 above) is the browser's own log line, not the page's error.
        assert [e for e in errors if "WebSocket connection to" not in e] == [], errors
    finally:
        for each in agents:
            await each.pc.close()
        await context.close()
        await served.stop()


@in_netns
@pytest.mark.parametrize("lang", LANGUAGES)
@ON_MODULE_LOOP
async def test_in_namespace_an_expired_code_offers_a_new_one(browser: Browser, lang: str) -> None:
    stand_in, served = await serve(lang)
    context = await browser.new_context(viewport={"width": 1366, "height": 768}, locale=lang)
    page = await context.new_page()
    try:
        await page.clock.install()
        await page.goto(stand_in.url)
        await asyncio.wait_for(stand_in.relay.connected.wait(), WAIT_S)
        assert await page.is_hidden("#new-code-form")
        await page.clock.fast_forward("10:30")
        await page.wait_for_selector("#new-code-form", state="visible")
        assert await page.get_attribute("#waiting-panel", "data-expired") == "true"
        assert await page.text_content("#code-expiry") == translations(lang).gettext("The code has expired.")
        assert await page.is_hidden("#copy-code")  # an expired code is not something to pass on
        assert await page.is_hidden("#join-url")
        sentence = translations(lang).gettext(
            "The code expired before the user entered it; get a new code to try again."
        )
        assert await page.text_content("#state-sentence") == sentence
        end = await page.locator("#end-session").bounding_box()
        assert end is not None and end["y"] + end["height"] <= 768
        shots = os.environ.get("VEO_CONSOLE_SHOTS")
        if shots:
            await asyncio.to_thread(Path(shots).mkdir, parents=True, exist_ok=True)
            await page.screenshot(path=f"{shots}/console-{lang}-1366x768-0-expired.png")
    finally:
        await context.close()
        await served.stop()


#: What the agent says about a Wayland desktop whose sharing window had remote control left off,
#: where drawings cannot be shown and there is no stop key (``veo.protocol.datachannel.Desktop``).
WAYLAND_LIMITS = ["control_refused", "no_overlay", "no_stop_key", "pointer_in_picture"]
WAYLAND_SENTENCES = [
    "The user switched remote control off in their desktop's sharing window.",
    "Your drawings show only on your screen on this desktop.",
    "The user's desktop has no emergency stop key; they can stop with the Stop button on the veo bar.",
]


@in_netns
@pytest.mark.parametrize("lang", LANGUAGES)
@ON_MODULE_LOOP
async def test_in_namespace_a_wayland_desktops_limits(browser: Browser, lang: str) -> None:
    """The agent's ``desktop`` message: each limit a sentence in the page's language above the
    screen, control hidden as for an ungranted permission (no Send keys, no Ask for control), the
    Session tab saying why and that the bar's Stop is the way out."""
    stand_in, served = await serve(lang)
    size = (1366, 768)
    context = await browser.new_context(viewport={"width": size[0], "height": size[1]}, locale=lang)
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    relay = stand_in.relay
    run = Run(page, relay, stand_in.session_id, lang, size, errors)
    agent = Agent()
    try:
        await page.goto(stand_in.url)
        await asyncio.wait_for(relay.connected.wait(), WAIT_S)
        await relay.send(AgentJoined(platform="Linux (Wayland)", address="192.0.2.7"))
        await run.session_state("joined")
        await relay.send(await agent.offer())
        await agent.accept(await relay.next(), run.session_id)
        await relay.send(Reveal(nonce=agent.nonce.hex()))
        await page.wait_for_selector("#verify-bar", state="visible")
        # control was ticked in veo's dialog but left off in the desktop's: consent says view only
        await relay.send(Consent(granted=["view"], sas_confirmed=True))
        await page.wait_for_function(
            "() => document.getElementById('remote-video').videoWidth > 0", timeout=WAIT_S * 1000
        )
        await asyncio.wait_for(agent.opened.wait(), WAIT_S)
        agent.send(type="screen", width=1280, height=720)
        agent.send(type="desktop", backend="portal", control=False, limits=WAYLAND_LIMITS)
        agent.send(type="control", granted=["view"], paused=False, active=False, waiting_for=[])
        await page.click("#sas-match")
        assert await relay.next() == {"type": "sas_confirm", "v": 1}
        await run.session_state("active", **{**CONFIRMED, "granted": ["view"]})
        await page.wait_for_selector("#desktop-limits", state="visible")
        said = [
            (await item.text_content() or "").strip()
            for item in await page.query_selector_all("#desktop-limits li")
        ]
        assert said == [run.word(s) for s in WAYLAND_SENTENCES], said
        if lang == "es":
            assert said[0] != WAYLAND_SENTENCES[0], "not translated"
        # Send keys needs control the desktop does not allow; control cannot be asked for there
        await page.wait_for_selector("#keys-menu", state="hidden", timeout=5000)
        await page.wait_for_function(
            "(control) => { const b = document.getElementById('ask-permission');"
            " return !b || b.hidden || b.textContent !== control; }",
            arg=run.word("Ask for control"),
            timeout=5000,
        )
        video = await page.locator("#remote-video").bounding_box()
        assert video is not None
        await page.mouse.click(video["x"] + video["width"] / 2, video["y"] + video["height"] / 2)
        await page.wait_for_selector('#input-notice[data-key="notice.desktop_view_only"]', state="visible")
        assert agent.inputs.empty()
        # the header says why control is off: the desktop's window, not veo's dialog
        sentence = (await page.text_content("#state-sentence") or "").strip()
        assert sentence == run.word(WAYLAND_SENTENCES[0]), sentence
        await run.check_stage("7-wayland-limits", "active")
        await page.click("#tab-session")
        assert (await page.text_content("#control-why") or "").strip() == run.word(WAYLAND_SENTENCES[0])
        assert (await page.text_content("#stop-key") or "").strip() == run.word(WAYLAND_SENTENCES[2])
        await run.check_stage("8-wayland-session-tab", "active")
        assert errors == [], errors
    finally:
        await agent.pc.close()
        await context.close()
        await served.stop()
