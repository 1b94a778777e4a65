"""State changes of a remote session, each with its audit event, in the caller's transaction.

Routes and the signaling hub call these inside ``Database.run``; nothing here knows about HTTP or
WebSockets. Statuses move ``waiting -> joined -> connecting -> active -> ended``; a code nobody
redeemed in time makes the session ``expired``. Transitions that are already done (ending an ended
session) are no-ops returning ``False``, so two racing peers never write two end events.

Neighbours with a subject of their own: ``redeem.py`` (a join or continuation code becomes a
joined session) and ``interruptions.py`` (a lost connection and its return). They take the row
lock with :func:`locked` and write their events with :func:`audit`, as this module does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select, update
from sqlalchemy.orm import Session, lazyload

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
from veo.server.sessions.codes import unique_live_code
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

EndedBy = Literal["technician", "user", "system"]
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


def audit(
    db: Session,
    session: RemoteSession,
    action: str,
    *,
    actor: str,
    address: str = "",
    details: Mapping[str, object] | None = None,
) -> None:
    """Append ``action`` about ``session`` to the audit log (its ticket and id filled in)."""
    record(
        db,
        action,
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details=dict(details) if details is not None else None,
    )


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


def lock_row(db: Session, session_id: str) -> None:
    """Take the session row's lock (a no-op UPDATE: see :func:`locked`); reentrant in a transaction."""
    db.execute(
        update(RemoteSession)
        .where(RemoteSession.id == session_id)
        .values(status=RemoteSession.status)
        .execution_options(synchronize_session=False)
    )


def locked(db: Session, session_id: str) -> RemoteSession | None:
    """The session row, locked until the transaction ends, read AFTER taking the lock.

    A no-op UPDATE comes first: it takes PostgreSQL's row lock and SQLite's write lock (pysqlite
    starts the transaction only at the first write, so a plain SELECT ... FOR UPDATE would read
    outside it and two racing transitions could both apply). The row is then read fresh.
    """
    lock_row(db, session_id)
    stmt = (
        select(RemoteSession)
        .options(lazyload("*"))
        .where(RemoteSession.id == session_id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    return db.scalars(stmt).first()


def require(db: Session, session_id: str) -> RemoteSession:
    session = locked(db, session_id)
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
    device_id: str | None = None,
    device_name: str = "",
    device_policy: str | None = None,
    access_reason: str = "",
) -> RemoteSession:
    """A waiting session with a fresh join code, audited ``session.requested``.

    A session on a managed device (issue 17, ``devices/connect.py``) names the device, the mode
    that applied and the technician's reason; the device is authenticated by its key, so its
    identity counts as confirmed (``managed_device``) from the start.
    """
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
    details: dict[str, object] = {
        "requested": session.requested_permissions,
        "identity_required": session.identity_required,
        "code_expires_at": session.code_expires_at.isoformat(),
    }
    if device_id is not None:
        session.device_id = device_id
        session.device_policy = device_policy
        session.access_reason = access_reason
        session.identity_confirmation = "managed_device"
        session.identity_confirmed_at = utcnow()
        details |= {
            "device_id": device_id,
            "device_name": device_name,
            "policy": device_policy,
            "reason": access_reason,
        }
    db.add(session)
    db.flush()
    audit(db, session, "session.requested", actor=technician.email, address=address, details=details)
    return session


def mark_expired(db: Session, session: RemoteSession) -> None:
    session.status = "expired"
    session.code = None
    audit(
        db,
        session,
        "session.expired",
        actor=SYSTEM_ACTOR,
    )


def record_offer(db: Session, session_id: str) -> bool:
    """The agent sent its offer: ``joined -> connecting``. False if not in ``joined``."""
    session = require(db, session_id)
    if session.status != "joined":
        return False
    session.status = "connecting"
    audit(db, session, "session.negotiating", actor=AGENT_ACTOR)
    return True


def record_consent(
    db: Session, session_id: str, *, granted_by_user: Iterable[str], sas_confirmed: bool
) -> RemoteSession:
    """The user pressed Allow: the grant is what was requested AND ticked AND the technician's role
    allows now (it may have been cut since the code was issued); the session is active.

    What the user ticked beyond the current policy is not recorded; the caller ends the session
    when the agent holds such a permission (``steps.consent``).
    """
    session = require(db, session_id)
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
    if session.device_id is not None:
        details["device_id"] = session.device_id
        details["policy"] = session.device_policy
        # notify/unattended: the agent consents by itself (no dialog, so no codes compared)
        details["automatic"] = session.device_policy in ("notify", "unattended") and not sas_confirmed
    if session.mode == "browser" or session.upgraded_at is not None:
        details["mode"] = session.mode
    if session.upgraded_at is not None:
        details["extends"] = "browser_share"  # the same session's consent, now given on the agent
    audit(
        db,
        session,
        "session.consented",
        actor=AGENT_ACTOR,
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
    session = require(db, session_id)
    if session.status not in LIVE_STATUSES:
        return False
    _finish(session, by="user", reason="denied")
    audit(
        db,
        session,
        "session.denied",
        actor=AGENT_ACTOR,
        address=session.agent_address,
    )
    return True


def record_control(db: Session, session_id: str, *, paused: bool) -> bool:
    session = require(db, session_id)
    if session.status != "active":
        return False
    session.control_paused = paused
    audit(db, session, "session.control_paused" if paused else "session.control_resumed", actor=AGENT_ACTOR)
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
    session = require(db, session_id)
    if session.status not in LIVE_STATUSES:
        return None
    end_reason = mismatch_end_reason(reason, declared_by)
    _finish(session, by="system", reason=end_reason)
    audit(
        db,
        session,
        "session.sas_mismatch",
        actor=actor,
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
    session = require(db, session_id)
    if session.status not in ("connecting", "active"):
        raise SessionError("out_of_order", session.status)
    if not session.technician_sas_confirmed:
        session.technician_sas_confirmed = True
        audit(
            db,
            session,
            "session.sas_confirmed_by_technician",
            actor=actor,
            address=address,
        )
    return session


def record_identity(
    db: Session, session_id: str, *, method: IdentityMethod, actor: str, address: str = ""
) -> RemoteSession:
    """How the technician confirmed the user's identity; each (re)statement is audited."""
    session = require(db, session_id)
    if session.status not in LIVE_STATUSES:
        raise SessionError("session_ended")
    session.identity_confirmation = method
    session.identity_confirmed_at = utcnow()
    audit(
        db,
        session,
        "session.identity_confirmed",
        actor=actor,
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
    session = require(db, session_id)
    if session.status not in LIVE_STATUSES:
        return False
    _finish(session, by=by, reason=reason)
    audit(
        db,
        session,
        "session.ended",
        actor=actor,
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
        lock_row(db, session_id)
    ended: list[tuple[str, str]] = []
    for session_id in ids:
        session = locked(db, session_id)
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
    session = require(db, session_id)
    session.resolution_note = text
    audit(
        db,
        session,
        "session.note",
        actor=actor,
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
        lock_row(db, session_id)
    expired: list[str] = []
    for session_id in candidates:
        session = locked(db, session_id)
        if session is not None and session.status == "waiting" and session.code_expires_at <= now:
            mark_expired(db, session)
            expired.append(session.id)
    return expired
