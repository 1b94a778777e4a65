"""A man in the middle who swaps the DTLS fingerprints is caught by the codes read aloud.

The relay here is a real interceptor, not a text edit: it terminates the agent's WebRTC
connection with a peer connection (certificate M1) of its own and opens another one (certificate
M2) to the console, rewriting nothing else. It forwards the agent's commitment and both nonces
untouched, since it cannot do better: the commitment binds ``nA`` before ``nB`` is known. Both
legs connect, so nothing but the short authentication string shows the interception. The agent
(real ``AgentSession``) and the console (its Python twin, computing the SAS exactly as
``sas.js`` does) then show different codes; the user says so and the session ends as suspected
interception. (A swapped pair matches by chance with probability 10^-6.)
"""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from tests.integration import test_agent_session as harness
from tests.integration.test_agent_session import (
    Console,
    RecordingInjector,
    SyntheticScreen,
    expect,
    pipe_pair,
    run_in_netns,
)

from veo.agent.events import SasKnown, SessionEnded, ShowConsent, UiEvent
from veo.agent.session import AgentSession, SessionDeps
from veo.protocol import sas
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Abort, Answer, Join, Joined, Offer, Reveal

pytestmark = pytest.mark.timeout(40)
#: the private network namespace of the agent session tests (aioice ignores 127.0.0.1)
netns = harness.netns


class Interceptor:
    """Two peer connections of its own: an answerer towards the agent, an offerer towards the console."""

    def __init__(self) -> None:
        self.to_agent = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.to_console = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.to_console.addTransceiver("video", direction="sendonly")
        self.to_console.createDataChannel("veo", ordered=True)

    async def answer_agent(self, offer: Offer) -> str:
        await self.to_agent.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        await self.to_agent.setLocalDescription(await self.to_agent.createAnswer())
        return str(self.to_agent.localDescription.sdp)

    async def offer_console(self, commitment: str) -> Offer:
        await self.to_console.setLocalDescription(await self.to_console.createOffer())
        return Offer(sdp=self.to_console.localDescription.sdp, commitment=commitment)

    async def close(self) -> None:
        await self.to_agent.close()
        await self.to_console.close()


def test_swapped_fingerprints_give_different_codes_and_the_user_ends_it(
    netns: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        agent_end, server_end = pipe_pair()
        events: asyncio.Queue[UiEvent] = asyncio.Queue()
        deps = SessionDeps(
            capture_factory=SyntheticScreen,
            injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
            post=events.put_nowait,
            record_history=False,
        )
        session = AgentSession(agent_end, "123456789", deps)
        running = loop.create_task(session.run())
        await expect(server_end, Join)
        joined = Joined(
            session_id="sess-mitm",
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=9,
            ticket_title="Bank says my PC has a virus",
            requested=[Permission.VIEW, Permission.CONTROL],
        )
        await server_end.send(joined.dumps())
        assert isinstance(await events.get(), ShowConsent)

        mitm, console = Interceptor(), Console()
        try:
            agent_offer = await expect(server_end, Offer)
            agent_answer_sdp = await mitm.answer_agent(agent_offer)
            console_answer = await console.answer(await mitm.offer_console(agent_offer.commitment))
            await mitm.to_console.setRemoteDescription(
                RTCSessionDescription(sdp=console_answer.sdp, type="answer")
            )
            # the agent gets the interceptor's answer, with the console's nonce passed through
            await server_end.send(Answer(sdp=agent_answer_sdp, nonce=console_answer.nonce).dumps())
            reveal = await expect(server_end, Reveal)
            nonce_a = bytes.fromhex(reveal.nonce)

            # the console checks the commitment (it holds: the relay forwarded it untouched) ...
            assert sas.check_commitment(nonce_a, agent_offer.commitment)
            console_offer_fp = sas.sha256_fingerprint(console.pc.remoteDescription.sdp)
            console_fp = sas.sha256_fingerprint(console.pc.localDescription.sdp)
            console_sas = sas.sas_code(console_offer_fp, console_fp, nonce_a, console.nonce_b, "sess-mitm")
            shown = await events.get()
            assert isinstance(shown, SasKnown)
            # ... the fingerprints each side applied differ from the other side's ...
            agent_fp = sas.sha256_fingerprint(agent_offer.sdp)
            assert console_offer_fp != agent_fp
            assert sas.sha256_fingerprint(agent_answer_sdp) != console_fp
            # ... so the codes read aloud differ
            assert shown.code == session.sas and shown.code != console_sas

            # the user hears a different code and presses "The codes differ"
            session.declare_mismatch()
            abort = await expect(server_end, Abort)
            assert abort.reason == "sas_mismatch"
            await running
            ended = await events.get()
            assert isinstance(ended, SessionEnded) and ended.reason == "sas_mismatch_user"
            assert session.policy.granted == frozenset() and not session.policy.consented
            assert session._track is not None and session._track.frames_sent == 0
            assert "the user declared that the verification codes differ" in caplog.text
        finally:
            await mitm.close()
            await console.pc.close()

    run_in_netns(netns, scenario)


def test_without_a_relay_the_codes_match(netns: str) -> None:
    """The control experiment: the same steps with nobody in the middle give one code."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        agent_end, server_end = pipe_pair()
        events: asyncio.Queue[UiEvent] = asyncio.Queue()
        deps = SessionDeps(
            capture_factory=SyntheticScreen,
            injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
            post=events.put_nowait,
            record_history=False,
        )
        session = AgentSession(agent_end, "123456789", deps)
        running = loop.create_task(session.run())
        await expect(server_end, Join)
        joined = Joined(
            session_id="sess-direct",
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=9,
            ticket_title="Printer",
            requested=[Permission.VIEW],
        )
        await server_end.send(joined.dumps())
        console = Console()
        try:
            offer = await expect(server_end, Offer)
            await server_end.send((await console.answer(offer)).dumps())
            nonce_a = bytes.fromhex((await expect(server_end, Reveal)).nonce)
            console_sas = sas.sas_code(
                sas.sha256_fingerprint(offer.sdp),
                sas.sha256_fingerprint(console.pc.localDescription.sdp),
                nonce_a,
                console.nonce_b,
                "sess-direct",
            )
            while not isinstance(shown := await events.get(), SasKnown):
                pass
            assert shown.code == console_sas
            session.stop()
            await running
        finally:
            await console.pc.close()

    run_in_netns(netns, scenario)
