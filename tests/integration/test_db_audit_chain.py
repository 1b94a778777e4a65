"""The audit chain verifies, and an edit, deletion or reordering is found at the right seq."""

from __future__ import annotations

from sqlalchemy import delete, update

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.audit.verify import verify_chain
from veo.server.db.engine import Database


def _fill(db: Database, n: int) -> None:
    with db.session() as s:
        for i in range(n):
            record(s, "test.event", actor="tester", ticket_id=i, details={"i": i, "text": "ñandú"})


def test_intact_chain(database_url: str) -> None:
    db = Database(database_url)
    try:
        _fill(db, 5)
        with db.session() as s:
            verdict = verify_chain(s)
        assert verdict.ok and verdict.count == 5
    finally:
        db.dispose()


def test_edited_row_is_named(database_url: str) -> None:
    db = Database(database_url)
    try:
        _fill(db, 5)
        with db.session() as s:
            s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="someone else"))
        with db.session() as s:
            verdict = verify_chain(s)
        assert (verdict.ok, verdict.seq, verdict.problem, verdict.count) == (False, 3, "altered", 2)
    finally:
        db.dispose()


def test_deleted_row_is_named(database_url: str) -> None:
    db = Database(database_url)
    try:
        _fill(db, 5)
        with db.session() as s:
            s.execute(delete(AuditEvent).where(AuditEvent.seq == 4))
        with db.session() as s:
            verdict = verify_chain(s)
        assert (verdict.ok, verdict.seq, verdict.problem) == (False, 4, "missing")
    finally:
        db.dispose()


def test_swapped_rows_are_named(database_url: str) -> None:
    db = Database(database_url)
    try:
        _fill(db, 4)
        with db.session() as s:
            s.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(seq=-2))
            s.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(seq=2))
            s.execute(update(AuditEvent).where(AuditEvent.seq == -2).values(seq=3))
        with db.session() as s:
            verdict = verify_chain(s)
        assert (verdict.ok, verdict.seq) == (False, 2)
        assert verdict.problem in ("reordered", "altered")
    finally:
        db.dispose()
