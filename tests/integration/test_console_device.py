"""The console of a session on a managed device (issue 17), in headless Chromium against the
stand-in server of ``console_harness.py``: the header names the device, the policy and the reason;
no join code is on the page; the verification code is information only (no "Codes match" to click,
nothing sent for it); and the device's end reasons are sentences."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from playwright.async_api import Browser
from tests.integration.console_harness import (
    PAGE_MARKS,
    Harness,
    StandInAgent,
    browser,  # noqa: F401  (the fixture)
    open_console,
    stand_in_session,
)

from veo.protocol import sas
from veo.protocol.device import DeviceSession
from veo.protocol.signaling import AgentJoined, Consent, Ended, Reveal

DEVICE = DeviceSession(device_name="Reception PC", policy="ask", reason="Printer queue stuck")

# timeout, chromium present; the module's event loop, the one ``browser`` (module-scoped) lives on
pytestmark = [*PAGE_MARKS, pytest.mark.asyncio(loop_scope="module")]


@pytest_asyncio.fixture(loop_scope="module")
async def device_harness(browser: Browser) -> AsyncIterator[Harness]:  # noqa: F811
    session = stand_in_session(3, device_id="a1" * 16)
    async with open_console(
        browser, session, device=DEVICE, code_display="", join_url="", agent_command=""
    ) as opened:
        yield opened


def _device_state() -> dict[str, object]:
    return {"device": DEVICE}


async def test_a_device_session_has_no_code_and_no_verification_step(device_harness: Harness) -> None:
    harness = device_harness
    page, relay = harness.page, harness.relay
    header = await page.text_content("#device-line") or ""
    assert (
        "Managed device: Reception PC" in header and "Ask first" in header and "Printer queue stuck" in header
    )
    assert (
        await page.query_selector("#session-code") is None and await page.query_selector("#join-url") is None
    )
    await harness.session_state("waiting", **_device_state())
    await page.wait_for_function(
        "() => document.getElementById('state-sentence').textContent.includes('start veo')"
    )
    assert "Connecting to Reception PC" in (await page.text_content("#waiting-panel") or "")

    await relay.send(AgentJoined(platform="Linux", address="192.0.2.7"))
    await harness.session_state("joined", **_device_state())
    agent = StandInAgent()
    try:
        await relay.send(await agent.offer())
        answer = await relay.next()
        assert answer["type"] == "answer"
        expected = await agent.accept(answer, harness.session_id)
        await relay.send(Reveal(nonce=agent.nonce.hex()))
        await page.wait_for_function("() => document.getElementById('sas-code').textContent.trim() !== ''")
        # the code is information: shown, with nothing to click and no "verifying" phase
        assert await page.text_content("#sas-code") == sas.display(expected)
        assert await page.get_attribute("#verify-bar", "data-info") == "true"
        assert await page.is_visible("#sas-info")
        assert await page.is_hidden("#sas-match") and await page.is_hidden("#sas-mismatch")
        assert await page.is_hidden("#sas-hint")
        assert await page.get_attribute("#conn-state", "data-phase") == "joined"
        assert await page.text_content("#state-badge") == "Starting"
        assert "waiting for the person at it to allow" in (await page.text_content("#state-sentence") or "")

        # automatic consent (notify/unattended) says sas_confirmed false: the console does not mind
        await relay.send(Consent(granted=["view", "control"], sas_confirmed=False))
        await harness.session_state("active", granted=["view", "control"], **_device_state())
        await page.wait_for_selector("#verify-bar", state="hidden")
        assert await page.get_attribute("#conn-state", "data-phase") != "verifying"
        assert await page.is_hidden("#identity-bar")
        assert relay.received.empty(), "nothing was sent for a code comparison"

        await relay.send(Ended(by="system", reason="device_unreachable"))
        await page.wait_for_selector("#ended-panel", state="visible")
        assert "did not answer the connection request" in (await page.text_content("#end-reason") or "")
        assert await page.is_visible("#back-to-device")
        assert await page.query_selector("#new-code-ended") is None
    finally:
        await agent.close()
    assert harness.errors == []
