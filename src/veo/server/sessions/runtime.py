"""What the hub remembers about a live session between messages, and which message may come next.

The database holds the durable state (status, grant, audit, an interruption's deadline). This
holds the protocol steps that only matter while the peers are connected: whether an offer,
answer, reveal or consent was seen, the pending offer to re-send to a console that reloads its
page, the question waiting for the user, and which node holds the agent's socket. The rules
below are the order of ``docs/architecture.md``; anything else is ``out_of_order``.

It is shared by every node (``runtime_store.py``: Redis with ``VEO_REDIS_URL``, else this
process's memory), so any node serves either peer of any session: each message is handled under
the session's lock in the store, against the state this model round-trips through JSON. Nothing
node-local lives here (sockets, timers, locks are the hub's); times are wall-clock seconds
(``time.time``), which all nodes share.

When the store has nothing for a live session (a restarted single node, Redis restarted or the
state expired) it is rebuilt from the database (:func:`rebuild`): an active session counts as
negotiated and consented, an earlier one starts its negotiation over (``rejoined.renegotiate``).
Resume offers (a new peer connection for a session the user allowed) may come whenever the
session is consented, at most ``MAX_RESUME_OFFERS_PER_MINUTE``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from veo.protocol.permissions import Permission
from veo.protocol.resume import MAX_RESUME_OFFERS_PER_MINUTE
from veo.protocol.signaling import Offer

#: Which connection was lost: the peer connection (the agent said so), the agent's signaling
#: socket, or all of them because the server (the node holding the agent's socket) went away.
Link = Literal["media", "signaling", "server_restart"]


class Interruption(BaseModel):
    """A lost connection the session waits for until ``deadline`` (also on the session's row)."""

    model_config = ConfigDict(extra="forbid")

    link: Link
    deadline: datetime


class PendingAsk(BaseModel):
    """A question relayed to the agent (``veo.protocol.asking``), until its answer or its expiry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    permissions: tuple[Permission, ...]
    #: wall-clock seconds (``SignalingHub.clock``)
    asked_at: float


class SessionRuntime(BaseModel):
    """One session's protocol state; a JSON document in the runtime store."""

    model_config = ConfigDict(extra="forbid", validate_assignment=False)

    #: The agent's offer until a console answers it; a console that (re)opens gets it again with
    #: ICE servers and TURN credentials made at that moment (``ice.console_offer``).
    pending_offer: Offer | None = None
    offered: bool = False
    answered: bool = False
    #: The console connection (``ConsoleConnection.id``) whose answer was taken last: several
    #: consoles of one session (two tabs, maybe on two nodes) all get the offer and answer it, the
    #: first answer wins, and only its console can judge the agent's reveal
    #: (``resuming.console_resume_refused``). Kept through the next offer: a refusal may reach
    #: the hub after the agent's next try.
    answered_by: str | None = None
    revealed: bool = False
    consented: bool = False
    #: ``browser``: the join page shares (it may ask for a continuation code for the agent).
    mode: str = "agent"
    #: The technician's mid-session question the user has not answered yet (one at a time).
    permission_ask: PendingAsk | None = None
    #: When the user last refused each permission (wall-clock seconds): asking again waits.
    refused_at: dict[Permission, float] = Field(default_factory=dict)
    #: Rebuilt from the database (a restart, a lost store): before consent, the agent renegotiates.
    restored: bool = False
    #: While the connection to the agent is lost and the grant waits (``resuming.py``).
    interruption: Interruption | None = None
    #: When each recent resume offer came (wall-clock seconds), for the per-minute limit.
    resume_offers: list[float] = Field(default_factory=list)
    #: The node (``SignalingHub.node``) holding the agent's signaling socket; None: no socket.
    agent_node: str | None = None
    #: Counts the agent's sockets: only the newest one's drop is a drop, and an older one (on any
    #: node) is closed. Never decreases, even when the state is rebuilt by the holding node.
    agent_generation: int = 0
    #: Since when no node holds the agent's socket (wall-clock seconds; None while one does):
    #: the liveness sweep interrupts a session left so for too long (``liveness.py``).
    unheld_since: float | None = None

    @property
    def agent_connected(self) -> bool:
        return self.agent_node is not None

    def take_resume_offer(self, now: float) -> bool:
        """Count one resume offer at ``now``; False (not counted) beyond the per-minute limit."""
        self.resume_offers = [t for t in self.resume_offers if now - t < 60.0]
        if len(self.resume_offers) >= MAX_RESUME_OFFERS_PER_MINUTE:
            return False
        self.resume_offers.append(now)
        return True

    def dumps(self) -> str:
        return self.model_dump_json(exclude_defaults=True)

    @classmethod
    def loads(cls, raw: str | bytes) -> SessionRuntime:
        return cls.model_validate_json(raw)


def rebuild(
    *, status: str, mode: str, resume_deadline: datetime | None, link: Link | None = None
) -> SessionRuntime:
    """The runtime of a session the store has nothing for, from its database row.

    An active session counts as negotiated and allowed (its peers may still hold their
    connection; a resume offer may come); an earlier one starts over with a fresh offer
    (``restored``). A waiting session (no agent yet) starts empty. An interruption recorded in
    the database is carried over with ``link``, the one its audit event names
    (``interruptions.interruption_link``). Unknown, it counts as the peer connection's
    (``media``): that one ends only with a resume proof or a new code, never because a node
    claims the agent's socket back, so an unknown link grants nothing without proof.
    """
    if status == "waiting":
        return SessionRuntime(mode=mode)
    active = status == "active"
    rt = SessionRuntime(
        offered=active,
        answered=active,
        revealed=active,
        consented=active,
        mode=mode,
        restored=True,
    )
    if resume_deadline is not None:
        rt.interruption = Interruption(link=link or "media", deadline=resume_deadline)
    return rt


def agent_may_send(rt: SessionRuntime, kind: str, *, resume: bool = False) -> bool:
    """May the agent send a message of type ``kind`` now (after its ``join``)?

    ``resume``: the offer is for a new peer connection of a session the user already allowed.
    """
    rules = {
        "offer": rt.consented if resume else not rt.offered and not rt.consented,
        "reveal": rt.answered and not rt.revealed,
        "consent": rt.revealed and not rt.consented,
        "deny": not rt.consented,
        "control_state": rt.consented,
        "abort": rt.revealed,  # the user saw the code and says it differs from the technician's
        "hangup": True,
        "upgrade_request": rt.consented and rt.mode == "browser",
        "permission_answer": rt.consented,  # which question it answers is checked by its step
        "interrupted": rt.consented,
        "resumed": rt.consented,
        "verify_again": rt.consented and rt.answered,
        "resume_refused": rt.consented,
    }
    return rules.get(kind, False)


def console_may_send(rt: SessionRuntime, kind: str) -> bool:
    """May the console send a message of type ``kind`` now?"""
    rules = {
        "answer": rt.offered and not rt.answered,
        "abort": rt.offered,
        "sas_confirm": rt.revealed,  # "Codes match" only once both sides can show the code
        "identity": True,
        "hangup": True,
        "permission_request": rt.consented,  # more only once the user allowed the session
        "resume_refused": rt.offered,  # the agent's proof in a reveal was wrong or missing
    }
    return rules.get(kind, False)
