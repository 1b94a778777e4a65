"""Deleting the newest audit entries is found (issue 12, item 10).

Each scenario of the probe is run twice: with the head marker moved away, ``veo audit verify``
says OK, as it did before the marker existed (the shortened log is an intact chain with valid
checkpoints); with the marker in the data directory it names what was deleted. ``--against``
holds the database to an earlier export even when the marker was removed as well.
"""

from __future__ import annotations

import shutil
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, select
from tests.integration.audit_support import run_audit_cli, signing_database

from veo.server.audit import checkpoints, head, keys
from veo.server.audit import cli as audit_cli
from veo.server.audit.models import AuditCheckpoint, AuditEvent
from veo.server.audit.service import record
from veo.server.db.base import utcnow
from veo.server.db.engine import Database


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(database_url: str, data_dir: Path) -> Iterator[Database]:
    """Signing as the server does by default: every 100 entries, or after 10 quiet minutes."""
    with signing_database(database_url, data_dir, every_entries=100, every_minutes=10) as database:
        yield database


def _fill(db: Database, n: int) -> None:
    for i in range(n):
        with db.session() as s:
            record(s, "test.event", actor="tester", details={"i": i})


def _verify(
    database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    argv = ["--database-url", database_url, "--data-dir", str(data_dir), "verify", *extra]
    code, out, err = run_audit_cli(argv, capsys)
    return code, out + err


def _verify_without_marker(
    database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str], *extra: str
) -> tuple[int, str]:
    """What verify said before the marker existed: the same check with the file moved away."""
    marker = head.path_in(keys.key_dir(data_dir))
    aside = marker.with_name("aside.json")
    shutil.move(marker, aside)
    try:
        return _verify(database_url, data_dir, capsys, *extra)
    finally:
        shutil.move(aside, marker)


def _delete_after(db: Database, seq: int) -> None:
    with db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq > seq))


def _checkpoints(db: Database) -> list[tuple[int, int]]:
    with db.session() as s:
        rows = s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.number))
        return [(c.number, c.seq) for c in rows]


def test_deleting_the_newest_10_entries_is_found(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 150)
    assert _checkpoints(db) == [(1, 1), (2, 101)]
    code, text = _verify(database_url, data_dir, capsys)
    assert code == 0 and "newest entry this server wrote (seq 150)" in text, text
    assert "49 newest entries are not covered by a checkpoint yet." in text
    _delete_after(db, 140)
    code, text = _verify_without_marker(database_url, data_dir, capsys)
    assert code == 0 and "OK: 140 audit entries" in text, text  # the old verdict
    code, text = _verify(database_url, data_dir, capsys)
    assert code == 1, text
    assert "entries up to seq 150, but the database ends at seq 140" in text


def test_within_the_database_the_unsigned_tail_is_bounded_by_the_quiet_tail_checkpoint(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Without the marker: once the server's minute task signed the quiet tail (10 minutes after
    the last checkpoint), deleting the newest 10 entries removes a signed head and is found."""
    _fill(db, 150)
    signer = checkpoints.signer_for_engine(db.engine)
    assert signer is not None
    with db.session() as s:
        made = checkpoints.checkpoint_if_due(s, signer, now=utcnow() + timedelta(minutes=10, seconds=1))
        assert made is not None and (made.number, made.seq) == (3, 150)
    _delete_after(db, 140)
    code, text = _verify_without_marker(database_url, data_dir, capsys)
    assert code == 1 and "BAD checkpoint #3 at seq 150" in text, text


def test_deleting_everything_after_the_last_checkpoint_is_found(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 150)
    _delete_after(db, 101)
    assert _verify_without_marker(database_url, data_dir, capsys)[0] == 0
    code, text = _verify(database_url, data_dir, capsys)
    assert code == 1 and "the database ends at seq 101" in text, text


def test_deleting_the_last_checkpoint_with_its_100_entries_is_found(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 201)
    assert _checkpoints(db) == [(1, 1), (2, 101), (3, 201)]
    with db.session() as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.number == 3))
    _delete_after(db, 101)
    code, text = _verify_without_marker(database_url, data_dir, capsys)
    assert code == 0 and "OK: 2 checkpoints" in text and "up to seq 101" in text, text
    code, text = _verify(database_url, data_dir, capsys)
    assert code == 1, text
    assert "entries up to seq 201, but the database ends at seq 101" in text
    assert "signed checkpoint #3, but the newest checkpoint in the database is #2" in text


def test_against_an_export_finds_what_the_database_lost(
    db: Database, database_url: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 20)
    out = tmp_path / "export"
    flags = ["--database-url", database_url, "--data-dir", str(data_dir)]
    assert audit_cli.main([*flags, "export", "--out", str(out)]) == 0
    _fill(db, 5)  # the log goes on after the export
    code, text = _verify(database_url, data_dir, capsys, "--against", str(out))
    assert code == 0, text
    assert "still holds all 20 entries and 1 checkpoints of the export" in text

    # someone with the server's files too: entries, their checkpoints and the marker go
    _delete_after(db, 17)
    head.path_in(keys.key_dir(data_dir)).unlink()
    code, text = _verify(database_url, data_dir, capsys)
    assert code == 0 and "OK: 17 audit entries" in text, text  # nothing on the server shows it
    code, text = _verify(database_url, data_dir, capsys, "--against", str(out))
    assert code == 1 and "MISSING: entry seq 18 of the export" in text, text


def test_the_marker_follows_a_burst_of_appends_and_never_goes_back(db: Database, data_dir: Path) -> None:
    """8 threads append 10 entries each at once; the marker ends at the real head."""
    barrier = threading.Barrier(8)

    def writer() -> None:
        barrier.wait(timeout=30)
        _fill(db, 10)

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    with db.session() as s:
        newest = s.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc())).first()
        number = s.scalar(select(AuditCheckpoint.number).order_by(AuditCheckpoint.number.desc()))
    marker = head.read(keys.key_dir(data_dir))
    assert newest is not None and marker == head.Head(newest[0], newest[1], number or 0)
    assert marker.seq == 80


def test_a_rolled_back_append_leaves_the_marker_alone(db: Database, data_dir: Path) -> None:
    _fill(db, 3)
    before = head.read(keys.key_dir(data_dir))
    with pytest.raises(RuntimeError), db.session() as s:
        record(s, "test.event", actor="tester")
        raise RuntimeError("the caller's transaction fails")
    assert before is not None and head.read(keys.key_dir(data_dir)) == before


def test_an_append_undone_by_a_savepoint_does_not_move_the_marker_ahead(db: Database, data_dir: Path) -> None:
    _fill(db, 3)
    before = head.read(keys.key_dir(data_dir))
    with db.session() as s:
        savepoint = s.begin_nested()
        record(s, "test.event", actor="tester")
        savepoint.rollback()
    assert before is not None and head.read(keys.key_dir(data_dir)) == before
