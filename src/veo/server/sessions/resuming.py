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
- **the node holding the agent's socket dies** (or a single server restarts): nothing is ended
  because a node started. The liveness sweep (``liveness.py``) interrupts the sessions of a node
  whose heartbeat expired, and those no node holds (``link: server_restart``, :func:`take_over`);
  the agent's rejoin reaches any node, which takes the session over (an older socket on another
  node is closed), and a session the store had to rebuild from the database that was not yet
  allowed starts its negotiation over.

Each interruption is audited once, and its deadline is kept in the database
(``interruptions.py``): when it passes, the timer of the node that recorded it ends the session by
``system``, ``connection_lost``, and every node's sweep does if that node is gone. The server
relays proofs and counts refusals (a console's only when its answer was the one taken); it cannot
check a proof (it has no key) and cannot forge one, which is the point. Before the user's consent
a drop keeps the short wait of ``SignalingHub.agent_grace_seconds``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

from veo.protocol.signaling import Interrupted, Rejoined, Resumed, ResumeRefused, VerifyAgain
from veo.server.sessions import interruptions, service, txn
from veo.server.sessions.ice import ice_servers
from veo.server.sessions.interruptions import VerifiedBy
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import Interruption, Link, SessionRuntime, rebuild
from veo.server.sessions.wire import error

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub
    from veo.server.sessions.steps import Step

log = logging.getLogger(__name__)


# ---------------------------------------------------------------- runtime and timers


async def restore(hub: SignalingHub, session: RemoteSession) -> SessionRuntime:
    """The runtime of a session the store has nothing for, rebuilt from its row (``runtime.rebuild``).

    The agent's socket counts as held by this node only when this node holds it (the store lost
    the state while the agent stayed connected here); an interruption recorded in the database
    keeps the link its audit event names, and gets a timer on this node.
    """
    link: Link | None = None
    if session.resume_deadline is not None:
        session_id = session.id
        link = await txn.run(hub.db, lambda db: interruptions.interruption_link(db, session_id))
    rt = rebuild(status=session.status, mode=session.mode, resume_deadline=session.resume_deadline, link=link)
    held = hub.agent_socket(session.id)
    if held is not None:
        rt.agent_node, rt.agent_generation = hub.node, held
    else:
        rt.unheld_since = hub.clock()
    if rt.interruption is not None:
        hub.start_timer(session.id, rt.interruption.deadline)
    return rt


def stop_timer(hub: SignalingHub, session_id: str, rt: SessionRuntime) -> None:
    """The interruption is over (resumed, or the session ended): this node's timer stops."""
    rt.interruption = None
    hub.stop_timer(session_id)


async def end_if_lost(hub: SignalingHub, session_id: str) -> None:
    """The deadline passed: end the session unless it resumed (the database has the last word)."""
    if await txn.run(hub.db, lambda db: interruptions.end_lost(db, session_id)):
        log.info("session %s ended: its connection did not come back in time", session_id)
        await hub.announce_end(session_id, "system", "connection_lost")


async def interrupt_locked(
    hub: SignalingHub, session_id: str, rt: SessionRuntime, *, cause: str, link: Link
) -> None:
    """A connection of a live session is lost: interrupted (audited once), consoles told, timer
    set. The caller holds the session's lock (a step, a dropped socket, the liveness sweep)."""
    session = await txn.run(
        hub.db, lambda db: interruptions.record_interrupted(db, session_id, cause=cause, link=link)
    )
    if session is None or session.resume_deadline is None:
        return
    if rt.interruption is None:
        rt.interruption = Interruption(link=link, deadline=session.resume_deadline)
        hub.start_timer(session_id, session.resume_deadline)
    await hub.publish_state(session_id, rt)


async def resume_locked(
    hub: SignalingHub, session_id: str, rt: SessionRuntime, verified_by: VerifiedBy, *, publish: bool = True
) -> None:
    """The session's connection is back: the interruption ends (audited), the timer stops."""
    session = await txn.run(
        hub.db, lambda db: interruptions.record_resumed(db, session_id, verified_by=verified_by)
    )
    if session is None:
        return
    stop_timer(hub, session_id, rt)
    if publish:
        await hub.publish_state(session_id, rt)


async def take_over(hub: SignalingHub, session_id: str, *, holder: str | None) -> None:
    """The liveness sweep's act (``liveness.py``): the node ``holder`` that held the agent's socket
    is dead, or no node holds it (``None``) for too long: the session is interrupted, nothing is
    ended for it. Checked again under the session's lock: a rejoin may have won meanwhile.

    With a shared store, a state the sweep had to rebuild is only saved this time (unheld since
    now): a node still holding the agent's socket claims it back on its next message or bus resync.
    """
    async with hub.runtime(session_id) as held:
        rt = held.rt
        if rt is None or rt.agent_node != holder:
            return
        if holder is None:
            if held.rebuilt and hub.store.shared:
                return
            since = rt.unheld_since
            if not held.rebuilt and since is not None and hub.clock() - since < hub.unheld_grace_seconds:
                return
            cause = "server_start" if held.rebuilt else "unattended"
        else:
            cause = "node_lost"
            log.warning("session %s: node %s holding its agent is gone", session_id, holder)
        rt.agent_node = None
        rt.unheld_since = rt.unheld_since or hub.clock()
        await interrupt_locked(hub, session_id, rt, cause=cause, link="server_restart")


def drop_waits(rt: SessionRuntime) -> bool:
    """Whether the agent's dropped socket interrupts the session (else: the short pre-consent wait).

    Only an agent session the user allowed waits; a browser share cannot rejoin.
    """
    return rt.consented and rt.mode == "agent"


# ---------------------------------------------------------------- rejoin


async def rejoined(hub: SignalingHub, session: RemoteSession, rt: SessionRuntime, media: str) -> Rejoined:
    """A proven rejoin whose socket is now the agent's: what the agent is told. Its return ends the
    interruption before consent (there is no grant to protect), or when the peer connection lived
    on through a signaling or server loss; the caller holds the session's lock, then tells the
    consoles."""
    renegotiate = rt.restored and not rt.consented
    message = Rejoined(
        session_id=session.id,
        status=session.status,  # type: ignore[arg-type]
        ice_servers=ice_servers(hub.settings, session.id, peer="agent"),
        ice_transport_policy=hub.settings.ice_transport_policy,
        renegotiate=renegotiate,
    )
    lost = rt.interruption
    if lost is not None and not rt.consented:
        await resume_locked(hub, session.id, rt, interruptions.REJOINED, publish=False)
    elif lost is not None and media == "up" and lost.link != "media":
        await resume_locked(hub, session.id, rt, "connection_kept", publish=False)
    return message


# ---------------------------------------------------------------- steps (agent and console)


async def interrupted(s: Step, message: Interrupted) -> None:
    await interrupt_locked(s.hub, s.session_id, s.rt, cause=message.cause, link="media")


async def resumed(s: Step, message: Resumed) -> None:
    await resume_locked(s.hub, s.session_id, s.rt, message.verified_by)


async def verify_again(s: Step, message: VerifyAgain) -> None:
    """No resume key on the console's side: "Codes match" is cleared until the technician clicks it
    again for the new code, and the agent is told (it keeps input frozen until then)."""
    session = await txn.run(s.hub.db, lambda db: interruptions.record_reverify(db, s.session_id))
    if session is None:
        return
    await s.to_agent(service.technician_confirmation(session).dumps())
    await s.publish_state()


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
    connection = s.connection
    if connection is None or connection.id != s.rt.answered_by:
        log.info("session %s: resume_refused from a console whose answer was not taken", s.session_id)
        if connection is not None:
            await connection.peer.send(error("out_of_order", message.type))
        return
    await _refused(s, message, "console")
