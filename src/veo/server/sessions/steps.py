"""What each signaling message does, one small function per message type, found through a table.

The hub has already parsed the message and checked that it may come now (``runtime.py``); a step
records it through ``service.py`` and relays what the other peer must see over the bus. Agent
steps act for the user (audit actor ``agent``), console steps for the signed-in technician.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from veo.protocol.permissions import Permission, beyond, effective_permissions, ordered
from veo.protocol.signaling import (
    Abort,
    Answer,
    Consent,
    ControlState,
    Deny,
    Hangup,
    IdentityConfirm,
    Offer,
    Reveal,
    SasConfirm,
    UpgradeCode,
    UpgradeRequest,
)
from veo.server.downloads import links
from veo.server.sessions import asking, policy_now, redeem, resuming, service, txn
from veo.server.sessions.ice import console_offer
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import SessionRuntime
from veo.server.sessions.schemas import agent_command

if TYPE_CHECKING:
    from veo.server.sessions.consoles import ConsoleConnection
    from veo.server.sessions.hub import SignalingHub


@dataclass(frozen=True)
class Step:
    """Where a message came from: the hub, the session, its runtime, who and from where.

    The hub holds the session's lock in the runtime store for the whole step and saves ``rt``
    after it: a step changes ``rt`` in place and never takes that lock again.

    ``connection`` is the console's (None for the agent): a console whose account was cut off
    while its message was being handled relays nothing more to the agent.
    """

    hub: SignalingHub
    session_id: str
    rt: SessionRuntime
    actor: str
    address: str
    connection: ConsoleConnection | None = None

    async def publish_state(self) -> None:
        """``session_state`` to the consoles, from this step's runtime (not saved yet)."""
        await self.hub.publish_state(self.session_id, self.rt)

    async def to_console(self, raw: str) -> None:
        await self.hub.bus.publish(self.hub.console_channel(self.session_id), raw)

    async def to_agent(self, raw: str) -> None:
        if self.connection is not None and self.connection.revoked is not None:
            raise service.SessionError("session_ended")  # checked again right before it leaves
        await self.hub.bus.publish(self.hub.agent_channel(self.session_id), raw)

    async def end_beyond_policy(self, lost: list[Permission]) -> None:
        """The agent holds ``lost``, which the technician's role no longer allows: end, by ``system``.

        The server cannot take part of the user's grant back from the agent; ending is the one
        thing every agent obeys (it closes the connection to the console).
        """
        await self.hub.end(
            self.session_id,
            by="system",
            reason=policy_now.POLICY_CHANGED,
            actor=service.SYSTEM_ACTOR,
            details={"beyond_policy": [p.value for p in lost]},
        )


StepFn = Callable[[Step, Any], Awaitable[None]]

# ---------------------------------------------------------------- from the agent


async def offer(s: Step, message: Offer) -> None:
    """A first offer starts the negotiation; a resume offer (a new peer connection for a session
    the user allowed, ``resuming.py``) starts a new exchange of answer and reveal, at most
    ``MAX_RESUME_OFFERS_PER_MINUTE`` (each costs both peers an ICE run)."""
    if message.resume:
        if not s.rt.take_resume_offer(s.hub.clock()):
            raise service.SessionError("resume_rate_limited")
        s.rt.answered = s.rt.revealed = False
        if s.rt.interruption is None:
            # the agent's ``interrupted`` was lost with its network (written into a dead socket):
            # a new peer connection says the old one is gone, so the interruption starts here
            await resuming.interrupt_locked(s.hub, s.session_id, s.rt, cause="new_connection", link="media")
    s.rt.offered = True
    s.rt.restored = False
    # the console gets its own ICE servers (TURN credentials made now) with the offer
    s.rt.pending_offer = message
    if not message.resume:
        await txn.run(s.hub.db, lambda db: service.record_offer(db, s.session_id))
    await s.to_console(console_offer(s.hub.settings, s.session_id, message).dumps())
    await s.publish_state()


async def reveal(s: Step, message: Reveal) -> None:
    s.rt.revealed = True
    await s.to_console(message.dumps())


async def consent(s: Step, message: Consent) -> None:
    """The console learns the EFFECTIVE grant (requested, ticked, allowed by the role now), not just
    what was ticked.

    The agent already holds what the user ticked of the request: when the role lost part of it
    since the code was redeemed, the server cannot take that part back from the agent, so the
    session ends (``policy_changed``) instead of starting with more than the role allows.
    """
    granted, sas_confirmed = message.granted, message.sas_confirmed
    session = await txn.run(
        s.hub.db,
        lambda db: service.record_consent(
            db, s.session_id, granted_by_user=granted, sas_confirmed=sas_confirmed
        ),
    )
    s.rt.consented = True
    layers: list[list[str]] = [session.requested_permissions, [p.value for p in granted]]
    if session.mode == "browser":
        layers.append(list(service.BROWSER_PERMISSIONS))
    lost = ordered(beyond(effective_permissions(*layers), session.granted_permissions))
    if lost:
        await s.end_beyond_policy(lost)
        return
    effective = [Permission(p) for p in session.granted_permissions]
    await s.to_console(Consent(granted=effective, sas_confirmed=sas_confirmed).dumps())
    await s.publish_state()


async def deny(s: Step, message: Deny) -> None:
    if await txn.run(s.hub.db, lambda db: service.record_deny(db, s.session_id)):
        await s.hub.announce_end(s.session_id, "user", "denied")


async def control_state(s: Step, message: ControlState) -> None:
    paused = message.paused
    await txn.run(s.hub.db, lambda db: service.record_control(db, s.session_id, paused=paused))
    await s.to_console(message.dumps())
    await s.publish_state()


async def agent_abort(s: Step, message: Abort) -> None:
    """The user says the code the technician read differs from theirs: suspected interception."""
    await _mismatch(s, message, "user")


#: Hang-up reasons of an agent that gave up on a lost connection: veo ended it, not the user.
LOST_REASONS = frozenset({"connection_lost", "resume_failed"})


async def agent_hangup(s: Step, message: Hangup) -> None:
    reason = message.reason or "hangup"
    by: service.EndedBy = "system" if reason in LOST_REASONS else "user"
    await s.hub.end(s.session_id, by=by, reason=reason, actor=s.actor, address=s.address)


async def upgrade_request(s: Step, message: UpgradeRequest) -> None:
    """The browser share asks for the app: a fresh single-use continuation code for THIS session."""
    settings = s.hub.settings
    session, code = await txn.run(
        s.hub.db,
        lambda db: redeem.issue_continuation(
            db, s.session_id, ttl_seconds=settings.session_code_ttl_seconds, address=s.address
        ),
    )
    expires = session.continuation_expires_at
    # /download?code=…: the page picks the file for the user's system, and the Linux file it
    # hands out carries this continuation code (downloads/links.py).
    listing = await links.builds(settings)
    await s.to_agent(
        UpgradeCode(
            code=code,
            expires_at=expires.isoformat() if expires else "",
            command=agent_command(settings.public_url, code),
            download_url=links.upgrade_download(settings, listing, code),
        ).dumps()
    )


AGENT_STEPS: dict[str, StepFn] = {
    "offer": offer,
    "reveal": reveal,
    "consent": consent,
    "deny": deny,
    "control_state": control_state,
    "abort": agent_abort,
    "hangup": agent_hangup,
    "upgrade_request": upgrade_request,
    "permission_answer": asking.permission_answer,
    "interrupted": resuming.interrupted,
    "resumed": resuming.resumed,
    "verify_again": resuming.verify_again,
    "resume_refused": resuming.agent_resume_refused,
}

# ---------------------------------------------------------------- from the console


async def answer(s: Step, message: Answer) -> None:
    """The first console to answer takes the exchange; a later answer is ``out_of_order`` (hub)."""
    s.rt.answered = True
    s.rt.answered_by = s.connection.id if s.connection is not None else None
    s.rt.pending_offer = None
    await s.to_agent(message.dumps())


async def _mismatch(s: Step, message: Abort, declared_by: Literal["technician", "user"]) -> None:
    reason = message.reason
    end_reason = await txn.run(
        s.hub.db,
        lambda db: service.record_sas_mismatch(
            db, s.session_id, reason=reason, actor=s.actor, declared_by=declared_by
        ),
    )
    if end_reason is not None:
        await s.hub.announce_end(s.session_id, "system", end_reason)


async def abort(s: Step, message: Abort) -> None:
    """The console caught a wrong commitment, or the technician says the codes differ: end for
    everyone at once, by ``system``."""
    await _mismatch(s, message, "technician")


async def _tell_agent_confirmation(s: Step, session: RemoteSession) -> None:
    await s.to_agent(service.technician_confirmation(session).dumps())
    await s.publish_state()


async def sas_confirm(s: Step, message: SasConfirm) -> None:
    """The technician clicked "Codes match": recorded, audited, relayed to the agent."""
    session = await txn.run(
        s.hub.db,
        lambda db: service.record_technician_sas(db, s.session_id, actor=s.actor, address=s.address),
    )
    await _tell_agent_confirmation(s, session)


async def identity(s: Step, message: IdentityConfirm) -> None:
    """How the user's identity was confirmed: recorded, audited, the agent told (may unlock control)."""
    method = message.method
    session = await txn.run(
        s.hub.db,
        lambda db: service.record_identity(db, s.session_id, method=method, actor=s.actor, address=s.address),
    )
    await _tell_agent_confirmation(s, session)


async def console_hangup(s: Step, message: Hangup) -> None:
    reason = message.reason or "hangup"
    await s.hub.end(s.session_id, by="technician", reason=reason, actor=s.actor, address=s.address)


CONSOLE_STEPS: dict[str, StepFn] = {
    "answer": answer,
    "abort": abort,
    "sas_confirm": sas_confirm,
    "identity": identity,
    "hangup": console_hangup,
    "permission_request": asking.permission_request,
    "resume_refused": resuming.console_resume_refused,
}
