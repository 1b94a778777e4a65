"""Admission of an agent: the first message must be ``join`` with a live code, or ``rejoin``.

``rejoin`` is a new signaling socket of an agent that already joined (``resuming.py``): it names
the session and proves itself with the token ``joined`` gave it. A wrong token or an unknown
session is refused exactly like a wrong code (the same limiter, the same aggregated refusal log,
one generic answer that says neither which was wrong nor whether the session exists); the right
token for a session that is over gets ``session_ended``.

Redemption is throttled per address group before the database is asked (``ratelimit.py``): the
connection holds one of its group's few places for joins in flight from the moment it is accepted,
and its attempt is counted as a failure BEFORE the lookup (forgiven only when the code was right),
so parallel connections cannot all pass the check, on this node or any other (the counts are in
Redis when there are several). The wait comes first, so a guesser is slowed whatever the answer.
Every refusal is answered with a fatal ``error`` (the caller closes the connection) and audited
with its reason, never the code, aggregated per address group and window (``refusal_log.py``) so
that refusals cannot flood the audit log. A limiter that cannot reach Redis refuses the join
(``server_unavailable``) without looking the code up. A database that cannot be reached gets a
non-fatal ``database_unavailable`` and a 1013 close: the agent tries again (:func:`database_unavailable`).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import anyio
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.protocol import agent_config
from veo.protocol.base import ProtocolError
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Error, Join, Joined, Rejoin, parse_agent_message
from veo.server.addresses import address_group
from veo.server.db.unavailable import first_line, is_unavailable
from veo.server.handlers import CLOSE_TRY_AGAIN_LATER, RETRY_AFTER_SECONDS
from veo.server.lang import _, set_language
from veo.server.notify import events, rating
from veo.server.policies.service import policy_for_role
from veo.server.sessions import interruptions, redeem, txn
from veo.server.sessions.device_view import device_session
from veo.server.sessions.ice import ice_servers
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.ratelimit import LimiterUnavailable, Slot
from veo.server.sessions.wire import Peer, error, protocol_error
from veo.server.web import wording

if TYPE_CHECKING:
    from veo.server.sessions.hub import SignalingHub

log = logging.getLogger(__name__)


#: How long a join refused at the door (too many in flight) stays open for its answer to be read.
DOOR_GRACE_SECONDS = 1.0


@dataclass(frozen=True)
class Admission:
    """A joined peer: what it is told, what it said, and whether it continues a browser share."""

    joined: Joined
    join: Join
    upgraded: bool = False


@dataclass(frozen=True)
class Rejoining:
    """A proven ``rejoin``: the session (read in the admitting transaction) and what the agent said."""

    session: RemoteSession
    rejoin: Rejoin


async def admit(hub: SignalingHub, peer: Peer, address: str) -> Admission | Rejoining | None:
    """Read and check the first message; answer and return None when it is refused.

    The code may be a join code or a continuation code (a browser share upgraded to the agent);
    both go through the same rate limit and the same refusals.
    """
    try:
        slot = await hub.limiter.enter(address)
    except LimiterUnavailable as exc:
        await unavailable(peer, exc)
        return None
    if slot is None:  # this address group already has its joins in flight: no lookup, no wait
        # Its own code: "too many wrong codes" would be false (no code was even read) and would
        # send the user to wait minutes; a few seconds is enough here.
        await refuse(hub, peer, address, "too_many_joins", retry_after=hub.limiter.busy_retry_after())
        # The answer is on its way; closing at once would make the client's ``join`` fail to send
        # and hide the answer from it. A short grace lets it send and read, then the hub closes.
        with anyio.move_on_after(DOOR_GRACE_SECONDS):
            await peer.receive()
        return None
    try:
        return await _admit(hub, peer, address, slot)
    except LimiterUnavailable as exc:
        await unavailable(peer, exc)
        return None
    except Exception as exc:
        if not is_unavailable(exc):
            raise
        await database_unavailable(hub, peer, slot, exc)
        return None
    finally:
        with anyio.CancelScope(shield=True):  # a dropped connection still frees its place
            await hub.limiter.leave(slot)


async def _admit(hub: SignalingHub, peer: Peer, address: str, slot: Slot) -> Admission | Rejoining | None:
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
    if isinstance(message, Rejoin):
        return await _rejoin(hub, peer, address, slot, message)
    if not isinstance(message, Join):
        await peer.send(error("join_required", fatal=True))
        return None
    set_language(message.language)
    if message.client == "agent" and await refuse_outdated(hub, peer, address, message):
        return None
    if not await _may_try(hub, peer, address, slot):
        return None

    def take_code(db: Session) -> Admission | redeem.RejectReason:
        outcome = redeem.redeem(
            db,
            message.code,
            address=address,
            platform=message.platform,
            client=message.client,
            device_secret=message.device_secret,
        )
        if isinstance(outcome, str):
            return outcome
        session, upgraded = outcome
        # The user's language (from the agent) is the best guess for the requester's e-mails.
        events.set_requester_language(db, session.ticket_id, message.language)
        token = rating.issue_for_session(db, session, message.language)
        limit = policy_for_role(db, session.technician.role).max_file_bytes if session.technician else 0
        update: dict[str, object] = {"rating_token": token, "max_file_bytes": limit}
        if session.mode == "agent":  # the join page cannot rejoin: its session ends at a drop
            update["resume_token"] = interruptions.issue_token(session)
            update["resume_grace_seconds"] = session.resume_grace_seconds
        joined = joined_message(hub.settings, session).model_copy(update=update)
        return Admission(joined, message, upgraded)

    result = await txn.run(hub.db, take_code)
    if isinstance(result, str):
        await refuse(hub, peer, address, result)
        return None
    await hub.limiter.forgive(slot)
    return result


async def refuse_outdated(hub: SignalingHub, peer: Peer, address: str, join: Join) -> bool:
    """Refuse an agent older than ``VEO_AGENT_MIN_VERSION``, before its code is looked at.

    Asked before the limiter counts an attempt and before the database: the user did nothing
    wrong, the code stays unused (valid with the new agent) and is not a failed try. Nothing is
    learnt about the code either, so this answer is no oracle. Logged, not audited: no session
    is touched, and a public endpoint must not write audit rows at a stranger's pace.
    """
    minimum = hub.settings.agent_min_version
    if not agent_config.is_older(join.agent_version, minimum):
        return False
    download = hub.settings.public_url + "/download"
    have = join.agent_version or agent_config.UNVERSIONED_AGENT
    log.info(
        "refused an outdated agent (version %r, oldest accepted %s) from %s",
        have[:40],
        minimum,
        address_group(address),
    )
    text = _(
        "This veo app is too old for this server: it is version %(have)s, the server needs "
        "%(minimum)s or newer. Download the new veo app from %(url)s and open it; your code "
        "stays valid until it expires."
    ) % {"have": have[:40], "minimum": minimum, "url": download}
    answer = Error(
        code="agent_outdated",
        message=text[:500],
        fatal=True,
        min_version=minimum,
        download_url=download,
    )
    try:
        await peer.send(answer)
    except Exception:  # the client left first
        log.debug("could not answer an outdated agent", exc_info=True)
    return True


async def _may_try(hub: SignalingHub, peer: Peer, address: str, slot: Slot) -> bool:
    """Decided and counted in one step: from here this attempt is a failure unless forgiven."""
    decision = await hub.limiter.attempt(slot)
    if decision.delay > 0:
        await hub.sleep(decision.delay)
    if not decision.allowed:
        await refuse(hub, peer, address, "rate_limited", retry_after=decision.retry_after)
        return False
    return True


async def _rejoin(
    hub: SignalingHub, peer: Peer, address: str, slot: Slot, message: Rejoin
) -> Rejoining | None:
    """A new socket of an agent that already joined: its token checked as a code is."""
    if not await _may_try(hub, peer, address, slot):
        return None
    session_id, token = message.session_id, message.token
    session = await txn.run(hub.db, lambda db: interruptions.find_for_rejoin(db, session_id, token))
    if session is None:
        await refuse(hub, peer, address, "rejoin_refused")
        return None
    await hub.limiter.forgive(slot)
    if session.status not in interruptions.CONNECTED_STATUSES:
        await peer.send(error("session_ended", fatal=True))
        return None
    return Rejoining(session, message)


async def refuse(
    hub: SignalingHub,
    peer: Peer,
    address: str,
    reason: redeem.RejectReason,
    *,
    retry_after: float | None = None,
) -> None:
    """Audit a refusal (at once, or counted into its window's summary) and answer it."""
    if hub.refusals.note(address, reason):
        await txn.run(hub.db, lambda db: redeem.record_rejected(db, address=address, reason=reason))
    await flush_refusals(hub)
    plain = reason in ("rate_limited", "too_many_joins", "rejoin_refused")
    answer = error(reason if plain else f"code_{reason}", fatal=True)
    if retry_after is not None:
        answer = answer.model_copy(update={"retry_after": max(1, math.ceil(retry_after))})
    try:
        await peer.send(answer)
    except Exception:  # the client left first: nothing to tell, and no trace for each one
        log.debug("could not answer a refused join", exc_info=True)


async def unavailable(peer: Peer, problem: LimiterUnavailable) -> None:
    """The limiter's shared store is unreachable: refuse plainly, look nothing up (fail closed).

    One line in the log, not a trace per join; the agent reads the general "try again in a
    moment" sentence. Not audited: nothing was tried, and the database may be fine.
    """
    log.warning("refused a join: %s", problem)
    try:
        await peer.send(error("server_unavailable", fatal=True))
    except Exception:  # the client left first
        log.debug("could not answer a join refused as unavailable", exc_info=True)


async def database_unavailable(hub: SignalingHub, peer: Peer, slot: Slot, problem: Exception) -> None:
    """The database could not be reached while a join or rejoin was checked: "try again later".

    A PostgreSQL restart must not end a session: the answer is not fatal and carries
    ``retry_after``, and the socket closes with 1013, so an agent's reconnect loop tries its
    ``rejoin`` again while its grace lasts, and a first join shows the user "try again in a
    moment" with the code still unused (its transaction was rolled back). The attempt is
    forgiven: nothing was checked, so it is no failed try. One line in the log, no trace.
    """
    log.warning("agent join or rejoin deferred: database unavailable: %s", first_line(problem))
    try:
        await hub.limiter.forgive(slot)
    except LimiterUnavailable:  # then it stays counted, as a failed try would be
        log.debug("could not forgive a deferred join", exc_info=True)
    answer = Error(
        code="database_unavailable",
        message=_("The server cannot reach its database at the moment. Try again in a few seconds.")[:500],
        fatal=False,
        retry_after=RETRY_AFTER_SECONDS,
    )
    try:
        await peer.send(answer)
    except Exception:  # the client left first
        log.debug("could not answer a join deferred for the database", exc_info=True)
    await peer.close(CLOSE_TRY_AGAIN_LATER)


async def flush_refusals(hub: SignalingHub, *, everything: bool = False) -> None:
    """Write the summaries of the refusal windows that closed (all of them at shutdown)."""
    tallies = hub.refusals.due(everything=everything)
    if tallies:
        await txn.run(hub.db, lambda db: hub.refusals.write(db, tallies))


def joined_message(settings: Settings, session: RemoteSession) -> Joined:
    """What the agent is told at its join; ``device`` is filled for a session on a managed device
    (the agent acts on it only when its device service launched it, never on this alone)."""
    technician = session.technician
    return Joined(
        session_id=session.id,
        # The default name is a description ("veo support"): in the user's language (set above).
        organization=wording.organization(settings.organization),
        technician_name=wording.person(technician.name) if technician else "",
        ticket_id=session.ticket_id,
        ticket_title=session.ticket.title,
        requested=[Permission(p) for p in session.requested_permissions],
        # a browser share (the join page) gathers from every URL; the agent's aiortc from one each
        ice_servers=ice_servers(
            settings, session.id, peer="browser" if session.mode == "browser" else "agent"
        ),
        ice_transport_policy=settings.ice_transport_policy,
        device=device_session(None, session),
    )
