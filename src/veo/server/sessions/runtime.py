"""What the hub remembers about a live session between messages, and which message may come next.

The database holds the durable state (status, grant, audit). This holds the protocol steps that
only matter while the peers are connected: whether an offer, answer, reveal or consent was seen,
and the pending offer to re-send to a console that reloads its page. The rules below are the
order of ``docs/architecture.md``; anything else is ``out_of_order``.

After a server restart it is rebuilt from the database when the agent rejoins
(``resuming.restore``): an active session counts as negotiated and consented, an earlier one
starts its negotiation over (``rejoined.renegotiate``). Resume offers (a new peer connection for
a session the user allowed) may come whenever the session is consented, at most
``MAX_RESUME_OFFERS_PER_MINUTE``.

It lives in the memory of the node that carries the session's connections. With the Redis bus,
messages cross nodes, but the agent and the console of one session must still reach the same
node (sticky routing on the session) until this state moves to Redis too.
"""

from __future__ import annotations

import asyncio
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from veo.protocol.permissions import Permission
from veo.protocol.resume import MAX_RESUME_OFFERS_PER_MINUTE
from veo.protocol.signaling import Offer
from veo.server.sessions.wire import Peer

#: Which connection was lost: the peer connection (the agent said so), the agent's signaling
#: socket, or all of them because the server restarted.
Link = Literal["media", "signaling", "server_restart"]


@dataclass
class SessionRuntime:
    agent_connected: bool = False
    #: The agent's offer until a console answers it; a console that (re)opens gets it again with
    #: ICE servers and TURN credentials made at that moment (``ice.console_offer``).
    pending_offer: Offer | None = None
    offered: bool = False
    answered: bool = False
    #: The console socket whose answer was taken last: several consoles of one session (two tabs)
    #: all get the offer and answer it, the first answer wins, and only its console can judge the
    #: agent's reveal (``resuming.console_resume_refused``). Kept through the next offer: a
    #: refusal may reach the hub after the agent's next try.
    answered_by: Peer | None = None
    revealed: bool = False
    consented: bool = False
    #: ``browser``: the join page shares (it may ask for a continuation code for the agent).
    mode: str = "agent"
    #: The technician's mid-session question the user has not answered yet (one at a time).
    permission_ask: PendingAsk | None = None
    #: When the user last refused each permission (``time.monotonic``): asking again waits.
    refused_at: dict[Permission, float] = field(default_factory=dict)
    #: Held by a question's and an answer's whole step: the "one waiting question" check and its
    #: setting are apart by database work, and two consoles of one session may ask at once.
    asking: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: The agent's current signaling socket; a ``rejoin`` closes an older one.
    agent_peer: Peer | None = None
    #: Counts the agent's sockets: only the newest one's drop is a drop (an older one was replaced).
    agent_generation: int = 0
    #: Rebuilt from the database after a server restart: before consent, the agent renegotiates.
    restored: bool = False
    #: While the connection to the agent is lost and the grant waits (``resuming.py``).
    interruption: Interruption | None = None
    #: Held while an interruption starts or ends: a dropped socket's interruption and the rejoin
    #: of its successor may race (both wait on the database).
    resuming: asyncio.Lock = field(default_factory=asyncio.Lock)
    #: When each recent resume offer came (``time.monotonic``), for the per-minute limit.
    resume_offers: deque[float] = field(default_factory=deque)

    def take_resume_offer(self, now: float) -> bool:
        """Count one resume offer at ``now``; False (not counted) beyond the per-minute limit."""
        while self.resume_offers and now - self.resume_offers[0] >= 60.0:
            self.resume_offers.popleft()
        if len(self.resume_offers) >= MAX_RESUME_OFFERS_PER_MINUTE:
            return False
        self.resume_offers.append(now)
        return True


@dataclass
class Interruption:
    """A lost connection the session waits for until ``deadline``; ``timer`` ends it then."""

    link: Link
    deadline: datetime
    timer: asyncio.Task[Any] | None = None


@dataclass(frozen=True)
class PendingAsk:
    """A question relayed to the agent (``veo.protocol.asking``), until its answer or its expiry."""

    id: str
    permissions: tuple[Permission, ...]
    asked_at: float


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
