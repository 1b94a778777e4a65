"""The durable side of resuming a session: the rejoin token, interruptions, and their audit events.

A session whose connection is lost is *interrupted*: ``resume_deadline`` is set to the loss plus
the session's grace period (copied from the role's policy when it was created) and
``session.interrupted`` is written once for the interruption, whatever else is lost meanwhile.
It ends by ``system``, ``connection_lost``, when the deadline passes (:func:`end_lost`, which
checks the deadline again in its own transaction, so a timer that lost a race with a resume ends
nothing), or ``resume_failed`` once :data:`~veo.protocol.resume.MAX_BAD_PROOFS` resume proofs
were refused. The deadline lives here rather than in the runtime store so that a restarted server
or a lost store keeps it instead of granting a new one. Every transition locks the session's row
and checks it again, so two nodes acting at once (two liveness sweeps, a timer and a sweep) write
one interruption and one end.

The hub's side (timers, relays, which message may come) is ``resuming.py``; the transitions here
run in the caller's transaction, like ``service.py``'s.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal, get_args

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.resume import MAX_BAD_PROOFS
from veo.server.audit.models import AuditEvent
from veo.server.db.base import utcnow
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import Link
from veo.server.sessions.service import (
    AGENT_ACTOR,
    LIVE_STATUSES,
    SYSTEM_ACTOR,
    audit,
    end_session,
    locked,
)

#: Sessions a peer may be connected to (a waiting one has no agent yet).
CONNECTED_STATUSES = ("joined", "connecting", "active")
VerifiedBy = Literal["proof", "code", "connection_kept", "rejoined"]
REJOINED: VerifiedBy = "rejoined"


def token_digest(token: str) -> str:
    """What is stored of a rejoin token: its SHA-256 (the token is 32 random bytes, no key needed)."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue_token(session: RemoteSession) -> str:
    """A fresh rejoin token for the agent that just joined ``session``; only its digest is kept."""
    token = secrets.token_urlsafe(32)
    session.resume_token_digest = token_digest(token)
    return token


def find_for_rejoin(db: Session, session_id: str, token: str) -> RemoteSession | None:
    """The session ``token`` proves, or None when the id or the token is wrong (never which one)."""
    session = db.get(RemoteSession, session_id)
    expected = session.resume_token_digest if session is not None else None
    # compared even without a session, so that the time taken says nothing about the id
    matches = hmac.compare_digest(expected or "0" * 64, token_digest(token))
    return session if session is not None and expected is not None and matches else None


def record_interrupted(
    db: Session, session_id: str, *, cause: str, link: Link, now: datetime | None = None
) -> RemoteSession | None:
    """Start an interruption (audited) or keep the one under way; None when the session is over."""
    session = locked(db, session_id)
    if session is None or session.status not in CONNECTED_STATUSES:
        return None
    if session.resume_deadline is not None:  # already interrupted: one event per interruption
        return session
    now = now or utcnow()
    session.resume_deadline = now + timedelta(seconds=session.resume_grace_seconds)
    audit(
        db,
        session,
        "session.interrupted",
        actor=AGENT_ACTOR if link == "media" else SYSTEM_ACTOR,
        details={
            "cause": cause,
            "link": link,
            "grace_seconds": session.resume_grace_seconds,
            "deadline": session.resume_deadline.isoformat(),
        },
    )
    return session


def interruption_link(db: Session, session_id: str) -> Link | None:
    """Which connection the session's interruption under way lost, as its ``session.interrupted``
    event says (the last one); None when no event names a known link.

    The deadline is in the session's row, the link only in that event: a state rebuilt from the
    database (the store lost it) must not turn a lost peer connection, which only a resume proof
    ends, into a server's, which a node claiming the agent's socket back ends.
    """
    details = db.scalar(
        select(AuditEvent.details)
        .where(AuditEvent.session_id == session_id, AuditEvent.action == "session.interrupted")
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    )
    link = details.get("link") if isinstance(details, dict) else None
    return link if link in get_args(Link) else None


@dataclass(frozen=True)
class Connected:
    """What the liveness sweep needs of a session a peer may be connected to."""

    id: str
    resume_deadline: datetime | None


def connected_sessions(db: Session) -> list[Connected]:
    """Every session a peer may be connected to, for the liveness sweep (``liveness.py``)."""
    rows = db.execute(
        select(RemoteSession.id, RemoteSession.resume_deadline)
        .where(RemoteSession.status.in_(CONNECTED_STATUSES))
        .order_by(RemoteSession.id)
    ).all()
    return [Connected(row.id, row.resume_deadline) for row in rows]


def record_resumed(
    db: Session, session_id: str, *, verified_by: VerifiedBy, now: datetime | None = None
) -> RemoteSession | None:
    """The connection is back: the interruption ends (audited with how long it lasted).

    ``connection_kept`` and ``rejoined`` only end an interruption under way (None otherwise, nothing
    written); a new peer connection accepted by proof or code is audited even without one.
    """
    session = locked(db, session_id)
    if session is None or session.status not in LIVE_STATUSES:
        return None
    deadline = session.resume_deadline
    if deadline is None and verified_by in ("connection_kept", REJOINED):
        return None
    now = now or utcnow()
    details: dict[str, object] = {"verified_by": verified_by}
    if deadline is not None:
        lost_at = deadline - timedelta(seconds=session.resume_grace_seconds)
        details["seconds"] = max(0, round((now - lost_at).total_seconds()))
    session.resume_deadline = None
    audit(
        db,
        session,
        "session.resumed",
        actor=AGENT_ACTOR,
        details=details,
    )
    return session


def record_reverify(db: Session, session_id: str) -> RemoteSession | None:
    """The new connection's console had no resume key: the technician must confirm a new code."""
    session = locked(db, session_id)
    if session is None or session.status != "active":
        return None
    session.technician_sas_confirmed = False
    audit(
        db,
        session,
        "session.reverify_requested",
        actor=AGENT_ACTOR,
    )
    return session


def record_resume_refused(
    db: Session,
    session_id: str,
    *,
    reason: str,
    by: Literal["agent", "console"],
    actor: str,
    address: str = "",
) -> bool:
    """A resume proof was refused (audited, counted); True when this one ended the session."""
    session = locked(db, session_id)
    if session is None or session.status not in LIVE_STATUSES:
        return False
    session.resume_failures += 1
    audit(
        db,
        session,
        "session.resume_refused",
        actor=actor,
        address=address,
        details={"reason": reason, "by": by, "failures": session.resume_failures},
    )
    if session.resume_failures < MAX_BAD_PROOFS:
        return False
    return end_session(
        db,
        session_id,
        by="system",
        reason="resume_failed",
        actor=SYSTEM_ACTOR,
        details={"failures": session.resume_failures},
    )


def end_lost(db: Session, session_id: str, now: datetime | None = None) -> bool:
    """End an interrupted session whose deadline passed (``connection_lost``); False otherwise."""
    session = locked(db, session_id)
    if session is None or session.status not in LIVE_STATUSES:
        return False
    deadline = session.resume_deadline
    if deadline is None or deadline > (now or utcnow()):
        return False
    return end_session(
        db,
        session_id,
        by="system",
        reason="connection_lost",
        actor=SYSTEM_ACTOR,
        details={"grace_seconds": session.resume_grace_seconds},
    )
