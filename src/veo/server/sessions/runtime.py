"""What the hub remembers about a live session between messages, and which message may come next.

The database holds the durable state (status, grant, audit). This holds the protocol steps that
only matter while the peers are connected: whether an offer, answer, reveal or consent was seen,
and the pending offer to re-send to a console that reloads its page. The rules below are the
order of ``docs/architecture.md``; anything else is ``out_of_order``.

It lives in the memory of the node that carries the session's connections. With the Redis bus,
messages cross nodes, but the agent and the console of one session must still reach the same
node (sticky routing on the session) until this state moves to Redis too.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from veo.protocol.permissions import Permission
from veo.protocol.signaling import Offer


@dataclass
class SessionRuntime:
    agent_connected: bool = False
    #: The agent's offer until a console answers it; a console that (re)opens gets it again with
    #: ICE servers and TURN credentials made at that moment (``ice.console_offer``).
    pending_offer: Offer | None = None
    offered: bool = False
    answered: bool = False
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


@dataclass(frozen=True)
class PendingAsk:
    """A question relayed to the agent (``veo.protocol.asking``), until its answer or its expiry."""

    id: str
    permissions: tuple[Permission, ...]
    asked_at: float


def agent_may_send(rt: SessionRuntime, kind: str) -> bool:
    """May the agent send a message of type ``kind`` now (after its ``join``)?"""
    rules = {
        "offer": not rt.offered,
        "reveal": rt.answered and not rt.revealed,
        "consent": rt.revealed and not rt.consented,
        "deny": not rt.consented,
        "control_state": rt.consented,
        "abort": rt.revealed,  # the user saw the code and says it differs from the technician's
        "hangup": True,
        "upgrade_request": rt.consented and rt.mode == "browser",
        "permission_answer": rt.consented,  # which question it answers is checked by its step
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
    }
    return rules.get(kind, False)
