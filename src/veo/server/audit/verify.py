"""Check the audit log offline: the hash chain, then the signed checkpoints.

The chain walk reads entries in ``seq`` order (not insertion order), so a row whose ``seq`` was
changed shows up as a gap or a broken link at that point; it names the first entry that is
altered, missing or out of order. Checkpoints are then held against the chain: each must carry
a valid signature by the expected key, follow the previous one without a gap in numbering, and
name a head that the chain still has with the same hash. A rewritten chain (hashes recomputed
after an edit) passes the walk but not a checkpoint signed before the edit.

The same code checks the database and an export directory (``export.py``): both give entries
and checkpoints as objects with the model's attribute names.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.audit import keys
from veo.server.audit.checkpoints import signed_bytes
from veo.server.audit.models import AuditCheckpoint, AuditEvent
from veo.server.audit.service import GENESIS, canonical, entry_hash


class EntryLike(Protocol):
    @property
    def seq(self) -> int: ...

    @property
    def at(self) -> datetime: ...

    @property
    def actor(self) -> str: ...

    @property
    def action(self) -> str: ...

    @property
    def ticket_id(self) -> int | None: ...

    @property
    def session_id(self) -> str | None: ...

    @property
    def address(self) -> str: ...

    @property
    def details(self) -> dict[str, Any]: ...

    @property
    def prev_hash(self) -> str: ...

    @property
    def hash(self) -> str: ...


class CheckpointLike(Protocol):
    @property
    def number(self) -> int: ...

    @property
    def seq(self) -> int: ...

    @property
    def hash(self) -> str: ...

    @property
    def at(self) -> datetime: ...

    @property
    def key_id(self) -> str: ...

    @property
    def signature(self) -> str: ...


@dataclass(frozen=True)
class Verdict:
    ok: bool
    count: int
    #: The first bad sequence number, and what is wrong with it (None when ok).
    seq: int | None = None
    problem: str | None = None
    #: seq -> hash of each intact entry the caller asked to remember (checkpoint heads).
    hashes: dict[int, str] = field(default_factory=dict, compare=False, repr=False)


@dataclass(frozen=True)
class CheckpointProblem:
    """``problem``: bad_signature, unknown_key, missing (gap in numbers), out_of_order,
    hash_mismatch (the chain at ``seq`` is not what was signed), beyond_chain (entries after the
    chain's end were removed), unverifiable (the chain broke before ``seq``)."""

    number: int
    seq: int
    problem: str


@dataclass(frozen=True)
class Report:
    chain: Verdict
    checkpoints: int
    problems: list[CheckpointProblem]
    #: The highest seq a valid checkpoint vouches for (0: none).
    covered_to: int

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems


def walk(entries: Iterable[EntryLike], remember: frozenset[int] = frozenset()) -> Verdict:
    expected_seq = 1
    prev_hash = GENESIS
    count = 0
    hashes: dict[int, str] = {}
    for event in entries:
        if event.seq != expected_seq:
            return Verdict(False, count, expected_seq, "missing", hashes)
        if event.prev_hash != prev_hash:
            return Verdict(False, count, event.seq, "reordered", hashes)
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
            return Verdict(False, count, event.seq, "altered", hashes)
        if event.seq in remember:
            hashes[event.seq] = event.hash
        prev_hash = event.hash
        expected_seq += 1
        count += 1
    return Verdict(True, count, hashes=hashes)


def check_checkpoints(
    checkpoints: Sequence[CheckpointLike], chain: Verdict, public: Ed25519PublicKey
) -> tuple[list[CheckpointProblem], int]:
    """Every problem with the checkpoints, and the highest seq a good checkpoint covers."""
    problems: list[CheckpointProblem] = []
    expected_kid = keys.key_id(public)
    expected_number = 1
    last_seq = 0
    covered = 0
    chain_end = chain.count if chain.ok else (chain.seq or 1) - 1
    for cp in sorted(checkpoints, key=lambda c: c.number):
        if cp.number != expected_number:
            problems.append(CheckpointProblem(expected_number, cp.seq, "missing"))
        expected_number = cp.number + 1
        if cp.key_id != expected_kid:
            problems.append(CheckpointProblem(cp.number, cp.seq, "unknown_key"))
            continue
        if not keys.signature_ok(
            public, cp.signature, signed_bytes(cp.number, cp.seq, cp.hash, cp.at, cp.key_id)
        ):
            problems.append(CheckpointProblem(cp.number, cp.seq, "bad_signature"))
            continue
        if cp.seq <= last_seq:
            problems.append(CheckpointProblem(cp.number, cp.seq, "out_of_order"))
        last_seq = max(last_seq, cp.seq)
        if cp.seq > chain_end:
            kind = "beyond_chain" if chain.ok else "unverifiable"
            problems.append(CheckpointProblem(cp.number, cp.seq, kind))
        elif chain.hashes.get(cp.seq) != cp.hash:
            problems.append(CheckpointProblem(cp.number, cp.seq, "hash_mismatch"))
        elif not problems:
            covered = cp.seq
    return problems, covered


def verify(
    entries: Iterable[EntryLike], checkpoints: Sequence[CheckpointLike], public: Ed25519PublicKey | None
) -> Report:
    """Walk the chain and, given a public key, hold it to the checkpoints."""
    chain = walk(entries, frozenset(cp.seq for cp in checkpoints))
    if public is None:
        return Report(chain, len(checkpoints), [], 0)
    problems, covered = check_checkpoints(checkpoints, chain, public)
    return Report(chain, len(checkpoints), problems, covered)


def db_entries(db: Session) -> Iterable[AuditEvent]:
    return db.scalars(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=500))


def db_checkpoints(db: Session) -> list[AuditCheckpoint]:
    return list(db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.number)))


def verify_chain(db: Session) -> Verdict:
    """The chain in the database (checkpoints aside)."""
    return walk(db_entries(db))


def verify_database(db: Session, public: Ed25519PublicKey | None) -> Report:
    """Chain and checkpoints as stored; checkpoints are read first, so a concurrent append is
    simply not covered yet rather than reported as beyond the chain."""
    checkpoints = db_checkpoints(db)
    return verify(db_entries(db), checkpoints, public)
