"""Parallel writers append to one intact chain: no lost race, no duplicate seq, no gap."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.audit.verify import verify_chain
from veo.server.db.engine import Database

WRITERS = 8
EACH = 15


def test_parallel_writers_make_one_intact_chain(database_url: str) -> None:
    db = Database(database_url)
    start = threading.Barrier(WRITERS)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(EACH):
                with db.session() as s:
                    # A read first, as services do: the head must still be read under the lock.
                    s.scalar(select(func.count()).select_from(AuditEvent))
                    record(s, "test.parallel", actor=f"writer-{n}", details={"i": i})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(WRITERS)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        with db.session() as s:
            verdict = verify_chain(s)
            seqs = list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        assert verdict.ok and verdict.count == WRITERS * EACH
        assert seqs == list(range(1, WRITERS * EACH + 1))
    finally:
        db.dispose()


def test_parallel_transactions_with_several_records_each(database_url: str) -> None:
    """Two entries per transaction, interleaved writers: each transaction's pair stays adjacent."""
    db = Database(database_url)
    start = threading.Barrier(4)
    failures: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            start.wait()
            for i in range(10):
                with db.session() as s:
                    record(s, "test.first", actor=f"w{n}", details={"i": i})
                    record(s, "test.second", actor=f"w{n}", details={"i": i})
        except BaseException as exc:
            failures.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        with db.session() as s:
            assert verify_chain(s).count == 80
            rows = list(s.execute(select(AuditEvent.action, AuditEvent.actor).order_by(AuditEvent.seq)))
        for first, second in zip(rows[::2], rows[1::2], strict=True):
            assert (first.action, second.action) == ("test.first", "test.second")
            assert first.actor == second.actor
    finally:
        db.dispose()
