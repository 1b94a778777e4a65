"""The console page in a real Chromium when another tab of its session took the agent's offer.

The server answers this page's answer ``out_of_order`` (another console answered first) and then
relays the agent's reveal, made for the other tab's answer. The page must show no code (it would
derive one that is not the user's), no error banner, and one calm sentence; the agent's next offer
is its to answer again. Uses the page harness of ``console_harness.py`` (stand-in server).
"""

from __future__ import annotations

from collections.abc import AsyncIterator

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

from veo.protocol.signaling import AgentJoined, Error, Reveal
from veo.server.sessions.messages import error_text

CALM = "This session continues in another window."

# the skip without Chromium; one event loop for the module, so one Chromium serves both tests
pytestmark = [*PAGE_MARKS, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def harness(browser: Browser) -> AsyncIterator[Harness]:  # noqa: F811
    """The console page against the stand-in server, in the module's Chromium."""
    async with open_console(browser, stand_in_session(2)) as opened:
        yield opened


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
