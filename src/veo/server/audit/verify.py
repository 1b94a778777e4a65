"""Walk the audit hash chain and name the first entry that is altered, missing or out of order.

Runs offline against the database; it reads rows in ``seq`` order (not insertion order), so a
row whose ``seq`` was changed shows up as a gap or a broken link at that point.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import GENESIS, canonical, entry_hash


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    #: The first bad sequence number, and what is wrong with it (None when ok).
    seq: int | None = None
    problem: str | None = None


def verify_chain(db: Session) -> Verdict:
    expected_seq = 1
    prev_hash = GENESIS
    count = 0
    for event in db.scalars(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=500)):
        if event.seq != expected_seq:
            return Verdict(False, count, expected_seq, "missing")
        if event.prev_hash != prev_hash:
            return Verdict(False, count, event.seq, "reordered")
        content = canonical(
            event.seq,
            event.at,
            event.actor,
            event.action,
            event.ticket_id,
            event.session_id,
            event.address,
            event.details,
        )
        if entry_hash(event.prev_hash, content) != event.hash:
            return Verdict(False, count, event.seq, "altered")
        prev_hash = event.hash
        expected_seq += 1
        count += 1
    return Verdict(True, count)
