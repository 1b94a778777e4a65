"""Appending to the audit log: every step of the support protocol is one event.

Each event stores the SHA-256 of the previous event's hash and its own canonical content, so an
edit, deletion or reordering breaks the chain where it happened (``veo audit verify`` finds it).
Appends are serialized by a lock taken before the head is read (``lock.py``), so concurrent
writers queue instead of colliding on the unique ``seq``; the unique constraint stays as the
last line of defence. A due checkpoint is signed in the same transaction (``checkpoints.py``).
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.audit import checkpoints
from veo.server.audit.lock import serialize_appends
from veo.server.audit.models import AuditEvent
from veo.server.db.base import utcnow

GENESIS = "0" * 64


def canonical(
    seq: int,
    at: datetime,
    actor: str,
    action: str,
    ticket_id: int | None,
    session_id: str | None,
    address: str,
    details: dict[str, Any],
) -> bytes:
    """The exact bytes an entry's hash covers; stable across databases and Python versions."""
    body = {
        "seq": seq,
        "at": at.isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "ticket_id": ticket_id,
        "session_id": session_id,
        "address": address,
        "details": details,
    }
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(prev_hash: str, content: bytes) -> str:
    return hashlib.sha256(prev_hash.encode() + content).hexdigest()


def record(
    db: Session,
    action: str,
    *,
    actor: str,
    ticket_id: int | None = None,
    session_id: str | None = None,
    address: str = "",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event inside the caller's transaction (which then holds the audit lock).

    ``details`` must be JSON; it is stored as its JSON round trip, so that the hash computed
    now is the hash the verifier recomputes from what the database gives back.
    """
    details = json.loads(json.dumps(details or {}, ensure_ascii=False))
    serialize_appends(db)
    head = db.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
    at = utcnow()
    content = canonical(seq, at, actor, action, ticket_id, session_id, address, details)
    event = AuditEvent(
        seq=seq,
        at=at,
        actor=actor,
        action=action,
        ticket_id=ticket_id,
        session_id=session_id,
        address=address,
        details=details,
        prev_hash=prev,
        hash=entry_hash(prev, content),
    )
    db.add(event)
    db.flush()
    checkpoints.after_append(db, event)
    return event
