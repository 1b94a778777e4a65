"""State changes of a remote session, each with its audit event, in the caller's transaction.

Routes and the signaling hub call these inside ``Database.run``; nothing here knows about HTTP or
WebSockets. Statuses move ``waiting -> joined -> connecting -> active -> ended``; a code nobody
redeemed in time makes the session ``expired``. Transitions that are already done (ending an ended
session) are no-ops returning ``False``, so two racing peers never write two end events.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

from veo.protocol import codes
from veo.protocol.permissions import (
    DEFAULT_REQUEST,
    NEEDS_VIEW,
    Permission,
    beyond,
    effective_permissions,
    ordered,
)
from veo.protocol.signaling import IdentityMethod, TechnicianConfirmed
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.policies.service import RolePolicy, policy_for_user
from veo.server.sessions import policy_now
from veo.server.sessions.codes import code_digest, unique_live_code
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

EndedBy = Literal["technician", "user", "system"]
Client = Literal["agent", "browser"]
#: ``rejoin_refused``: a ``rejoin`` whose session id or token is wrong (counted as a wrong code).
RejectReason = Literal["unknown", "expired", "used", "rate_limited", "too_many_joins", "rejoin_refused"]
AGENT_ACTOR = "agent"
SYSTEM_ACTOR = "system"
LIVE_STATUSES = ("waiting", "joined", "connecting", "active")
NOTE_MAX_CHARS = 10_000
#: All a browser share can grant (``getDisplayMedia`` shows; nothing can act on the computer).
BROWSER_PERMISSIONS: tuple[str, ...] = (Permission.VIEW.value,)


class SessionError(Exception):
    """A request the session cannot satisfy; ``code`` is stable (``messages.py`` words it)."""

    def __init__(self, code: str, detail: str = "") -> None:
        super().__init__(code if not detail else f"{code}: {detail}")
        self.code = code
        self.detail = detail


def parse_permissions(raw: Iterable[str] | None) -> list[Permission]:
    """The technician's request: default view+control, known names only, extras need view."""
    if raw is None:
        return ordered(DEFAULT_REQUEST)
    chosen: set[Permission] = set()
    for name in raw:
        try:
            chosen.add(Permission(name))
        except ValueError:
            raise SessionError("invalid_permission", str(name)[:40]) from None
    if not chosen:
        raise SessionError("no_permission")
    if Permission.VIEW not in chosen and chosen & NEEDS_VIEW:
        raise SessionError("permission_needs_view")
    return ordered(chosen)


def within_policy(policy: RolePolicy, raw: Iterable[str] | None) -> list[Permission]:
    """The request a session may carry under ``policy``.

    An explicit request must fit the policy (``beyond_policy`` otherwise: the technician learns
    what they may not ask instead of a silently smaller session); the default request is cut down
    to the policy, and is refused only when nothing viewable is left.
    """
    requested = parse_permissions(raw)
    if raw is not None:
        extra = beyond(requested, policy.max_permissions)
        if extra:
            raise SessionError("beyond_policy", ", ".join(p.value for p in ordered(extra)))
        return requested
    allowed = ordered(effective_permissions(policy.max_permissions, requested))
    if not allowed:
        raise SessionError("beyond_policy", ", ".join(p.value for p in requested))
    return allowed


def record_beyond_policy(
    db: Session, *, ticket_id: int, technician: User, permissions: Iterable[str] | None, address: str = ""
) -> None:
    """A request the role's policy refused: audited in its own transaction (nothing else stored)."""
    policy = policy_for_user(db, technician)
    record(
        db,
        "session.beyond_policy",
        actor=technician.email,
        ticket_id=ticket_id if db.get(Ticket, ticket_id) is not None else None,
        address=address,
        details={
            "requested": sorted(str(p)[:40] for p in (permissions or ()))[:8],
            "role": policy.role,
            "allowed": [p.value for p in ordered(policy.max_permissions)],
        },
    )


def _lock_row(db: Session, session_id: str) -> None:
    """Take the session row's lock (a no-op UPDATE: see :func:`_locked`); reentrant in a transaction."""
    db.execute(
        update(RemoteSession)
        .where(RemoteSession.id == session_id)
        .values(status=RemoteSession.status)
        .execution_options(synchronize_session=False)
    )


def _locked(db: Session, session_id: str) -> RemoteSession | None:
    """The session row, locked until the transaction ends, read AFTER taking the lock.

    A no-op UPDATE comes first: it takes PostgreSQL's row lock and SQLite's write lock (pysqlite
    starts the transaction only at the first write, so a plain SELECT ... FOR UPDATE would read
    outside it and two racing transitions could both apply). The row is then read fresh.
    """
    _lock_row(db, session_id)
    stmt = (
        select(RemoteSession)
        .options(lazyload("*"))
        .where(RemoteSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.scalars(stmt).first()


def _require(db: Session, session_id: str) -> RemoteSession:
    session = _locked(db, session_id)
    if session is None:
        raise SessionError("session_not_found")
    return session


def get_session(db: Session, session_id: str) -> RemoteSession | None:
    return db.get(RemoteSession, session_id)


def create_session(
    db: Session,
    *,
    ticket_id: int,
    technician: User,
    permissions: Iterable[str] | None,
    ttl_seconds: int,
    address: str = "",
) -> RemoteSession:
    ticket = db.get(Ticket, ticket_id)
    if ticket is None:
        raise SessionError("ticket_not_found")
    policy = policy_for_user(db, technician)
    requested = within_policy(policy, permissions)
    code = unique_live_code(db)
    session = RemoteSession(
        id=str(uuid.uuid4()),
        ticket_id=ticket.id,
        technician_id=technician.id,
        code=code,  # stored as its keyed digests and a sealed copy (models.RemoteSession.code)
        code_expires_at=utcnow() + timedelta(seconds=ttl_seconds),
        status="waiting",
        requested_permissions=[p.value for p in requested],
        granted_permissions=[],
        identity_required=policy.identity_before_control,
        resume_grace_seconds=policy.resume_grace_seconds,
    )
    db.add(session)
    db.flush()
    record(
        db,
        "session.requested",
        actor=technician.email,
        ticket_id=ticket.id,
        session_id=session.id,
        address=address,
        details={
            "requested": session.requested_permissions,
            "identity_required": session.identity_required,
            "code_expires_at": session.code_expires_at.isoformat(),
        },
    )
    return session


def _expire(db: Session, session: RemoteSession) -> None:
    session.status = "expired"
    session.code = None
    record(
        db,
        "session.expired",
        actor=SYSTEM_ACTOR,
        ticket_id=session.ticket_id,
        session_id=session.id,
    )


def redeem_code(
    db: Session,
    raw_code: str,
    *,
    address: str,
    platform: str = "",
    now: datetime | None = None,
    client: Client = "agent",
) -> RemoteSession | RejectReason:
    """Join with a code: the session (now ``joined``, code cleared) or why the code was refused.

    ``client="browser"`` records a browser share (the join page, view only) as the session's mode.
    """
    now = now or utcnow()
    code = codes.digits_of(raw_code)
    digest = code_digest(code)
    candidate = db.scalar(select(RemoteSession.id).where(RemoteSession.live_code_digest == digest))
    live = _locked(db, candidate) if candidate is not None else None
    if live is not None and live.live_code_digest != digest:  # redeemed or expired while we looked
        live = None
    if live is not None and live.status == "waiting" and live.code_expires_at > now:
        live.code = None
        live.status = "joined"
        live.joined_at = now
        live.agent_address = address[:64]
        live.agent_platform = platform[:60]
        live.mode = client
        record(
            db,
            "session.joined",
            actor=AGENT_ACTOR,
            ticket_id=live.ticket_id,
            session_id=live.id,
            address=address,
            details={"platform": live.agent_platform, "mode": client},
        )
        return live
    if live is not None:
        if live.status == "waiting":
            _expire(db, live)
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
    if past is None:
        return "unknown"
    return "expired" if past.status == "expired" else "used"


def record_rejected(db: Session, *, address: str, reason: RejectReason) -> None:
    """A refused code: who tried and why; never the code itself."""
    record(db, "session.code_rejected", actor=AGENT_ACTOR, address=address, details={"reason": reason})


def record_offer(db: Session, session_id: str) -> bool:
    """The agent sent its offer: ``joined -> connecting``. False if not in ``joined``."""
    session = _require(db, session_id)
    if session.status != "joined":
        return False
    session.status = "connecting"
    record(db, "session.negotiating", actor=AGENT_ACTOR, ticket_id=session.ticket_id, session_id=session.id)
    return True


def record_consent(
    db: Session, session_id: str, *, granted_by_user: Iterable[str], sas_confirmed: bool
) -> RemoteSession:
    """The user pressed Allow: the grant is what was requested AND ticked AND the technician's role
    allows now (it may have been cut since the code was issued); the session is active.

    What the user ticked beyond the current policy is not recorded; the caller ends the session
    when the agent holds such a permission (``steps.consent``).
    """
    session = _require(db, session_id)
    if session.status not in ("joined", "connecting"):
        raise SessionError("out_of_order", session.status)
    layers: list[Iterable[str]] = [
        session.requested_permissions,
        granted_by_user,
        policy_now.allowed_now(db, session),
    ]
    if session.mode == "browser":
        layers.append(BROWSER_PERMISSIONS)  # a browser can only show the screen
    granted = ordered(effective_permissions(*layers))
    session.granted_permissions = [p.value for p in granted]
    session.sas_confirmed = sas_confirmed
    # An upgraded browser share keeps its start: the consent record is extended, not restarted.
    session.started_at = session.started_at or utcnow()
    session.status = "active"
    details: dict[str, object] = {"granted": session.granted_permissions, "sas_confirmed": sas_confirmed}
    if session.mode == "browser" or session.upgraded_at is not None:
        details["mode"] = session.mode
    if session.upgraded_at is not None:
        details["extends"] = "browser_share"  # the same session's consent, now given on the agent
    record(
        db,
        "session.consented",
        actor=AGENT_ACTOR,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=session.agent_address,
        details=details,
    )
    return session


def _finish(session: RemoteSession, *, by: EndedBy, reason: str) -> None:
    session.status = "ended"
    session.code = None
    session.live_continuation_digest = None
    session.ended_at = utcnow()
    session.ended_by = by
    session.end_reason = reason[:200]


def record_deny(db: Session, session_id: str) -> bool:
    """The user pressed Deny: the request ends, by the user."""
    session = _require(db, session_id)
    if session.status not in LIVE_STATUSES:
        return False
    _finish(session, by="user", reason="denied")
    record(
        db,
        "session.denied",
        actor=AGENT_ACTOR,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=session.agent_address,
    )
    return True


def record_control(db: Session, session_id: str, *, paused: bool) -> bool:
    session = _require(db, session_id)
    if session.status != "active":
        return False
    session.control_paused = paused
    record(
        db,
        "session.control_paused" if paused else "session.control_resumed",
        actor=AGENT_ACTOR,
        ticket_id=session.ticket_id,
        session_id=session.id,
    )
    return True


def mismatch_end_reason(reported: str, declared_by: Literal["technician", "user"]) -> str:
    """How a mismatch ends the session: a wrong commitment, or codes that differ (and who said so)."""
    if reported == "sas_commitment_mismatch":
        return "sas_commitment_mismatch"
    return "sas_mismatch" if declared_by == "technician" else "sas_mismatch_user"


def record_sas_mismatch(
    db: Session,
    session_id: str,
    *,
    reason: str,
    actor: str,
    declared_by: Literal["technician", "user"] = "technician",
) -> str | None:
    """A wrong commitment, or codes that differ: suspected interception, the session ends at once.

    Returns the end reason, or None when the session had already ended.
    """
    session = _require(db, session_id)
    if session.status not in LIVE_STATUSES:
        return None
    end_reason = mismatch_end_reason(reason, declared_by)
    _finish(session, by="system", reason=end_reason)
    record(
        db,
        "session.sas_mismatch",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=session.agent_address if declared_by == "user" else "",
        details={"reported": reason, "declared_by": declared_by},
    )
    return end_reason


def technician_confirmation(session: RemoteSession) -> TechnicianConfirmed:
    """What the agent must know of the technician's checks before it lets control through."""
    return TechnicianConfirmed(
        sas_confirmed=session.technician_sas_confirmed,
        identity_required=session.identity_required,
        identity_confirmed=session.identity_confirmed,
    )


def record_technician_sas(db: Session, session_id: str, *, actor: str, address: str = "") -> RemoteSession:
    """The technician clicked "Codes match" (once; a repeat changes nothing and writes nothing)."""
    session = _require(db, session_id)
    if session.status not in ("connecting", "active"):
        raise SessionError("out_of_order", session.status)
    if not session.technician_sas_confirmed:
        session.technician_sas_confirmed = True
        record(
            db,
            "session.sas_confirmed_by_technician",
            actor=actor,
            ticket_id=session.ticket_id,
            session_id=session.id,
            address=address,
        )
    return session


def record_identity(
    db: Session, session_id: str, *, method: IdentityMethod, actor: str, address: str = ""
) -> RemoteSession:
    """How the technician confirmed the user's identity; each (re)statement is audited."""
    session = _require(db, session_id)
    if session.status not in LIVE_STATUSES:
        raise SessionError("session_ended")
    session.identity_confirmation = method
    session.identity_confirmed_at = utcnow()
    record(
        db,
        "session.identity_confirmed",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details={"method": method, "required": session.identity_required},
    )
    return session


def end_session(
    db: Session,
    session_id: str,
    *,
    by: EndedBy,
    reason: str,
    actor: str,
    address: str = "",
    details: Mapping[str, object] | None = None,
) -> bool:
    """End a live session; False when it had already ended (nothing written).

    ``details`` adds to the audit event's (e.g. whose access was cut off, and why).
    """
    session = _require(db, session_id)
    if session.status not in LIVE_STATUSES:
        return False
    _finish(session, by=by, reason=reason)
    record(
        db,
        "session.ended",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details={
            "by": by,
            "reason": session.end_reason,
            "duration_seconds": session.duration_seconds,
            "granted": session.granted_permissions,
            **(details or {}),
        },
    )
    return True


def end_where(
    db: Session,
    session_ids: Iterable[str],
    decide: Callable[[RemoteSession], str | None],
    *,
    details: Mapping[str, object] | None = None,
) -> list[tuple[str, str]]:
    """End, by ``system``, each live session of ``session_ids`` for which ``decide`` gives a reason.

    Every row is locked before the first audit append (as :func:`expire_waiting` does, for the
    same deadlock). Returns ``(session id, reason)`` of each session ended here.
    """
    ids = sorted(set(session_ids))
    for session_id in ids:
        _lock_row(db, session_id)
    ended: list[tuple[str, str]] = []
    for session_id in ids:
        session = _locked(db, session_id)
        if session is None or session.status not in LIVE_STATUSES:
            continue
        reason = decide(session)
        if reason is not None and end_session(
            db, session_id, by="system", reason=reason, actor=SYSTEM_ACTOR, details=details
        ):
            ended.append((session_id, reason))
    return ended


def add_note(db: Session, session_id: str, *, note: str, actor: str) -> RemoteSession:
    """The technician's resolution note (replaces an earlier one; each version is audited)."""
    text = note.strip()
    if not text:
        raise SessionError("note_empty")
    if len(text) > NOTE_MAX_CHARS:
        raise SessionError("note_too_long")
    session = _require(db, session_id)
    session.resolution_note = text
    record(
        db,
        "session.note",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        details={"length": len(text)},
    )
    return session


def expire_waiting(db: Session, now: datetime | None = None) -> list[str]:
    """Mark every waiting session whose code ran out as expired; their ids."""
    now = now or utcnow()
    candidates = db.scalars(
        select(RemoteSession.id)
        .where(RemoteSession.status == "waiting", RemoteSession.code_expires_at <= now)
        .order_by(RemoteSession.id)
    ).all()
    # Lock every candidate before the first audit append: ``record`` takes the audit lock, and a
    # redemption holding one of these rows while waiting for that lock would deadlock with us.
    for session_id in candidates:
        _lock_row(db, session_id)
    expired: list[str] = []
    for session_id in candidates:
        session = _locked(db, session_id)
        if session is not None and session.status == "waiting" and session.code_expires_at <= now:
            _expire(db, session)
            expired.append(session.id)
    return expired


# ---------------------------------------------------------------- browser share -> agent


def issue_continuation(
    db: Session, session_id: str, *, ttl_seconds: int, address: str = "", now: datetime | None = None
) -> tuple[RemoteSession, str]:
    """A fresh single-use code with which ``veo agent`` continues THIS browser share: the session
    and the code, which the caller sends to the share at once; only its digests are stored.

    Only an active browser share gets one; a new request replaces the previous code (one live
    code per session). The code itself is never written to the audit log.
    """
    now = now or utcnow()
    session = _require(db, session_id)
    if session.mode != "browser" or session.status != "active":
        raise SessionError("out_of_order", session.status)
    code = unique_live_code(db)
    session.continuation_digest = session.live_continuation_digest = code_digest(code)
    session.continuation_expires_at = now + timedelta(seconds=ttl_seconds)
    record(
        db,
        "session.continuation_issued",
        actor=AGENT_ACTOR,
        ticket_id=session.ticket_id,
        session_id=session.id,
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
    session = _locked(db, candidate)
    if session is None or session.live_continuation_digest != digest:  # used or replaced while we looked
        return None
    session.live_continuation_digest = None
    expires = session.continuation_expires_at
    if expires is None or expires <= now or session.status not in LIVE_STATUSES:
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
    record(
        db,
        "session.upgraded",
        actor=AGENT_ACTOR,
        ticket_id=session.ticket_id,
        session_id=session.id,
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
    end_session(db, session.id, by="system", reason=policy_now.POLICY_CHANGED, actor=SYSTEM_ACTOR)
    return "expired"


def redeem(
    db: Session,
    raw_code: str,
    *,
    address: str,
    platform: str = "",
    client: Client = "agent",
    now: datetime | None = None,
) -> tuple[RemoteSession, bool] | RejectReason:
    """A join code, or a continuation code: ``(session, upgraded)`` or why it was refused.

    Both kinds are refused with the same reasons (unknown, expired, used), so a guesser learns
    nothing about which kind a number would have been.
    """
    now = now or utcnow()
    code = codes.digits_of(raw_code)
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
