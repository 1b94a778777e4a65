"""``veo audit export``: the log as files that can live off the server, and reading them back.

An export directory holds ``entries.jsonl`` (one entry per line, every field the hash covers plus
``prev_hash`` and ``hash``), ``checkpoints.jsonl`` and ``public_key.pem``. Checkpoints are read
before entries, so every exported checkpoint is covered by the exported entries even while the
server keeps appending. Files are written under temporary names and renamed at the end, so an
interrupted export never leaves a half-written file under a real name.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from veo.server.audit import keys
from veo.server.audit.models import AuditCheckpoint, AuditEvent
from veo.server.audit.verify import db_checkpoints, db_entries
from veo.server.lang import _

ENTRIES = "entries.jsonl"
CHECKPOINTS = "checkpoints.jsonl"
PUBLIC_KEY = "public_key.pem"


class ExportError(ValueError):
    """An export that cannot be read; the message names the file and line."""


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    actor: str
    action: str
    ticket_id: int | None
    session_id: str | None
    address: str
    details: dict[str, Any]
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class Checkpoint:
    number: int
    seq: int
    hash: str
    at: datetime
    key_id: str
    signature: str


@dataclass(frozen=True)
class ExportSummary:
    entries: int
    checkpoints: int


def _entry_json(e: AuditEvent) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "at": e.at.isoformat(timespec="microseconds"),
        "actor": e.actor,
        "action": e.action,
        "ticket_id": e.ticket_id,
        "session_id": e.session_id,
        "address": e.address,
        "details": e.details,
        "prev_hash": e.prev_hash,
        "hash": e.hash,
    }


def _checkpoint_json(c: AuditCheckpoint) -> dict[str, Any]:
    return {
        "number": c.number,
        "seq": c.seq,
        "hash": c.hash,
        "at": c.at.isoformat(timespec="microseconds"),
        "key_id": c.key_id,
        "signature": c.signature,
    }


def _write_lines(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    temporary = path.with_name(path.name + ".part")
    count = 0
    with temporary.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n")
            count += 1
    os.replace(temporary, path)
    return count


def export(db: Session, out: Path, public_key_pem: bytes | None) -> ExportSummary:
    """Write the log to ``out`` (created if missing); files of an earlier export are replaced."""
    out.mkdir(parents=True, exist_ok=True)
    checkpoints = db_checkpoints(db)
    n_checkpoints = _write_lines(out / CHECKPOINTS, (_checkpoint_json(c) for c in checkpoints))
    n_entries = _write_lines(out / ENTRIES, (_entry_json(e) for e in db_entries(db)))
    if public_key_pem is not None:
        temporary = out / (PUBLIC_KEY + ".part")
        temporary.write_bytes(public_key_pem)
        os.replace(temporary, out / PUBLIC_KEY)
    return ExportSummary(n_entries, n_checkpoints)


def _lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as exc:
        raise ExportError(f"{path}: {exc.strerror or exc}") from None
    with handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                raise ExportError(f"{path}:{number}: " + _("not JSON")) from None
            if not isinstance(row, dict):
                raise ExportError(f"{path}:{number}: " + _("not a JSON object"))
            yield number, row


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("time without zone")
    return moment


def read_entries(directory: Path) -> Iterator[Entry]:
    path = directory / ENTRIES
    for number, row in _lines(path):
        try:
            yield Entry(
                seq=int(row["seq"]),
                at=_time(row["at"]),
                actor=str(row["actor"]),
                action=str(row["action"]),
                ticket_id=None if row["ticket_id"] is None else int(row["ticket_id"]),
                session_id=None if row["session_id"] is None else str(row["session_id"]),
                address=str(row["address"]),
                details=dict(row["details"]),
                prev_hash=str(row["prev_hash"]),
                hash=str(row["hash"]),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(
                f"{path}:{number}: " + _("not a valid entry (%(error)s)") % {"error": exc}
            ) from None


def read_checkpoints(directory: Path) -> list[Checkpoint]:
    path = directory / CHECKPOINTS
    found: list[Checkpoint] = []
    for number, row in _lines(path):
        try:
            found.append(
                Checkpoint(
                    number=int(row["number"]),
                    seq=int(row["seq"]),
                    hash=str(row["hash"]),
                    at=_time(row["at"]),
                    key_id=str(row["key_id"]),
                    signature=str(row["signature"]),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ExportError(
                f"{path}:{number}: " + _("not a valid checkpoint (%(error)s)") % {"error": exc}
            ) from None
    return found


def public_key_file(directory: Path) -> Path:
    return directory / PUBLIC_KEY


def server_public_key_pem(data_dir: Path) -> bytes | None:
    """The server's public key, if a checkpoint was ever signed (None otherwise)."""
    path = keys.key_dir(data_dir) / keys.PUBLIC_NAME
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
