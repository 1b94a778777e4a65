"""The console page in a real Chromium when another tab of its session took the agent's offer.

The server answers this page's answer ``out_of_order`` (another console answered first) and then
relays the agent's reveal, made for the other tab's answer. The page must show no code (it would
derive one that is not the user's), no error banner, and one calm sentence; the agent's next offer
is its to answer again. Uses the page harness of ``test_console_page.py`` (stand-in server).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
from collections.abc import AsyncIterator
from types import SimpleNamespace

import pytest
import pytest_asyncio
import uvicorn
from playwright.async_api import Browser
from tests.integration.test_console_page import (
    WAIT_MS,
    Harness,
    Relay,
    StandInAgent,
    browser,  # noqa: F401  (the fixture)
    make_app,
)
from tests.integration.test_console_page import pytestmark as page_marks

from veo.protocol.signaling import AgentJoined, Error, Reveal
from veo.server.sessions.messages import error_text
from veo.tasks import spawn

CALM = "This session continues in another window."

# the skip without Chromium; one event loop for the module, so one Chromium serves both tests
pytestmark = [*page_marks, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def harness(browser: Browser) -> AsyncIterator[Harness]:  # noqa: F811
    """The console page against ``test_console_page``'s stand-in server, in the module's Chromium."""
    session_id = f"0000{secrets.token_hex(4)}-0000-4000-8000-000000000002"
    relay = Relay()
    session = SimpleNamespace(id=session_id, status="waiting", requested_permissions=["view", "control"])
    server = uvicorn.Server(
        uvicorn.Config(
            make_app(relay, session), host="127.0.0.1", port=0, log_level="warning", lifespan="off"
        )
    )
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    port = sock.getsockname()[1]
    task = spawn(server.serve(sockets=[sock]), name="console-two-tabs-server")
    context = await browser.new_context()
    try:
        page = await context.new_page()
        errors: list[str] = []
        page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        await page.goto(f"http://127.0.0.1:{port}/sessions/{session_id}/console")
        await asyncio.wait_for(relay.connected.wait(), WAIT_MS / 1000)
        yield Harness(page, relay, session_id, errors)
    finally:
        await context.close()
        server.should_exit = True
        await task
        sock.close()


async def test_a_first_offer_taken_by_another_tab_shows_no_code_and_no_error(harness: Harness) -> None:
    page, relay = harness.page, harness.relay
    await relay.send(AgentJoined(platform="Linux", address="192.0.2.7"))
    await harness.session_state("joined")
    await harness.wait_state("#conn-state", "joined")
    agent = StandInAgent()
    try:
        await relay.send(await agent.offer())
        answer = await relay.next()
        assert answer["type"] == "answer"
        # what the hub sends a console whose answer came second (sessions/hub.py, wire.error)
        message = error_text("out_of_order", "answer")
        await relay.send(Error(code="out_of_order", message=message))
        await relay.send(Reveal(nonce=agent.nonce.hex()))  # the other tab's exchange
        sentence = "(calm) => document.getElementById('state-sentence').textContent === calm"
        await page.wait_for_function(sentence, arg=CALM, timeout=WAIT_MS)
        assert await page.get_attribute("#conn-state", "data-phase") == "elsewhere"
        assert await page.text_content("#sas-code") == ""
        assert await page.evaluate("window.veoConsole.sas") == ""
        assert await page.is_hidden("#verify-bar")
        assert await page.is_hidden("#error-banner")
        assert await harness.state("#control-state") == "off"

        # the other tab closed: the agent offers again, and this page answers as its own
        again = StandInAgent()
        try:
            await relay.send(await again.offer())
            second = await relay.next()
            assert second["type"] == "answer"
            expected = await again.accept(second, harness.session_id)
            await relay.send(Reveal(nonce=again.nonce.hex()))
            await page.wait_for_function(
                "() => document.getElementById('sas-code').textContent.trim() !== ''", timeout=WAIT_MS
            )
            assert await page.evaluate("window.veoConsole.sas") == expected
            assert await page.get_attribute("#conn-state", "data-phase") != "elsewhere"
        finally:
            await again.close()
    finally:
        await agent.close()
    assert harness.errors == []


async def test_another_error_after_the_answer_is_still_shown(harness: Harness) -> None:
    code = "server_error"
    page, relay = harness.page, harness.relay
    await relay.send(AgentJoined(platform="Linux", address="192.0.2.7"))
    await harness.session_state("joined")
    agent = StandInAgent()
    try:
        await relay.send(await agent.offer())
        assert (await relay.next())["type"] == "answer"
        await relay.send(Error(code=code, message=error_text(code)))
        await page.wait_for_selector("#error-banner", state="visible", timeout=WAIT_MS)
        assert await page.get_attribute("#conn-state", "data-phase") != "elsewhere"
    finally:
        await agent.close()
