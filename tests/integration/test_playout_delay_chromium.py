"""Chromium negotiates the playout-delay header extension the agent offers (``agent/playout_delay``).

Debian's Chromium answers the agent's real offer (aiortc with ``low_latency.install()``): its
answer must keep the ``a=extmap`` of the extension for the video line, or the agent never writes
it and the console's playout delay is again Chromium's own. No packet flows: the descriptions
alone settle it (the packets themselves are checked between two aiortc peers in
``tests/unit/agent/test_agent_playout_delay.py``).
"""

from __future__ import annotations

import fractions

import av
import pytest
from aiortc import MediaStreamTrack, RTCPeerConnection, RTCSessionDescription
from playwright.async_api import async_playwright

from veo.agent import low_latency, playout_delay
from veo.bench.chromium import CHROMIUM, CHROMIUM_ARGS

pytestmark = pytest.mark.timeout(60)

ANSWER = """async (offer) => {
  const pc = new RTCPeerConnection();
  await pc.setRemoteDescription({type: "offer", sdp: offer});
  await pc.setLocalDescription(await pc.createAnswer());
  window.__pc = pc;
  return pc.localDescription.sdp;
}"""


class Still(MediaStreamTrack):  # type: ignore[misc]
    kind = "video"

    async def recv(self) -> av.VideoFrame:
        frame = av.VideoFrame(64, 48, "yuv420p")
        frame.pts, frame.time_base = 0, fractions.Fraction(1, 90_000)
        return frame


async def test_chromium_keeps_the_extension_in_its_answer() -> None:
    low_latency.install()
    agent = RTCPeerConnection()
    try:
        agent.addTrack(Still())
        await agent.setLocalDescription(await agent.createOffer())
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                page = await browser.new_page()
                answer: str = await page.evaluate(ANSWER, agent.localDescription.sdp)
            finally:
                await browser.close()
        video = answer[answer.index("m=video") :]
        assert f"a=extmap:{playout_delay.EXTENSION_ID} {playout_delay.URI}" in video, answer
        await agent.setRemoteDescription(RTCSessionDescription(sdp=answer, type="answer"))
        (transceiver,) = agent.getTransceivers()
        assert playout_delay.URI in [ext.uri for ext in transceiver._headerExtensions]
    finally:
        await agent.close()
