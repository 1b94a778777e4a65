"""A resumed connection lost before its take-up ran must not unfreeze the session.

``_maybe_carry`` spawns ``_carry``; the link can be lost (its data channel closed, its ICE failed)
before that task runs. The loss froze input again and restarted the grace period: a stale
``_carry`` must leave both alone (else input would flow on whatever connection comes next before
it proved itself, and the resume loop would stop, leaving a session with no connection).
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from veo.agent.handshake import SasHandshake
from veo.agent.resuming import Grace, PeerLink
from veo.agent.session import AgentSession, SessionDeps
from veo.agent.signaling import ChannelClosed
from veo.protocol import resume
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Answer, Joined, Rejoined
from veo.tasks import spawn

FP_OFFER = ":".join(["AB"] * 32)
FP_ANSWER = ":".join(["CD"] * 32)


class Channel:
    def __init__(self) -> None:
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:
        await asyncio.Event().wait()
        raise AssertionError

    async def close(self) -> None:
        return None


class Injector:
    def __getattr__(self, name: str) -> Any:
        return lambda *args, **kwargs: None


class Dc:
    readyState = "open"

    def send(self, message: str) -> None:
        return None


class Pc:
    async def close(self) -> None:
        return None


class Track:
    def stop(self) -> None:
        return None

    def allow(self) -> None:
        return None

    async def size(self) -> tuple[int, int]:
        return (800, 600)


async def _forever() -> None:
    await asyncio.Event().wait()


@pytest.mark.asyncio
async def test_a_stale_take_up_of_a_lost_resumed_link_keeps_input_frozen() -> None:
    channel = Channel()
    events: list[Any] = []
    deps = SessionDeps(
        capture_factory=lambda: None,  # type: ignore[arg-type,return-value]
        injector_factory=Injector,  # type: ignore[arg-type]
        post=events.append,
        record_history=False,
    )
    session = AgentSession(channel, "123456789", deps)  # type: ignore[arg-type]
    session._joined = Joined(
        session_id="s1",
        organization="ACME IT",
        technician_name="Ana",
        ticket_id=1,
        ticket_title="t",
        requested=[Permission.VIEW, Permission.CONTROL],
        resume_token="tok",
        resume_grace_seconds=120,
    )
    session._grace = Grace(120)
    session.policy.grant([Permission.VIEW, Permission.CONTROL], [Permission.VIEW, Permission.CONTROL])
    session.policy.reconnecting = True  # an earlier loss: the resume loop awaits this attempt
    waiting = spawn(_forever(), name="test-resume-loop")
    session._resuming = waiting
    link = PeerLink(
        pc=Pc(),
        track=Track(),
        transceiver=None,
        dc=Dc(),
        handshake=None,  # type: ignore[arg-type]
        resume=True,
        trusted=True,
        verified_by="proof",
    )
    session._link = link
    try:
        session._maybe_carry(link)  # the proof checked out: its take-up is spawned ...
        session._link_lost(link, "closed")  # ... and the link is lost before it runs
        await asyncio.sleep(0.1)
        assert session.policy.reconnecting, "a lost link's take-up unfroze input"
        assert session._grace.running, "a lost link's take-up stopped the grace period"
        assert not any('"resumed"' in sent for sent in channel.sent)
    finally:
        waiting.cancel()
        session._stop_grace()
        session._input.close()


class ClosedChannel(Channel):
    """Signaling went down right after the answer arrived: every send fails."""

    async def send(self, message: str) -> None:
        raise ChannelClosed


@pytest.mark.asyncio
@pytest.mark.parametrize("with_proof", [True, False])
async def test_a_reveal_that_cannot_be_sent_fails_the_attempt_not_the_session(with_proof: bool) -> None:
    """The resume answer came, then signaling dropped before the reveal went out: this attempt
    failed (the loop offers again once signaling is back); an exception here would reach the
    receive loop, which ends the whole session as ``negotiation_failed``."""
    events: list[Any] = []
    deps = SessionDeps(
        capture_factory=lambda: None,  # type: ignore[arg-type,return-value]
        injector_factory=Injector,  # type: ignore[arg-type]
        post=events.append,
        record_history=False,
    )
    session = AgentSession(ClosedChannel(), "123456789", deps)  # type: ignore[arg-type]
    session._joined = Joined(
        session_id="s1",
        organization="ACME IT",
        technician_name="Ana",
        ticket_id=1,
        ticket_title="t",
        requested=[Permission.VIEW],
        resume_token="tok",
        resume_grace_seconds=120,
    )
    session.policy.grant([Permission.VIEW], [Permission.VIEW])
    session.policy.reconnecting = True
    link = PeerLink(
        pc=Pc(),
        track=Track(),
        transceiver=None,
        dc=Dc(),
        handshake=SasHandshake("s1"),
        resume=True,
        fp_offer=FP_OFFER,
        answered=True,
    )
    session._link = link
    nonce_b = "cd" * 32
    link.handshake.accept_answer(nonce_b)
    answer = Answer(sdp=f"v=0\r\na=fingerprint:sha-256 {FP_ANSWER}\r\n", nonce=nonce_b)
    if with_proof:
        key, commitment = session._secret._key, link.handshake.commitment
        mine = resume.proof(key, "console", "s1", FP_OFFER, FP_ANSWER, commitment, nonce_b)
        answer = answer.model_copy(update={"resume_proof": mine})
    try:
        await session._on_resume_answer(link, answer)  # must not raise
        assert link.outcome.done() and link.outcome.result() is False
        assert link.lost and not link.trusted
        assert not session._ended and session.policy.reconnecting
    finally:
        session._input.close()


@pytest.mark.asyncio
async def test_a_rejoin_during_a_code_comparison_asks_again_for_the_comparison() -> None:
    """``verify_again`` went into a socket that died right after the reveal: the server never
    cleared the technician's old "Codes match", so the comparison would wait for a confirmation
    that cannot come. On the new socket's ``rejoined`` the agent says it again."""
    channel = Channel()
    deps = SessionDeps(
        capture_factory=lambda: None,  # type: ignore[arg-type,return-value]
        injector_factory=Injector,  # type: ignore[arg-type]
        post=lambda _event: None,
        record_history=False,
    )
    session = AgentSession(channel, "123456789", deps)  # type: ignore[arg-type]
    session.policy.grant([Permission.VIEW], [Permission.VIEW])
    session.policy.reconnecting = True
    link = PeerLink(pc=Pc(), track=Track(), transceiver=None, dc=Dc(), handshake=None, resume=True)  # type: ignore[arg-type]
    session._link = link
    try:
        link.reverify = "asked"
        await session._on_rejoined(Rejoined(session_id="s1", status="active"))
        assert [json.loads(sent)["type"] for sent in channel.sent] == ["verify_again"]
        link.reverify = "cleared"  # the server's "false" came: nothing more to say
        await session._on_rejoined(Rejoined(session_id="s1", status="active"))
        assert len(channel.sent) == 1
    finally:
        session._input.close()
