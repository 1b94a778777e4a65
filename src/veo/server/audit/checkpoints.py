"""Signed checkpoints of the audit chain head: what an export can be held to, off the server.

The hash chain alone shows an edit only to someone who did not recompute the hashes after it.
A checkpoint signs (number, seq, hash, time) of the head with the server's Ed25519 key
(``keys.py``); once a copy of it lives elsewhere (``veo audit export``), rewriting any entry up
to that seq is detectable by anyone holding the public key, even if the database was replaced.

A checkpoint is written in the same transaction as the append that makes one due: after
``every_entries`` entries since the last one, or when the last one is older than
``every_minutes`` (a quiet server gets its tail signed by :func:`checkpoint_if_due`, which the
app runs once a minute). Appends and checkpoints share the audit lock, so numbers and seqs
never race. A process that was never configured (the CLI) appends without signing; the next
server append covers those entries.

What can vanish unseen. In the database alone, an unsigned tail is bounded: at most
``every_entries - 1`` entries (the append that makes N signs in its own transaction), and,
while the server runs, none older than ``every_minutes`` plus the one-minute period of the
quiet-tail task. Deleting more of the newest entries removes a signed head, which ``verify``
reports, unless the checkpoints are deleted too; that, and deleting the unsigned tail, is
caught by the head marker outside the database (``head.py``), which every commit here moves.
"""

from __future__ import annotations

import json
import logging
import threading
import weakref
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from veo.server.audit import head as head_marker
from veo.server.audit import keys
from veo.server.audit.lock import serialize_appends
from veo.server.audit.models import AuditCheckpoint, AuditEvent
from veo.server.db.base import utcnow
from veo.server.db.engine import Database

log = logging.getLogger(__name__)
DOMAIN = b"veo-audit-checkpoint-v1\n"


class CheckpointSettings(BaseSettings):
    """``VEO_AUDIT_CHECKPOINT_ENTRIES`` and ``VEO_AUDIT_CHECKPOINT_MINUTES``."""

    model_config = SettingsConfigDict(env_prefix="VEO_AUDIT_", extra="ignore")

    checkpoint_entries: int = Field(default=100, ge=1, le=1_000_000)
    checkpoint_minutes: float = Field(default=10.0, gt=0, le=7 * 24 * 60)


@dataclass
class Signer:
    """When to sign and with which key (loaded, or created, at the first signature)."""

    key_directory: Path
    every_entries: int = 100
    every_minutes: float = 10.0
    _key: Ed25519PrivateKey | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def key(self) -> Ed25519PrivateKey:
        with self._lock:
            if self._key is None:
                self._key = keys.load_or_create(self.key_directory)
            return self._key


_signers: weakref.WeakKeyDictionary[Engine, Signer] = weakref.WeakKeyDictionary()


def configure(database: Database, signer: Signer | None) -> None:
    """Sign checkpoints for appends made through ``database``, and move the head marker after
    its commits (None: stop both)."""
    if signer is None:
        _signers.pop(database.engine, None)
        head_marker.unlisten(database.sessionmaker)
    else:
        _signers[database.engine] = signer
        head_marker.listen(database.sessionmaker)


def signer_for_engine(engine: Engine) -> Signer | None:
    return _signers.get(engine)


def signer_for(db: Session) -> Signer | None:
    bind = db.get_bind()
    return signer_for_engine(bind if isinstance(bind, Engine) else bind.engine)


def signed_bytes(number: int, seq: int, hash_: str, at: datetime, key_id: str) -> bytes:
    """Exactly what a checkpoint's signature covers."""
    body = {"number": number, "seq": seq, "hash": hash_, "at": at.isoformat(timespec="microseconds"),
            "key_id": key_id}  # fmt: skip
    return DOMAIN + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def _due(head_seq: int, last: AuditCheckpoint | None, signer: Signer, now: datetime) -> bool:
    if last is None:
        return True
    if head_seq <= last.seq:
        return False
    return head_seq - last.seq >= signer.every_entries or now - last.at >= timedelta(
        minutes=signer.every_minutes
    )


def latest(db: Session) -> AuditCheckpoint | None:
    return db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.number.desc()).limit(1)).first()


def after_append(db: Session, head: AuditEvent) -> AuditCheckpoint | None:
    """Called by ``record()`` with the audit lock held: sign the new head if one is due."""
    signer = signer_for(db)
    if signer is None:
        return None
    now = utcnow()
    last = latest(db)
    made = _sign(db, signer, head.seq, head.hash, last, now) if _due(head.seq, last, signer, now) else None
    newest = made or last
    head_marker.note(db, signer.key_directory, head.seq, head.hash, newest.number if newest else 0)
    return made


def checkpoint_if_due(db: Session, signer: Signer, now: datetime | None = None) -> AuditCheckpoint | None:
    """Sign the head if entries wait longer than ``every_minutes`` (or more than N); else None."""
    serialize_appends(db)
    head = db.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    if head is None:
        return None
    now = now or utcnow()
    last = latest(db)
    if not _due(head[0], last, signer, now):
        return None
    made = _sign(db, signer, head[0], head[1], last, now)
    head_marker.note(db, signer.key_directory, head[0], head[1], made.number)
    return made


def _sign(
    db: Session, signer: Signer, seq: int, hash_: str, last: AuditCheckpoint | None, now: datetime
) -> AuditCheckpoint:
    key = signer.key()
    number = (last.number if last else 0) + 1
    kid = keys.key_id(key.public_key())
    signature = key.sign(signed_bytes(number, seq, hash_, now, kid)).hex()
    checkpoint = AuditCheckpoint(number=number, seq=seq, hash=hash_, at=now, key_id=kid, signature=signature)
    db.add(checkpoint)
    db.flush()
    log.info("audit checkpoint %d signed at seq %d", number, seq)
    return checkpoint
