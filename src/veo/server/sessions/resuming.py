"""The hub's side of resuming a session after a drop (issue 13): interruptions, rejoins, resume steps.

A session the user allowed outlives its connections for its grace period (the role's policy,
copied onto the session):

- **the peer connection** is lost: the agent says ``interrupted``, then offers a new peer
  connection (``offer.resume``), which the console answers with a proof over the resume key the
  server never sees (``veo.protocol.resume``); the agent reports ``resumed``, ``verify_again``
  (no key on the console's side: the technician confirms a new code) or ``resume_refused``;
- **the agent's signaling socket** drops: the session is interrupted at once; a new socket whose
  first message is ``rejoin`` (with the token of ``joined``) carries it again and replaces any
  older socket; ``media: "up"`` says the peer connection lived on, which ends the interruption;
- **the server restarts**: nothing is ended because a server started. Every session a peer may
  still hold is interrupted (``link: server_restart``) and its runtime rebuilt from the database;
  the agent's rejoin finds it, and one that was not yet allowed starts its negotiation over.

Each interruption is audited once, and its deadline is kept in the database
(``interruptions.py``): when it passes, a timer here ends the session by ``system``,
``connection_lost``. The server relays proofs and counts refusals (a console's only when its
answer was the one taken); it cannot check a proof (it has no key) and cannot forge one, which
is the point. Before the user's consent a drop keeps the short wait of
``SignalingHub.agent_grace_seconds``.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from veo.protocol.signaling import Interrupted, Rejoined, Resumed, ResumeRefused, VerifyAgain
from veo.server.db.base import utcnow
from veo.server.sessions import interruptions, service, txn
from veo.server.sessions.ice import ice_servers
from veo.server.sessions.interruptions import VerifiedBy
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import Interruption, Link, SessionRuntime
from veo.server.sessions.wire import error

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub
    from veo.server.sessions.steps import Step

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- runtime and timers


def adopt(hub: SignalingHub, session: RemoteSession) -> SessionRuntime:
    """The session's runtime on this node, rebuilt from the database when there is none.

    An active session counts as negotiated and allowed (its peers may still hold their
    connection); an earlier one starts over with a fresh offer (``restored``). An interruption
    recorded in the database gets its timer back.
    """
    rt = hub._runtimes.get(session.id)
    if rt is None:
        active = session.status == "active"
        rt = SessionRuntime(
            offered=active,
            answered=active,
            revealed=active,
            consented=active,
            mode=session.mode,
            restored=True,
        )
        hub._runtimes[session.id] = rt
    if session.resume_deadline is not None and rt.interruption is None:
        _start_timer(hub, session.id, rt, "server_restart", session.resume_deadline)
    return rt


def _start_timer(
    hub: SignalingHub, session_id: str, rt: SessionRuntime, link: Link, deadline: datetime
) -> None:
    rt.interruption = Interruption(link, deadline)
    rt.interruption.timer = hub._background(
        _expire(hub, session_id, deadline), f"veo-resume-grace-{session_id}"
    )


def stop_timer(rt: SessionRuntime) -> None:
    """The interruption is over (resumed, or the session ended): its timer stops."""
    interruption, rt.interruption = rt.interruption, None
    timer = interruption.timer if interruption is not None else None
    if timer is not None and timer is not asyncio.current_task():
        timer.cancel()


async def _expire(hub: SignalingHub, session_id: str, deadline: datetime) -> None:
    """At the deadline, end the session unless it resumed (the database has the last word)."""
    await asyncio.sleep(max(0.0, (deadline - utcnow()).total_seconds()))
    if await txn.run(hub.db, lambda db: interruptions.end_lost(db, session_id)):
        log.info("session %s ended: its connection did not come back in time", session_id)
        await hub.announce_end(session_id, "system", "connection_lost")


async def interrupt(
    hub: SignalingHub,
    session_id: str,
    rt: SessionRuntime,
    *,
    cause: str,
    link: Link,
    socket: int | None = None,
) -> None:
    """A connection of a live session is lost: interrupted (audited once), consoles told, timer set.

    ``socket``: the generation of the agent socket that dropped; nothing happens when a newer one
    rejoined meanwhile (the rejoin and this are serialized by ``rt.resuming``).
    """
    async with rt.resuming:
        if socket is not None and rt.agent_generation != socket:
            return
        await _interrupt(hub, session_id, rt, cause=cause, link=link)


async def _interrupt(
    hub: SignalingHub, session_id: str, rt: SessionRuntime, *, cause: str, link: Link
) -> None:
    session = await txn.run(
        hub.db, lambda db: interruptions.record_interrupted(db, session_id, cause=cause, link=link)
    )
    if session is None or session.resume_deadline is None:
        return
    if rt.interruption is None:
        _start_timer(hub, session_id, rt, link, session.resume_deadline)
    await hub.publish_state(session_id)


async def resume(hub: SignalingHub, session_id: str, rt: SessionRuntime, verified_by: VerifiedBy) -> None:
    """The session's connection is back: the interruption ends (audited), the timer stops."""
    async with rt.resuming:
        await _resume(hub, session_id, rt, verified_by)


async def _resume(
    hub: SignalingHub, session_id: str, rt: SessionRuntime, verified_by: VerifiedBy, *, publish: bool = True
) -> None:
    session = await txn.run(
        hub.db, lambda db: interruptions.record_resumed(db, session_id, verified_by=verified_by)
    )
    if session is None:
        return
    stop_timer(rt)
    if publish:
        await hub.publish_state(session_id)


async def at_start(hub: SignalingHub) -> None:
    """Server start: interrupt what a previous process left live (nothing ends for that)."""
    try:
        sessions = await txn.run(hub.db, interruptions.interrupt_all_at_start)
    except Exception:
        log.exception("taking over the sessions left live by a previous run failed")
        return
    if sessions:
        log.warning("%d session(s) left live by a previous run wait for their peers", len(sessions))
    for session in sessions:
        adopt(hub, session)


def drop_waits(rt: SessionRuntime) -> bool:
    """Whether the agent's dropped socket interrupts the session (else: the short pre-consent wait).

    Only an agent session the user allowed waits; a browser share cannot rejoin.
    """
    return rt.consented and rt.mode == "agent"


# ---------------------------------------------------------------- rejoin


async def rejoined(hub: SignalingHub, session: RemoteSession, rt: SessionRuntime, media: str) -> Rejoined:
    """A proven rejoin whose socket is now the agent's: what the agent is told. Its return ends the
    interruption before consent (there is no grant to protect), or when the peer connection lived
    on through a signaling or server loss; the caller then tells the consoles."""
    renegotiate = rt.restored and not rt.consented
    message = Rejoined(
        session_id=session.id,
        status=session.status,  # type: ignore[arg-type]
        ice_servers=ice_servers(hub.settings, session.id, peer="agent"),
        ice_transport_policy=hub.settings.ice_transport_policy,
        renegotiate=renegotiate,
    )
    async with rt.resuming:
        lost = rt.interruption
        if lost is not None and not rt.consented:
            await _resume(hub, session.id, rt, interruptions.REJOINED, publish=False)
        elif lost is not None and media == "up" and lost.link != "media":
            await _resume(hub, session.id, rt, "connection_kept", publish=False)
    return message


# ---------------------------------------------------------------- steps (agent and console)


async def interrupted(s: Step, message: Interrupted) -> None:
    await interrupt(s.hub, s.session_id, s.rt, cause=message.cause, link="media")


async def resumed(s: Step, message: Resumed) -> None:
    await resume(s.hub, s.session_id, s.rt, message.verified_by)


async def verify_again(s: Step, message: VerifyAgain) -> None:
    """No resume key on the console's side: "Codes match" is cleared until the technician clicks it
    again for the new code, and the agent is told (it keeps input frozen until then)."""
    session = await txn.run(s.hub.db, lambda db: interruptions.record_reverify(db, s.session_id))
    if session is None:
        return
    await s.to_agent(service.technician_confirmation(session).dumps())
    await s.hub.publish_state(s.session_id)


async def _refused(s: Step, message: ResumeRefused, by: Literal["agent", "console"]) -> None:
    reason, actor, address = message.reason, s.actor, s.address
    ended = await txn.run(
        s.hub.db,
        lambda db: interruptions.record_resume_refused(
            db, s.session_id, reason=reason, by=by, actor=actor, address=address
        ),
    )
    if ended:
        log.warning("session %s ended: too many refused resume proofs", s.session_id)
        await s.hub.announce_end(s.session_id, "system", "resume_failed")


async def agent_resume_refused(s: Step, message: ResumeRefused) -> None:
    """The console's proof was wrong (or missing where the agent required it)."""
    await _refused(s, message, "agent")


async def console_resume_refused(s: Step, message: ResumeRefused) -> None:
    """The agent's proof in its reveal was wrong (or missing after the console sent its own).

    Only the console whose answer was taken can judge the reveal: the proof is over ITS answer's
    fingerprint. Every console of the session gets the offer and the reveal (two tabs of one
    session both answer; the first answer wins), so another console checks the proof against an
    answer the agent never saw and finds it wrong. Counting that toward ``MAX_BAD_PROOFS`` would
    let a second tab end a healthy session: it is answered ``out_of_order``, not counted, not
    audited.
    """
    peer = s.connection.peer if s.connection is not None else None
    if peer is None or peer is not s.rt.answered_by:
        log.info("session %s: resume_refused from a console whose answer was not taken", s.session_id)
        if peer is not None:
            await peer.send(error("out_of_order", message.type))
        return
    await _refused(s, message, "console")
