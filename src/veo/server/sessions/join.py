"""Admission of an agent: the first message must be ``join`` with a live code.

Redemption is throttled per address before the database is asked (``ratelimit.py``): the wait
comes first, so a guesser is slowed whatever the answer. Every refusal is audited with its reason
(never the code) and answered with a fatal ``error``; the caller closes the connection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.protocol.base import ProtocolError
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Join, Joined, parse_agent_message
from veo.server.lang import set_language
from veo.server.notify import events, rating
from veo.server.policies.service import policy_for_role
from veo.server.sessions import service, txn
from veo.server.sessions.ice import ice_servers
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.wire import Peer, error, protocol_error
from veo.server.web import wording

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub


@dataclass(frozen=True)
class Admission:
    """A joined peer: what it is told, what it said, and whether it continues a browser share."""

    joined: Joined
    join: Join
    upgraded: bool = False


async def admit(hub: SignalingHub, peer: Peer, address: str) -> Admission | None:
    """Read and check the first message; answer and return None when it is refused.

    The code may be a join code or a continuation code (a browser share upgraded to the agent);
    both go through the same rate limit and the same refusals.
    """
    raw: str | bytes | None = None
    with anyio.move_on_after(hub.join_timeout_seconds) as timer:
        raw = await peer.receive()
    if timer.cancelled_caught:
        await peer.send(error("join_timeout", fatal=True))
        return None
    if raw is None:
        return None
    try:
        message = parse_agent_message(raw)
    except ProtocolError as exc:
        await peer.send(protocol_error(exc, fatal=True))
        return None
    if not isinstance(message, Join):
        await peer.send(error("join_required", fatal=True))
        return None
    set_language(message.language)
    decision = hub.limiter.check(address)
    if decision.delay > 0:
        await hub.sleep(decision.delay)
    if not decision.allowed:
        await txn.run(hub.db, lambda db: service.record_rejected(db, address=address, reason="rate_limited"))
        wait = math.ceil(hub.limiter.retry_after(address))
        await peer.send(error("rate_limited", fatal=True).model_copy(update={"retry_after": wait}))
        return None

    def redeem(db: Session) -> Admission | str:
        outcome = service.redeem(
            db, message.code, address=address, platform=message.platform, client=message.client
        )
        if isinstance(outcome, str):
            service.record_rejected(db, address=address, reason=outcome)
            return outcome
        session, upgraded = outcome
        # The user's language (from the agent) is the best guess for the requester's e-mails.
        events.set_requester_language(db, session.ticket_id, message.language)
        token = rating.issue_for_session(db, session, message.language)
        limit = policy_for_role(db, session.technician.role).max_file_bytes if session.technician else 0
        joined = joined_message(hub.settings, session).model_copy(
            update={"rating_token": token, "max_file_bytes": limit}
        )
        return Admission(joined, message, upgraded)

    result = await txn.run(hub.db, redeem)
    if isinstance(result, str):
        hub.limiter.failure(address)
        await peer.send(error(f"code_{result}", fatal=True))
        return None
    return result


def joined_message(settings: Settings, session: RemoteSession) -> Joined:
    technician = session.technician
    return Joined(
        session_id=session.id,
        # The default name is a description ("veo support"): in the user's language (set above).
        organization=wording.organization(settings.organization),
        technician_name=wording.person(technician.name) if technician else "",
        ticket_id=session.ticket_id,
        ticket_title=session.ticket.title,
        requested=[Permission(p) for p in session.requested_permissions],
        ice_servers=ice_servers(settings, session.id),
    )
