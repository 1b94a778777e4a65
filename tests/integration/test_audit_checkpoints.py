"""Signed checkpoints, export and offline verification; tampering in the database or in an
export is named by ``veo audit verify`` (the entry's seq, or the checkpoint's number)."""

from __future__ import annotations

import json
import stat
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi import FastAPI
from sqlalchemy import delete, select, update
from tests.integration.audit_support import run_audit_cli, signing_database
from tests.support import make_user

from veo.server.audit import checkpoints, keys
from veo.server.audit.models import AuditCheckpoint, AuditEvent
from veo.server.audit.service import canonical, entry_hash, record
from veo.server.audit.verify import verify_database
from veo.server.db.base import utcnow
from veo.server.db.engine import Database


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture
def db(database_url: str, data_dir: Path) -> Iterator[Database]:
    """A database whose appends sign a checkpoint every 5 entries, with the key under data_dir."""
    with signing_database(database_url, data_dir, every_entries=5, every_minutes=60) as database:
        yield database


def _fill(db: Database, n: int) -> None:
    for i in range(n):
        with db.session() as s:
            record(s, "test.event", actor="tester", ticket_id=i + 1, details={"i": i, "text": "ñandú"})


def _flags(database_url: str, data_dir: Path) -> list[str]:
    return ["--database-url", database_url, "--data-dir", str(data_dir)]


def _checkpoints(db: Database) -> list[tuple[int, int]]:
    with db.session() as s:
        return [
            (c.number, c.seq) for c in s.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.number))
        ]


def _rewrite_from(db: Database, seq: int, actor: str) -> None:
    """What a careful forger does: edit an entry and recompute every hash after it."""
    with db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(actor=actor))
        rows = list(s.scalars(select(AuditEvent).where(AuditEvent.seq >= seq).order_by(AuditEvent.seq)))
        prev: str = s.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq - 1)) or ""
        for row in rows:
            content = canonical(row.seq, row.at, row.actor, row.action, row.ticket_id, row.session_id,
                                row.address, row.details)  # fmt: skip
            row.prev_hash = prev
            row.hash = entry_hash(prev, content)
            prev = row.hash


def test_checkpoint_every_n_entries_with_a_private_key_only_the_owner_reads(
    db: Database, data_dir: Path
) -> None:
    _fill(db, 12)
    assert _checkpoints(db) == [(1, 1), (2, 6), (3, 11)]
    private = keys.key_dir(data_dir) / keys.PRIVATE_NAME
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    with db.session() as s:
        report = verify_database(s, keys.load_public(keys.key_dir(data_dir) / keys.PUBLIC_NAME))
    assert report.ok and report.covered_to == 11 and report.chain.count == 12


def test_quiet_tail_is_signed_after_m_minutes_only(db: Database) -> None:
    _fill(db, 3)
    signer = checkpoints.signer_for_engine(db.engine)
    assert signer is not None
    with db.session() as s:
        assert checkpoints.checkpoint_if_due(s, signer) is None  # 2 entries wait, not 10 minutes yet
    with db.session() as s:
        made = checkpoints.checkpoint_if_due(s, signer, now=utcnow() + timedelta(minutes=61))
        assert made is not None and (made.number, made.seq) == (2, 3)
    with db.session() as s:  # nothing new since: no empty checkpoint
        assert checkpoints.checkpoint_if_due(s, signer, now=utcnow() + timedelta(minutes=200)) is None


def test_export_then_verify_offline(
    db: Database, database_url: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 7)
    out = tmp_path / "export"
    code, text, _ = run_audit_cli([*_flags(database_url, data_dir), "export", "--out", str(out)], capsys)
    assert code == 0 and "7 entries and 2 checkpoints" in text
    assert sorted(p.name for p in out.iterdir()) == ["checkpoints.jsonl", "entries.jsonl", "public_key.pem"]
    code, text, _ = run_audit_cli(["verify", "--export", str(out)], capsys)
    assert code == 0, text
    assert "OK: 7 audit entries" in text and "OK: 2 checkpoints" in text and "up to seq 6" in text


def test_edited_entry_in_database_is_named(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 8)
    with db.session() as s:
        s.execute(update(AuditEvent).where(AuditEvent.seq == 4).values(details={"i": 99}))
    code, text, _ = run_audit_cli([*_flags(database_url, data_dir), "verify"], capsys)
    assert code == 1 and "BROKEN at seq 4" in text and "altered" in text


def test_rewritten_chain_passes_the_walk_but_not_the_signed_checkpoint(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 8)
    _rewrite_from(db, 3, "nobody")
    code, text, _ = run_audit_cli([*_flags(database_url, data_dir), "verify"], capsys)
    assert code == 1
    assert "OK: 8 audit entries" in text  # the forger recomputed the chain...
    assert "BAD checkpoint #2 at seq 6" in text and "rewritten" in text  # ...but cannot re-sign


def test_deleted_entries_at_the_end_are_found_by_the_checkpoint(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 8)
    with db.session() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.seq >= 6))
    code, text, _ = run_audit_cli([*_flags(database_url, data_dir), "verify"], capsys)
    assert code == 1 and "BAD checkpoint #2 at seq 6" in text and "removed" in text


def test_deleted_and_forged_checkpoints_are_named(
    db: Database, database_url: str, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 16)  # checkpoints 1..4 at seq 1, 6, 11, 16
    with db.session() as s:
        s.execute(delete(AuditCheckpoint).where(AuditCheckpoint.number == 2))
        s.execute(update(AuditCheckpoint).where(AuditCheckpoint.number == 3).values(seq=12))
    code, text, _ = run_audit_cli([*_flags(database_url, data_dir), "verify"], capsys)
    assert code == 1
    assert "BAD checkpoint #2" in text and "a checkpoint was removed" in text
    assert "BAD checkpoint #3 at seq 12" in text and "signature is not valid" in text


def test_another_public_key_is_refused(
    db: Database, database_url: str, data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _fill(db, 2)
    other = keys.load_or_create(tmp_path / "other")
    assert other is not None
    other_pub = tmp_path / "other" / keys.PUBLIC_NAME
    code, text, _ = run_audit_cli(
        [*_flags(database_url, data_dir), "verify", "--public-key", str(other_pub)], capsys
    )
    assert code == 1 and "signed by another key" in text


def _export(
    db: Database, database_url: str, data_dir: Path, out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_audit_cli([*_flags(database_url, data_dir), "export", "--out", str(out)], capsys)
    assert code == 0, err


def _lines(out: Path) -> list[str]:
    return (out / "entries.jsonl").read_text(encoding="utf-8").splitlines(keepends=True)


@pytest.mark.parametrize(
    ("tamper", "needle"),
    [
        ("edit", "BROKEN at seq 3: entry was altered"),
        ("delete", "BROKEN at seq 3: entry missing"),
        ("reorder", "BROKEN at seq 3"),
    ],
)
def test_tampered_export_is_named(
    db: Database,
    database_url: str,
    data_dir: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    tamper: str,
    needle: str,
) -> None:
    _fill(db, 6)
    out = tmp_path / "export"
    _export(db, database_url, data_dir, out, capsys)
    lines = _lines(out)
    if tamper == "edit":
        row = json.loads(lines[2])
        row["actor"] = "someone else"
        lines[2] = json.dumps(row) + "\n"
    elif tamper == "delete":
        del lines[2]
    else:
        lines[2], lines[3] = lines[3], lines[2]
    (out / "entries.jsonl").write_text("".join(lines), encoding="utf-8")
    code, text, _ = run_audit_cli(["verify", "--export", str(out)], capsys)
    assert code == 1 and needle in text


def test_unreadable_export_is_a_one_line_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "checkpoints.jsonl").write_text("", encoding="utf-8")
    (out / "entries.jsonl").write_text('{"seq": 1}\nnot json\n', encoding="utf-8")
    code, _, err = run_audit_cli(["verify", "--export", str(out)], capsys)
    assert code == 2 and "entries.jsonl:1" in err and len(err.strip().splitlines()) == 1


async def test_the_running_app_signs_with_a_key_under_its_data_dir(
    app: FastAPI, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = app.state.settings
    make_user(app.state.db, "tech@example.org")  # the first entry of the log: checkpoint 1
    with app.state.db.session() as s:
        assert [(c.number, c.seq) for c in s.scalars(select(AuditCheckpoint))] == [(1, 1)]
    assert (keys.key_dir(settings.data_dir) / keys.PRIVATE_NAME).is_file()
    code, text, _ = run_audit_cli(
        [*_flags(settings.effective_database_url, settings.data_dir), "verify"], capsys
    )
    assert code == 0 and "OK: 1 checkpoints" in text
