"""Resume after a drop, agent side: a real ``AgentSession`` against a console twin that drops.

Real parts: the session (loss detection by heartbeat and by the peer connection's state, input
frozen, ``interrupted``, resume offers, proof checks, ``verify_again``, grace), aiortc on both
sides, the reconnecting signaling channel. Stand-ins as in ``test_agent_session``: the server is
an in-memory pipe played by the test, the screen synthetic, the input backend records.

The twin computes the resume proofs as the console's ``resume.js`` does, with the key the agent
handed it inside the verified data channel (``resume_key``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from tests.integration.test_agent_session import (
    Console,
    Pipe,
    RecordingInjector,
    SyntheticScreen,
    expect,
    pipe_pair,
    run_in_netns,
)
from tests.netns import private_netns

from veo.agent.chat import AgentChat
from veo.agent.events import (
    ChatLine,
    Reconnected,
    Reconnecting,
    ReverifyAsked,
    ReverifyClosed,
    SasKnown,
    SessionEnded,
    ShowConsent,
    Started,
    UiEvent,
)
from veo.agent.files import AgentFiles
from veo.agent.reconnect import Backoff, ReconnectingChannel
from veo.agent.session import AgentSession, SessionDeps
from veo.agent.signaling import SignalingChannel
from veo.protocol import resume, sas
from veo.protocol.chat import Chat
from veo.protocol.datachannel import Control, Heartbeat, Screen
from veo.protocol.permissions import Permission
from veo.protocol.signaling import (
    Abort,
    Answer,
    Consent,
    Hangup,
    Interrupted,
    Join,
    Joined,
    Offer,
    Rejoin,
    Rejoined,
    Resumed,
    ResumeRefused,
    Reveal,
    TechnicianConfirmed,
    VerifyAgain,
    parse_agent_message,
)

pytestmark = pytest.mark.timeout(60)
SID = "sess-resume"
TOKEN = "resume-token-for-tests"


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create a private network namespace")
    with private_netns("veo-agent-rs", "10.99.8") as name:
        yield name


class Twin(Console):
    """The console: answers, beats every second, keeps the resume key, proves it on a resume."""

    def __init__(self, key: bytes | None = None) -> None:
        super().__init__()
        self.resume_key = key
        self.beating = True
        self._beat: asyncio.Task[None] = asyncio.get_running_loop().create_task(self._heartbeat())

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(resume.HEARTBEAT_SECONDS)
            if self.beating and self.channel is not None and self.channel.readyState == "open":
                self.channel.send(Heartbeat().dumps())

    def exchange(self, offer: Offer, answer: Answer) -> tuple[str, str]:
        """The fingerprints as this side sees them: the offer's, and its own."""
        return sas.sha256_fingerprint(offer.sdp), sas.sha256_fingerprint(answer.sdp)

    async def answer_resume(self, offer: Offer, proof: str | None = "right") -> Answer:
        answer = await self.answer(offer)
        if proof is None:
            return answer
        if proof == "wrong":
            return answer.model_copy(update={"resume_proof": "ab" * 32})
        assert self.resume_key is not None
        fp_offer, fp_answer = self.exchange(offer, answer)
        key, commitment = self.resume_key, offer.commitment
        mine = resume.proof(key, "console", SID, fp_offer, fp_answer, commitment, answer.nonce)
        return answer.model_copy(update={"resume_proof": mine})

    async def close(self) -> None:
        self._beat.cancel()
        await self.pc.close()


@dataclass
class Run:
    session: AgentSession
    running: asyncio.Task[bool]
    server: Pipe
    events: asyncio.Queue[UiEvent]
    calls: asyncio.Queue[tuple[object, ...]]
    console: Twin
    chat: AgentChat
    files: AgentFiles


async def next_event(events: asyncio.Queue[UiEvent], kind: type[Any]) -> Any:
    """The next event of ``kind`` (others, such as the SAS and Started, are passed over)."""
    while True:
        event = await asyncio.wait_for(events.get(), 20)
        if isinstance(event, kind):
            return event


async def next_signal(pipe: Pipe, within: float = 20) -> Any:
    return parse_agent_message(await asyncio.wait_for(pipe.recv(), within))


async def no_call(calls: asyncio.Queue[tuple[object, ...]], seconds: float = 0.7) -> None:
    """Nothing reached the input backend for ``seconds`` (letting go of held keys is no input)."""
    deadline = time.monotonic() + seconds
    with contextlib.suppress(TimeoutError):
        while (left := deadline - time.monotonic()) > 0:
            call = await asyncio.wait_for(calls.get(), left)
            if call != ("release_all",):
                raise AssertionError(f"input was injected: {call}")


async def start_verified(
    agent_pipe: SignalingChannel, server: Pipe, grace: int = resume.DEFAULT_GRACE_SECONDS, beats: bool = True
) -> Run:
    """Join, answer, Allow, "Codes match": a verified session with control, the key at the twin."""
    loop = asyncio.get_running_loop()
    events: asyncio.Queue[UiEvent] = asyncio.Queue()
    calls: asyncio.Queue[tuple[object, ...]] = asyncio.Queue()
    deps = SessionDeps(
        capture_factory=SyntheticScreen,
        injector_factory=lambda: RecordingInjector(loop, calls),
        post=events.put_nowait,
        record_history=False,
    )
    session = AgentSession(agent_pipe, "123456789", deps)
    chat, files = AgentChat(session, events.put_nowait), AgentFiles(session, events.put_nowait)
    running = loop.create_task(session.run())
    await expect(server, Join)
    joined = Joined(
        session_id=SID,
        organization="ACME IT",
        technician_name="Ana",
        ticket_id=11,
        ticket_title="Wi-Fi drops",
        requested=[Permission.VIEW, Permission.CONTROL],
        resume_token=TOKEN,
        resume_grace_seconds=grace,
    )
    await server.send(joined.dumps())
    assert isinstance(await events.get(), ShowConsent)
    offer = await expect(server, Offer)
    assert offer.resume is False
    console = Twin()
    console.beating = beats
    await server.send((await console.answer(offer)).dumps())
    await expect(server, Reveal)
    await next_event(events, SasKnown)
    await console.channel_open.wait()
    assert isinstance(await console.next_data(), Screen)
    assert isinstance(await console.next_data(), Control)
    session.allow([Permission.VIEW, Permission.CONTROL])
    await expect(server, Consent)
    await next_event(events, Started)
    await console.next_data()  # control, waiting for the technician
    assert console.resume_key is None  # not verified yet: the technician has not confirmed
    await server.send(TechnicianConfirmed(sas_confirmed=True).dumps())
    control = await console.next_data()
    assert isinstance(control, Control) and control.active
    assert console.resume_key is not None and len(console.resume_key) == 32
    console.send_input({"type": "pointer_move", "x": 1, "y": 2})
    assert await asyncio.wait_for(calls.get(), 10) == ("move", 1, 2)
    return Run(session, running, server, events, calls, console, chat, files)


async def drop_by_silence(run: Run) -> Interrupted:
    """The twin stops its heartbeats: the agent notices by their silence (the cause it reports;
    how soon is the heartbeat clock's rule, tested in the unit tests, not timed here)."""
    await asyncio.sleep(1.5 * resume.HEARTBEAT_SECONDS)  # the agent has heard the twin's heartbeat
    run.console.beating = False
    interrupted = await next_signal(run.server, 10)
    assert isinstance(interrupted, Interrupted) and interrupted.cause == "heartbeat", interrupted
    return interrupted


def frozen(session: AgentSession, caplog: pytest.LogCaptureFixture) -> None:
    """An input message now is dropped with reason ``reconnecting``."""
    session._on_data_message(json.dumps({"v": 1, "type": "pointer_move", "x": 9, "y": 9}))
    assert "dropped type=pointer_move reason=reconnecting" in caplog.text


# ---------------------------------------------------------------- the cases


def test_silent_console_then_resume_by_proof(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server)
        old, key = run.console, run.console.resume_key
        assert key is not None
        await drop_by_silence(run)
        reconnecting = await next_event(run.events, Reconnecting)
        assert reconnecting.grace_seconds == resume.DEFAULT_GRACE_SECONDS
        frozen(run.session, caplog)
        await no_call(run.calls)
        assert "resume key" in caplog.text and key.hex() not in caplog.text  # never logged

        offer = await next_signal(server)
        assert isinstance(offer, Offer) and offer.resume
        console = Twin(key)
        answer = await console.answer_resume(offer)
        console.resume_key = None  # proved with it; now hear it again on the new channel
        await server.send(answer.dumps())
        reveal = await next_signal(server)
        assert isinstance(reveal, Reveal) and reveal.resume_proof is not None
        assert sas.check_commitment(bytes.fromhex(reveal.nonce), offer.commitment)
        fp_offer, fp_answer = console.exchange(offer, answer)
        assert resume.check(
            key, "agent", reveal.resume_proof, SID, fp_offer, fp_answer, offer.commitment, answer.nonce
        )
        resumed = await next_signal(server)
        assert isinstance(resumed, Resumed) and resumed.verified_by == "proof"
        await next_event(run.events, Reconnected)

        # the new channel hears the screen, control (still active: the grant stands) and the key
        await console.channel_open.wait()
        assert isinstance(await console.next_data(), Screen)
        control = await console.next_data()
        assert isinstance(control, Control) and control.active
        assert control.granted == [Permission.VIEW, Permission.CONTROL]  # never widened
        assert console.resume_key == key  # the same key, sent again
        console.send_input({"type": "pointer_button", "x": 5, "y": 6, "button": "left", "down": True})
        call = await asyncio.wait_for(run.calls.get(), 10)
        while call == ("release_all",):  # the freeze let go of every key first
            call = await asyncio.wait_for(run.calls.get(), 10)
        assert call == ("button", 5, 6, "left", True)
        track = await console.tracks.get()
        frame = await asyncio.wait_for(track.recv(), 10)
        assert frame.width > 0
        assert "session resumed verified_by=proof" in caplog.text

        # the features run on the new connection: the files channel exists again, chat both ways
        assert "veo-files" in console.others and "veo-files" in old.others
        console.channel.send(Chat(id="c1", text="back?").dumps())
        line = await next_event(run.events, ChatLine)
        assert (line.text, line.mine) == ("back?", False)
        assert run.chat.send("yes")
        said = await console.next_data()
        assert isinstance(said, Chat) and said.text == "yes"

        run.session.stop()
        await run.running
        await old.close()
        await console.close()

    run_in_netns(netns, scenario)


def test_wrong_proof_is_refused_without_a_reveal(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server)
        key = run.console.resume_key
        await run.console.close()  # the console's side closed (a reloaded tab)
        interrupted = await next_signal(server, 10)
        assert isinstance(interrupted, Interrupted), interrupted
        frozen(run.session, caplog)

        offer = await next_signal(server)
        assert isinstance(offer, Offer) and offer.resume
        impostor = Twin(key)
        await server.send((await impostor.answer_resume(offer, proof="wrong")).dumps())
        refused = await next_signal(server)
        assert isinstance(refused, ResumeRefused) and refused.reason == "bad_proof"
        # no reveal: the next thing the agent says is a new resume offer, after a pause
        again = await next_signal(server)
        assert isinstance(again, Offer) and again.resume and again.commitment != offer.commitment
        await no_call(run.calls)
        assert run.session.policy.reconnecting
        assert impostor.data.empty()  # not even the screen size reached the impostor
        run.session.stop()
        assert isinstance(await next_signal(server), Hangup)
        await run.running
        await impostor.close()

    run_in_netns(netns, scenario)


def test_no_proof_asks_for_the_code_again(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server)
        await drop_by_silence(run)
        offer = await next_signal(server)
        assert isinstance(offer, Offer) and offer.resume
        other_browser = Twin(None)  # no key: the console was opened elsewhere
        answer = await other_browser.answer_resume(offer, proof=None)
        await server.send(answer.dumps())
        reveal = await next_signal(server)
        assert isinstance(reveal, Reveal) and reveal.resume_proof is None
        assert isinstance(await next_signal(server), VerifyAgain)
        asked = await next_event(run.events, ReverifyAsked)
        their_code = sas.sas_code(
            sas.sha256_fingerprint(offer.sdp),
            sas.sha256_fingerprint(answer.sdp),
            bytes.fromhex(reveal.nonce),
            other_browser.nonce_b,
            SID,
        )
        assert asked.code == their_code

        # connected, but unverified: nothing is shown, nothing is done
        await other_browser.channel_open.wait()
        other_browser.send_input({"type": "key", "key": "x", "code": "KeyX", "down": True})
        await no_call(run.calls, 1.0)
        assert other_browser.data.qsize() == 0 or all(
            json.loads(raw)["type"] == "heartbeat"
            for raw in list(other_browser.data._queue)  # type: ignore[attr-defined]
        )
        # the server clears the technician's "Codes match" (verify_again), the user confirms ...
        await server.send(TechnicianConfirmed(sas_confirmed=False).dumps())
        stale = "000000" if their_code != "000000" else "111111"
        run.session.confirm_code(stale)  # a click under another code (an earlier prompt) counts for nothing
        assert not run.session._link.user_ok  # type: ignore[union-attr]
        run.session.confirm_code(asked.code)
        assert run.session._link.user_ok  # type: ignore[union-attr]
        await no_call(run.calls, 0.5)
        assert run.session.policy.reconnecting  # ... still frozen: the technician must confirm too
        await server.send(TechnicianConfirmed(sas_confirmed=True).dumps())
        resumed = await next_signal(server)
        assert isinstance(resumed, Resumed) and resumed.verified_by == "code"
        await next_event(run.events, ReverifyClosed)
        assert isinstance(await other_browser.next_data(), Screen)
        control = await other_browser.next_data()
        assert isinstance(control, Control) and control.active
        await asyncio.sleep(0.2)
        assert other_browser.resume_key == run.console.resume_key  # it may resume by proof next time
        other_browser.send_input({"type": "pointer_move", "x": 3, "y": 4})
        call = await asyncio.wait_for(run.calls.get(), 10)
        while call == ("release_all",):
            call = await asyncio.wait_for(run.calls.get(), 10)
        assert call == ("move", 3, 4)
        run.session.stop()
        await run.running
        await run.console.close()
        await other_browser.close()

    run_in_netns(netns, scenario)


def test_grace_expiry_ends_with_connection_lost(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server, grace=3)
        await drop_by_silence(run)
        lost_at = time.monotonic()
        seen: list[Any] = []
        while not isinstance(message := await next_signal(server, 10), Hangup):
            seen.append(message)  # resume offers nobody answers
        assert message.reason == "connection_lost"
        assert 2.5 <= time.monotonic() - lost_at <= 6
        assert any(isinstance(m, Offer) and m.resume for m in seen)
        await run.running
        ended = await next_event(run.events, SessionEnded)
        assert (ended.by, ended.reason) == ("system", "connection_lost")
        assert not run.session.policy.consented
        await run.console.close()

    run_in_netns(netns, scenario)


def test_signaling_drop_reconnects_and_rejoins_first(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        first_agent, first_server = pipe_pair()
        servers: asyncio.Queue[Pipe] = asyncio.Queue()
        opened = 0

        async def connect() -> SignalingChannel:
            nonlocal opened
            opened += 1
            if opened == 1:  # the server is still restarting
                raise OSError("connection refused")
            agent_end, server_end = pipe_pair()
            servers.put_nowait(server_end)
            return agent_end

        channel = ReconnectingChannel(first_agent, connect, Backoff((0.1, 0.2), 0.3))
        run = await start_verified(channel, first_server)
        await first_server.close()  # the WebSocket drops
        second = await asyncio.wait_for(servers.get(), 10)
        rejoin = await expect(second, Rejoin)  # the very first message on the new socket
        assert (rejoin.session_id, rejoin.token, rejoin.media) == (SID, TOKEN, "up")
        assert opened == 2 and channel.reconnects == 1
        await second.send(Rejoined(session_id=SID, status="active").dumps())
        kept = await expect(second, Resumed)
        assert kept.verified_by == "connection_kept"
        # the media never stopped: input still works, and the session carries on
        run.console.send_input({"type": "pointer_move", "x": 7, "y": 8})
        assert await asyncio.wait_for(run.calls.get(), 10) == ("move", 7, 8)
        assert not run.running.done()
        run.session.stop()
        assert isinstance(await expect(second, Hangup), Hangup)
        await run.running
        await run.console.close()

    run_in_netns(netns, scenario)


def test_signaling_closed_for_good_ends_the_session(netns: str) -> None:
    """A rejoin refused as ended (``error{session_ended}``) ends the agent's side too."""

    async def scenario() -> None:
        first_agent, first_server = pipe_pair()
        servers: asyncio.Queue[Pipe] = asyncio.Queue()

        async def connect() -> SignalingChannel:
            agent_end, server_end = pipe_pair()
            servers.put_nowait(server_end)
            return agent_end

        channel = ReconnectingChannel(first_agent, connect, Backoff((0.1,), 0.2))
        run = await start_verified(channel, first_server)
        await first_server.close()
        second = await asyncio.wait_for(servers.get(), 10)
        await expect(second, Rejoin)
        await second.send(
            json.dumps({"v": 1, "type": "error", "code": "session_ended", "message": "ended", "fatal": True})
        )
        await run.running
        ended = await next_event(run.events, SessionEnded)
        assert ended.reason == "session_ended"
        await run.console.close()

    run_in_netns(netns, scenario)


# ---------------------------------------------------------------- the relay on resume


class ResumeRelay:
    """A man in the middle of the resume only: its own peer connection towards each end."""

    def __init__(self) -> None:
        self.to_agent = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.to_console = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.to_console.addTransceiver("video", direction="sendonly")
        self.relay_dc = self.to_console.createDataChannel("veo", ordered=True)
        self.from_agent: asyncio.Queue[str] = asyncio.Queue()
        self.agent_dc: Any = None
        self.agent_dc_open = asyncio.Event()
        self.frames = 0

        @self.to_agent.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            self.agent_dc = channel
            channel.on("message", self.from_agent.put_nowait)
            self.agent_dc_open.set()

        @self.to_agent.on("track")
        def on_track(track: Any) -> None:
            asyncio.get_running_loop().create_task(self._count(track))

    async def _count(self, track: Any) -> None:
        with contextlib.suppress(Exception):
            while True:
                await track.recv()
                self.frames += 1

    async def close(self) -> None:
        await self.to_agent.close()
        await self.to_console.close()


def test_a_relay_swapping_fingerprints_on_resume_fails(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    """The key is known only to the real ends: both proofs fail, nothing reaches the relay."""
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server)
        key = run.console.resume_key
        assert key is not None
        await drop_by_silence(run)
        agent_offer = await next_signal(server)
        assert isinstance(agent_offer, Offer) and agent_offer.resume

        relay, console = ResumeRelay(), Twin(key)  # the real console, key in hand
        try:
            # the relay answers the agent itself and offers the console its own fingerprint,
            # passing the commitment on untouched (it cannot make its own without losing the SAS)
            offered = RTCSessionDescription(sdp=agent_offer.sdp, type="offer")
            await relay.to_agent.setRemoteDescription(offered)
            await relay.to_agent.setLocalDescription(await relay.to_agent.createAnswer())
            await relay.to_console.setLocalDescription(await relay.to_console.createOffer())
            relayed_offer = Offer(
                sdp=relay.to_console.localDescription.sdp, commitment=agent_offer.commitment, resume=True
            )
            console_answer = await console.answer_resume(relayed_offer)
            await relay.to_console.setRemoteDescription(
                RTCSessionDescription(sdp=console_answer.sdp, type="answer")
            )
            # the console's proof binds what IT saw: the relay's offer fingerprint and its own
            forwarded = Answer(
                sdp=relay.to_agent.localDescription.sdp,
                nonce=console_answer.nonce,
                resume_proof=console_answer.resume_proof,
            )
            await server.send(forwarded.dumps())
            refused = await next_signal(server)
            assert isinstance(refused, ResumeRefused) and refused.reason == "bad_proof"
            assert "the console's proof does not match this connection" in caplog.text

            # and the other direction: a proof for the agent's view fails the console's check
            agent_fp = sas.sha256_fingerprint(agent_offer.sdp)
            relay_to_agent_fp = sas.sha256_fingerprint(forwarded.sdp)
            agents_view = resume.proof(
                key, "agent", SID, agent_fp, relay_to_agent_fp, agent_offer.commitment, forwarded.nonce
            )
            fp_offer_seen, fp_answer_own = console.exchange(relayed_offer, console_answer)
            assert fp_offer_seen != agent_fp and relay_to_agent_fp != fp_answer_own
            assert not resume.check(
                key,
                "agent",
                agents_view,
                SID,
                fp_offer_seen,
                fp_answer_own,
                agent_offer.commitment,
                console_answer.nonce,
            )

            # the relay, connected to the agent, tries its luck with input
            with contextlib.suppress(Exception):
                await asyncio.wait_for(relay.agent_dc_open.wait(), 3)
                relay.agent_dc.send(json.dumps({"v": 1, "type": "text", "text": "rm -rf ~"}))
            await no_call(run.calls, 1.0)
            assert run.session.policy.reconnecting
            assert relay.frames == 0  # the screen never went to the relay
            assert all(json.loads(m)["type"] == "heartbeat" for m in list(relay.from_agent._queue))  # type: ignore[attr-defined]
            nxt = await next_signal(server)
            assert isinstance(nxt, Offer) and nxt.resume  # no reveal; the agent tries again later
        finally:
            run.session.stop()
            await run.running
            await relay.close()
            await console.close()
            await run.console.close()

    run_in_netns(netns, scenario)


def test_a_relay_that_strips_the_proof_only_forces_a_code_that_differs(netns: str) -> None:
    """Without the proof the agent falls back to the code read aloud; through a relay it differs,
    and until it is confirmed nothing reaches the relay."""

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server)
        key = run.console.resume_key
        await drop_by_silence(run)
        agent_offer = await next_signal(server)
        relay, console = ResumeRelay(), Twin(key)
        try:
            offered = RTCSessionDescription(sdp=agent_offer.sdp, type="offer")
            await relay.to_agent.setRemoteDescription(offered)
            await relay.to_agent.setLocalDescription(await relay.to_agent.createAnswer())
            await relay.to_console.setLocalDescription(await relay.to_console.createOffer())
            relayed_offer = Offer(
                sdp=relay.to_console.localDescription.sdp, commitment=agent_offer.commitment, resume=True
            )
            console_answer = await console.answer_resume(relayed_offer)
            stripped = Answer(sdp=relay.to_agent.localDescription.sdp, nonce=console_answer.nonce)
            await server.send(stripped.dumps())
            reveal = await next_signal(server)
            assert isinstance(reveal, Reveal) and reveal.resume_proof is None
            assert isinstance(await next_signal(server), VerifyAgain)
            asked = await next_event(run.events, ReverifyAsked)
            consoles_code = sas.sas_code(
                sas.sha256_fingerprint(relayed_offer.sdp),
                sas.sha256_fingerprint(console_answer.sdp),
                bytes.fromhex(reveal.nonce),
                bytes.fromhex(console_answer.nonce),
                SID,
            )
            assert asked.code != consoles_code  # read aloud, the codes differ
            await asyncio.wait_for(relay.agent_dc_open.wait(), 10)
            relay.agent_dc.send(json.dumps({"v": 1, "type": "key", "key": "a", "code": "KeyA", "down": True}))
            await no_call(run.calls, 1.0)
            assert relay.frames == 0
            assert all(json.loads(m)["type"] == "heartbeat" for m in list(relay.from_agent._queue))  # type: ignore[attr-defined]
            run.session.declare_mismatch()  # the user hears another code
            while not isinstance(message := await next_signal(server), Abort):
                pass
            assert message.reason == "sas_mismatch"
            await run.running
            ended = await next_event(run.events, SessionEnded)
            assert ended.reason == "sas_mismatch_user"
        finally:
            await relay.close()
            await console.close()
            await run.console.close()

    run_in_netns(netns, scenario)


def test_rejoined_before_consent_with_renegotiate_offers_afresh(netns: str) -> None:
    """The server restarted before the user's Allow: a fresh offer, a fresh code."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first_agent, first_server = pipe_pair()
        servers: asyncio.Queue[Pipe] = asyncio.Queue()

        async def connect() -> SignalingChannel:
            agent_end, server_end = pipe_pair()
            servers.put_nowait(server_end)
            return agent_end

        events: asyncio.Queue[UiEvent] = asyncio.Queue()
        deps = SessionDeps(
            capture_factory=SyntheticScreen,
            injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
            post=events.put_nowait,
            record_history=False,
        )
        session = AgentSession(
            ReconnectingChannel(first_agent, connect, Backoff((0.1,), 0.2)), "123456789", deps
        )
        running = loop.create_task(session.run())
        await expect(first_server, Join)
        joined = Joined(
            session_id=SID,
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=12,
            ticket_title="Printer",
            requested=[Permission.VIEW],
            resume_token=TOKEN,
            resume_grace_seconds=60,
        )
        await first_server.send(joined.dumps())
        first_offer = await expect(first_server, Offer)
        await first_server.close()
        second = await asyncio.wait_for(servers.get(), 10)
        rejoin = await expect(second, Rejoin)
        assert rejoin.media == "none"  # never connected
        await second.send(Rejoined(session_id=SID, status="joined", renegotiate=True).dumps())
        fresh = await expect(second, Offer)
        assert not fresh.resume and fresh.commitment != first_offer.commitment
        console = Twin()
        await second.send((await console.answer(fresh)).dumps())
        await expect(second, Reveal)
        assert (await next_event(events, SasKnown)).code == session.sas
        session.stop()
        await running
        await console.close()

    run_in_netns(netns, scenario)


def test_a_loss_before_the_users_allow_ends_the_session_as_before(netns: str) -> None:
    """No resume without consent: the connection lost before Allow ends it (and says so)."""

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        agent_pipe, server = pipe_pair()
        events: asyncio.Queue[UiEvent] = asyncio.Queue()
        deps = SessionDeps(
            capture_factory=SyntheticScreen,
            injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
            post=events.put_nowait,
            record_history=False,
        )
        session = AgentSession(agent_pipe, "123456789", deps)
        running = loop.create_task(session.run())
        await expect(server, Join)
        joined = Joined(
            session_id=SID,
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=13,
            ticket_title="Printer",
            requested=[Permission.VIEW],
            resume_token=TOKEN,
            resume_grace_seconds=120,
        )
        await server.send(joined.dumps())
        offer = await expect(server, Offer)
        console = Twin()
        await server.send((await console.answer(offer)).dumps())
        await expect(server, Reveal)
        await console.channel_open.wait()
        await asyncio.sleep(1.5)  # the agent heard a heartbeat
        console.beating = False
        hangup = await next_signal(server, 10)
        assert isinstance(hangup, Hangup) and hangup.reason == "connection_lost", hangup
        await running
        ended = await next_event(events, SessionEnded)
        assert (ended.by, ended.reason) == ("system", "connection_lost")
        assert session._track is not None and session._track.frames_sent == 0
        await console.close()

    run_in_netns(netns, scenario)


def test_a_console_silent_from_the_start_is_noticed(netns: str) -> None:
    """The server supports resume, so its console beats: silence counts from the channel's opening
    (a console that vanished before its first heartbeat is noticed as well)."""

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        started = time.monotonic()
        run = await start_verified(agent_pipe, server, beats=False)  # it never sends a heartbeat
        interrupted = await next_signal(server, 10)
        assert isinstance(interrupted, Interrupted) and interrupted.cause == "heartbeat", interrupted
        assert time.monotonic() - started <= 6.5  # the negotiation, then at most ~4.25 s of silence
        run.session.stop()
        await run.running

    run_in_netns(netns, scenario)


def test_the_end_leaves_no_heartbeat_task_pending(netns: str) -> None:
    """The agent's loop may stop right after the session's end (the app quits): no heartbeat task
    may still be sleeping then (``Task was destroyed but it is pending!`` in an e2e run)."""

    async def scenario() -> None:
        agent_pipe, server = pipe_pair()
        run = await start_verified(agent_pipe, server)
        beats = [t for t in asyncio.all_tasks() if t.get_name() == "veo-agent-heartbeat"]
        assert beats and not any(t.done() for t in beats)
        run.session.stop()
        await run.running
        pending = [t for t in beats if not t.done()]
        assert not pending, f"{len(pending)} heartbeat task(s) still pending after the end"
        await run.console.close()

    run_in_netns(netns, scenario)
