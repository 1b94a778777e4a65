"""Code redemption: a join code, or the continuation code of a browser share, becomes a joined session.

Both kinds of code are looked up by their keyed digest (``codes.py``, ``code_secret.py``) and
refused with the same reasons (unknown, expired, used), so a guesser learns nothing about which
kind a number would have been; the join limiter and the refusal log (``join.py``) sit in front.
A redeemed request is cut to the role's policy of now (``policy_now.py``). The lifecycle after
joining is ``service.py``'s.

A managed device's session is redeemed only by the device's own join: the agent's ``join``
carrying the secret the device was sent (``device_secret.py``). Any other join with its code, and
a join carrying a device secret for any other session, is refused exactly as an unknown code
(counted by the limiter, nothing touched, nothing learnt): the code alone is worth nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session, lazyload

from veo.protocol import codes
from veo.server.audit.service import record
from veo.server.db.base import utcnow
from veo.server.sessions import device_secret as binding
from veo.server.sessions import policy_now, service
from veo.server.sessions.codes import code_digest, unique_live_code
from veo.server.sessions.models import RemoteSession

Client = Literal["agent", "browser"]
#: ``rejoin_refused``: a ``rejoin`` whose session id or token is wrong (counted as a wrong code).
RejectReason = Literal["unknown", "expired", "used", "rate_limited", "too_many_joins", "rejoin_refused"]


def redeem_code(
    db: Session,
    raw_code: str,
    *,
    address: str,
    platform: str = "",
    now: datetime | None = None,
    client: Client = "agent",
    device_secret: str | None = None,
) -> RemoteSession | RejectReason:
    """Join with a code: the session (now ``joined``, code cleared) or why the code was refused.

    ``client="browser"`` records a browser share (the join page, view only) as the session's mode.
    ``device_secret``: the secret of a managed device's ``session_request``; a device session's
    code is redeemed only with it, any other only without it (else ``unknown``, nothing changed).
    """
    now = now or utcnow()
    code = codes.digits_of(raw_code)
    digest = code_digest(code)
    candidate = db.scalar(select(RemoteSession.id).where(RemoteSession.live_code_digest == digest))
    live = service.locked(db, candidate) if candidate is not None else None
    if live is not None and live.live_code_digest != digest:  # redeemed or expired while we looked
        live = None
    if live is not None and not binding.admits(live, device_secret, client):
        return "unknown"  # not this session's join: as if the code did not exist, nothing touched
    if live is not None and live.status == "waiting" and live.code_expires_at > now:
        live.code = None
        live.status = "joined"
        live.joined_at = now
        live.agent_address = address[:64]
        live.agent_platform = platform[:60]
        live.mode = client
        service.audit(
            db,
            live,
            "session.joined",
            actor=service.AGENT_ACTOR,
            address=address,
            details={"platform": live.agent_platform, "mode": client},
        )
        return live
    if live is not None:
        if live.status == "waiting":
            service.mark_expired(db, live)
        else:  # a live code on a session past waiting: clear it, it must never work
            live.code = None
        return "expired" if live.status == "expired" else "used"
    past = db.scalars(
        select(RemoteSession)
        .options(lazyload("*"))
        .where(RemoteSession.code_digest == digest)
        .order_by(RemoteSession.created_at.desc())
        .limit(1)
    ).first()
    if past is None or not binding.admits(past, device_secret, client):
        return "unknown"
    return "expired" if past.status == "expired" else "used"


def record_rejected(db: Session, *, address: str, reason: RejectReason) -> None:
    """A refused code: who tried and why; never the code itself."""
    record(
        db, "session.code_rejected", actor=service.AGENT_ACTOR, address=address, details={"reason": reason}
    )


def issue_continuation(
    db: Session, session_id: str, *, ttl_seconds: int, address: str = "", now: datetime | None = None
) -> tuple[RemoteSession, str]:
    """A fresh single-use code with which ``veo agent`` continues THIS browser share: the session
    and the code, which the caller sends to the share at once; only its digests are stored.

    Only an active browser share gets one; a new request replaces the previous code (one live
    code per session). The code itself is never written to the audit log.
    """
    now = now or utcnow()
    session = service.require(db, session_id)
    if session.mode != "browser" or session.status != "active":
        raise service.SessionError("out_of_order", session.status)
    code = unique_live_code(db)
    session.continuation_digest = session.live_continuation_digest = code_digest(code)
    session.continuation_expires_at = now + timedelta(seconds=ttl_seconds)
    service.audit(
        db,
        session,
        "session.continuation_issued",
        actor=service.AGENT_ACTOR,
        address=address,
        details={"expires_at": session.continuation_expires_at.isoformat()},
    )
    return session, code


def _continue(
    db: Session, code: str, *, address: str, platform: str, client: Client, now: datetime
) -> RemoteSession | RejectReason | None:
    """The agent joins with a continuation code: the SAME session goes back to ``joined`` in
    agent mode (a new connection: the user consents again, both codes are checked again).
    None when ``code`` is no live continuation code."""
    digest = code_digest(code)
    candidate = db.scalar(select(RemoteSession.id).where(RemoteSession.live_continuation_digest == digest))
    if candidate is None:
        return None
    session = service.locked(db, candidate)
    if session is None or session.live_continuation_digest != digest:  # used or replaced while we looked
        return None
    session.live_continuation_digest = None
    expires = session.continuation_expires_at
    if expires is None or expires <= now or session.status not in service.LIVE_STATUSES:
        return "expired"
    if client != "agent" or session.mode != "browser":
        return "used"
    session.mode = "agent"
    session.upgraded_at = now
    session.status = "joined"
    session.sas_confirmed = False
    session.technician_sas_confirmed = False
    session.control_paused = False
    session.agent_address = address[:64]
    session.agent_platform = platform[:60]
    service.audit(
        db,
        session,
        "session.upgraded",
        actor=service.AGENT_ACTOR,
        address=address,
        details={
            "from": "browser",
            "platform": session.agent_platform,
            "granted": session.granted_permissions,
        },
    )
    return session


def _under_current_policy(
    db: Session, session: RemoteSession, upgraded: bool
) -> tuple[RemoteSession, bool] | RejectReason:
    """A redeemed session's request cut to the role's policy of NOW, not of when the code was issued.

    A role left with nothing to view ends the session (``policy_changed``); the code then counts
    as expired for the person holding it, who can only ask for a new one.
    """
    if policy_now.narrow_request(db, session):
        return session, upgraded
    service.end_session(
        db, session.id, by="system", reason=policy_now.POLICY_CHANGED, actor=service.SYSTEM_ACTOR
    )
    return "expired"


def redeem(
    db: Session,
    raw_code: str,
    *,
    address: str,
    platform: str = "",
    client: Client = "agent",
    now: datetime | None = None,
    device_secret: str | None = None,
) -> tuple[RemoteSession, bool] | RejectReason:
    """A join code, or a continuation code: ``(session, upgraded)`` or why it was refused.

    Both kinds are refused with the same reasons (unknown, expired, used), so a guesser learns
    nothing about which kind a number would have been. A join carrying ``device_secret`` is a
    managed device's: only a device session's join code, with its secret, is redeemed for it.
    """
    now = now or utcnow()
    code = codes.digits_of(raw_code)
    if device_secret is not None:  # never a continuation code (no browser share is a device's)
        outcome = redeem_code(
            db, code, address=address, platform=platform, now=now, client=client, device_secret=device_secret
        )
        return outcome if isinstance(outcome, str) else _under_current_policy(db, outcome, False)
    continued = _continue(db, code, address=address, platform=platform, client=client, now=now)
    if isinstance(continued, RemoteSession):
        return _under_current_policy(db, continued, True)
    if continued is not None:
        return continued
    outcome = redeem_code(db, code, address=address, platform=platform, now=now, client=client)
    if not isinstance(outcome, str):
        return _under_current_policy(db, outcome, False)
    if outcome == "unknown":
        past = db.scalar(
            select(RemoteSession.id).where(RemoteSession.continuation_digest == code_digest(code)).limit(1)
        )
        if past is not None:
            return "used"
    return outcome
