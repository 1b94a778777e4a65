"""``veo agent --codec h264`` against a browser that cannot play H.264: a reason, not a crash.

The console is Debian's Chromium with H.264 removed from the receiver's codec preferences (what a
Firefox without OpenH264 is), answering the agent's real offer: it rejects the video line (port 0).
The agent must end the session with ``codec_unsupported_h264``, tell the server so in its
``hangup``, and never reach aiortc's "ICE username fragment or password is missing" or
``negotiation_failed``. With both codecs offered, the same browser takes VP8 and no such ending
happens. No packet is sent: the page gets the offer without its candidates, so neither side has
an address to check (the codecs are settled by the descriptions alone).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import pytest
from playwright.async_api import Page, async_playwright
from tests.integration.test_agent_session import Pipe, RecordingInjector, SyntheticScreen, expect, pipe_pair

from veo.agent import encoder
from veo.agent.events import SessionEnded, UiEvent
from veo.agent.session import AgentSession, SessionDeps
from veo.bench.chromium import CHROMIUM, CHROMIUM_ARGS
from veo.protocol import sas
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Answer, Hangup, Join, Joined, Offer, Reveal

pytestmark = pytest.mark.timeout(60)

#: the console's answer, with H.264 taken out of what the page will receive
ANSWER_WITHOUT_H264 = """async (offer) => {
  const pc = new RTCPeerConnection();
  await pc.setRemoteDescription({type: "offer", sdp: offer});
  for (const t of pc.getTransceivers()) {
    if (t.receiver.track.kind !== "video") continue;
    t.setCodecPreferences(
      RTCRtpReceiver.getCapabilities("video").codecs.filter((c) => !/h264/i.test(c.mimeType)));
  }
  await pc.setLocalDescription(await pc.createAnswer());
  window.__pc = pc;
  return pc.localDescription.sdp;
}"""


@pytest.fixture
def forced_codec() -> Iterator[None]:
    yield
    encoder.configure("auto")  # the process-wide setting must not leak into other tests


@pytest.fixture
async def page() -> AsyncIterator[Page]:
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield await browser.new_page()
        finally:
            await browser.close()


@dataclass
class Started:
    session: AgentSession
    running: asyncio.Task[bool]
    events: list[UiEvent]
    server: Pipe


def _without_candidates(sdp: str) -> str:
    return "".join(line for line in sdp.splitlines(keepends=True) if not line.startswith("a=candidate"))


async def _offer_to(page: Page, codec: str) -> Started:
    """Join, hand the agent's offer to the page, send its answer back to the agent."""
    encoder.configure(codec)
    loop = asyncio.get_running_loop()
    agent_end, server_end = pipe_pair()
    events: list[UiEvent] = []
    deps = SessionDeps(
        capture_factory=SyntheticScreen,
        injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
        post=events.append,
        record_history=False,
    )
    session = AgentSession(agent_end, "123456789", deps)
    running = loop.create_task(session.run())
    await expect(server_end, Join)
    joined = Joined(
        session_id="sess-codec",
        organization="ACME IT",
        technician_name="Ana",
        ticket_id=9,
        ticket_title="Firefox",
        requested=[Permission.VIEW, Permission.CONTROL],
    )
    await server_end.send(joined.dumps())
    offer = await expect(server_end, Offer)
    answer_sdp = await page.evaluate(ANSWER_WITHOUT_H264, _without_candidates(offer.sdp))
    await server_end.send(Answer(sdp=answer_sdp, nonce=sas.new_nonce().hex()).dumps())
    return Started(session, running, events, server_end)


async def test_forced_h264_refused_by_the_browser_ends_with_the_codec_reason(
    page: Page, forced_codec: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veo")
    started = await _offer_to(page, "h264")
    hangup = await expect(started.server, Hangup)
    assert hangup.reason == "codec_unsupported_h264"
    assert await started.running is True
    session = started.session
    assert (session.end_by, session.end_reason) == ("system", "codec_unsupported_h264")
    assert any(isinstance(e, SessionEnded) and e.reason == "codec_unsupported_h264" for e in started.events)
    assert "refused the video (offered video/H264)" in caplog.text
    assert "negotiation_failed" not in caplog.text and "ICE username fragment" not in caplog.text
    assert session.sas is None  # no SAS, nothing shown or shared


async def test_both_codecs_offered_the_same_browser_takes_vp8(
    page: Page, forced_codec: None, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veo")
    started = await _offer_to(page, "auto")
    await expect(started.server, Reveal)
    assert started.session.sas is not None and "refused the video" not in caplog.text
    remote = await page.evaluate(
        "() => window.__pc.getTransceivers().find((t) => t.receiver.track.kind === 'video')"
        ".receiver.getParameters().codecs.map((c) => c.mimeType)"
    )
    assert "video/VP8" in remote and "video/H264" not in remote
    started.session.stop()
    assert await started.running is True
    assert started.session.end_reason == "user_stopped"
