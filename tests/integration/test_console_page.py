"""The console page in headless Chromium against a stand-in server and a stand-in aiortc agent
(``console_harness``: the real server and agent are built in parallel, so the test plays both).

Media does not flow on loopback (aiortc drops 127.0.0.1 candidates, field note 1): the namespace
test at the end and ``test_console_media.py`` cover video and the data channel inside a network
namespace. Every message the page sends is parsed with ``veo.protocol``, so a shape drift fails here.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from playwright.async_api import Browser
from tests.integration.console_harness import (
    PAGE_MARKS,
    WAIT_MS,
    Harness,
    StandInAgent,
    browser,  # noqa: F401  (the fixture)
    open_console,
    stand_in_session,
)
from tests.netns import only_in_namespace, rerun_in_namespace

from veo.protocol import sas
from veo.protocol.datachannel import INPUT_TYPES, parse_console_data_message
from veo.protocol.signaling import (
    AgentJoined,
    Consent,
    ControlState,
    Ended,
    Error,
    Reveal,
)

pytestmark = PAGE_MARKS

#: The async tests share one event loop, so one Chromium serves them all (``browser``); the sync
#: test that reruns the file in a namespace must not carry the mark.
ON_MODULE_LOOP = pytest.mark.asyncio(loop_scope="module")


@pytest_asyncio.fixture(loop_scope="module")
async def harness(browser: Browser) -> AsyncIterator[Harness]:  # noqa: F811
    async with open_console(browser, stand_in_session(1)) as opened:
        yield opened


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
