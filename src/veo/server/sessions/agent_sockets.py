"""The agent sockets one node holds, and claiming their sessions back in the shared store.

Which node holds a session's agent socket is in the runtime store (``agent_node``, with the
socket's generation); what a node actually holds is here, ``{session: (generation, peer)}``. The
two can drift: the store loses the state (Redis restarted, expired) or another node's sweep takes
this node for dead. The claim-back writes the store's word again from what this node holds, and a
socket whose session ended meanwhile (an end the bus could not carry here) is told and closed.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from veo.protocol.signaling import Ended
from veo.server.sessions import resuming, service, txn
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import SessionRuntime
from veo.server.sessions.runtime_store import RuntimeStoreError
from veo.server.sessions.wire import CLOSE_NORMAL, Peer

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub

log = logging.getLogger(__name__)

#: An agent socket closed because a newer one of the same agent rejoined the session.
CLOSE_REPLACED = 4409


def ended_from_row(session: RemoteSession) -> Ended:
    """The ``ended`` a peer that missed it is told, from the session's row (a resync, a claim).
    An ``ended_by`` the protocol does not know (an old row) is told as the system's."""
    by: service.EndedBy = "system"
    if session.ended_by == "technician":
        by = "technician"
    elif session.ended_by == "user":
        by = "user"
    return Ended(by=by, reason=(session.end_reason or "")[:200])


class AgentSockets:
    """The agent sockets of one node's hub (none of them shared with other nodes)."""

    def __init__(self, hub: SignalingHub) -> None:
        self.hub = hub
        #: the agent sockets this node holds: session id -> (generation, peer)
        self.held: dict[str, tuple[int, Peer]] = {}

    def generation(self, session_id: str) -> int | None:
        """The generation of the agent socket this node holds for the session, if any."""
        held = self.held.get(session_id)
        return held[0] if held is not None else None

    def take(self, session_id: str, rt: SessionRuntime, peer: Peer) -> int:
        """``peer`` is now the session's agent socket, held by this node; its generation."""
        rt.agent_generation += 1
        rt.agent_node = self.hub.node
        rt.unheld_since = None
        self.held[session_id] = (rt.agent_generation, peer)
        return rt.agent_generation

    async def holds(self, session_id: str, rt: SessionRuntime, generation: int) -> bool:
        """Whether the agent socket ``generation`` of this node is the session's; the caller holds
        the session's lock. False: a newer socket took the session, here or on another node.

        Claimed back when the store lost track of it (rebuilt, expired) or another node's sweep
        took this node for dead (its heartbeat lapsed): the interruption that sweep recorded
        ends (``connection_kept``), since the agent's signaling socket is demonstrably here.
        """
        if rt.agent_generation > generation:
            return False
        if rt.agent_node != self.hub.node or rt.agent_generation != generation:
            log.info("session %s: this node claims its agent socket back", session_id)
            rt.agent_node, rt.agent_generation, rt.unheld_since = self.hub.node, generation, None
            lost = rt.interruption
            if lost is not None and lost.link == "server_restart":
                await resuming.resume_locked(self.hub, session_id, rt, "connection_kept")
        return True

    def forget(self, session_id: str, peer: Peer) -> None:
        """``peer`` is closed: no longer one of the agent sockets this node holds (a newer one of
        the session, registered meanwhile, stays). A closed socket left behind would be claimed
        in the store by every heartbeat, and the session would look held forever."""
        held = self.held.get(session_id)
        if held is not None and held[1] is peer:
            del self.held[session_id]

    async def claim_held(self) -> None:
        """Make sure the store says this node holds the agent sockets it holds (one read for all).

        An active session's agent may send nothing over signaling for hours (its heartbeats go
        over the data channel), so its state could expire, or vanish with a Redis restart whose
        ``RESYNC`` this node missed; the sweep would then find the session held by nobody.
        Written back here within a heartbeat, long before the sweep's grace. A socket the store
        shows replaced (its notice lost) is closed.
        """
        held = dict(self.held)
        if not held:
            return
        states = await self.hub.store.get_many(held)
        for session_id, (generation, peer) in held.items():
            rt = states.get(session_id)
            if rt is None or rt.agent_node != self.hub.node or rt.agent_generation != generation:
                try:
                    await self.reclaim(peer, session_id, generation)
                except Exception:
                    log.warning("session %s: claiming the agent's socket back failed", session_id)

    async def reclaim(self, peer: Peer, session_id: str, generation: int) -> bool:
        """The agent socket's session, checked against the store (its state written back when
        lost); True when the socket was closed: replaced, or its session ended meanwhile (an end
        the bus could not carry here)."""
        async with self.hub.runtime(session_id) as held:
            if held.rt is None:
                return await self.tell_ended(peer, session_id)
            if not await self.holds(session_id, held.rt, generation):
                await peer.close(CLOSE_REPLACED)
                return True
        return False

    async def tell_ended(self, peer: Peer, session_id: str) -> bool:
        """``ended`` from the database to an agent socket whose session is over; True if it was."""
        session = await txn.run(self.hub.db, lambda db: service.get_session(db, session_id))
        if session is None or session.status not in ("ended", "expired"):
            return False
        try:  # what the node that ended it could not drop (the store was unreachable then)
            await self.hub.store.drop(session_id)
        except RuntimeStoreError:
            log.debug("session %s: its runtime state could not be dropped", session_id)
        await self.hub.try_send(peer, ended_from_row(session))
        await peer.close(CLOSE_NORMAL)
        self.forget(session_id, peer)
        return True
