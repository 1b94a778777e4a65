"""Check the audit log offline: the hash chain, then the signed checkpoints.

The chain walk reads entries in ``seq`` order (not insertion order), so a row whose ``seq`` was
changed shows up as a gap or a broken link at that point; it names the first entry that is
altered, missing or out of order. Checkpoints are then held against the chain: each must carry
a valid signature by the expected key, follow the previous one without a gap in numbering, and
name a head that the chain still has with the same hash. A rewritten chain (hashes recomputed
after an edit) passes the walk but not a checkpoint signed before the edit.

The same code checks the database and an export directory (``export.py``): both give entries
and checkpoints as objects with the model's attribute names.

The end of the log is held to the head marker (``head.py``) when there is one: the newest entry
and checkpoint the server committed must still be in the database. Without it, deleting the
newest entries together with the checkpoints that cover them leaves an intact, shorter log.
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
from veo.server.audit.head import Head
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
class HeadProblem:
    """``problem``: entries_removed (the log ends before ``seq``, the newest entry the server
    committed), rewritten (the entry at ``seq`` is not the one committed), checkpoints_removed
    (checkpoint ``number`` was committed, the newest in the database is ``have``)."""

    problem: str
    seq: int = 0
    number: int = 0
    have: int = 0


@dataclass(frozen=True)
class Report:
    chain: Verdict
    checkpoints: int
    problems: list[CheckpointProblem]
    #: The highest seq a valid checkpoint vouches for (0: none).
    covered_to: int
    head_problems: list[HeadProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.problems and not self.head_problems


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


def check_head(head: Head, chain: Verdict, checkpoints: Sequence[CheckpointLike]) -> list[HeadProblem]:
    """What the database lost of the head the server recorded outside it."""
    problems: list[HeadProblem] = []
    if chain.ok and chain.count < head.seq:
        problems.append(HeadProblem("entries_removed", seq=head.seq, have=chain.count))
    elif chain.ok and chain.hashes.get(head.seq) != head.hash:
        problems.append(HeadProblem("rewritten", seq=head.seq))
    newest = max((cp.number for cp in checkpoints), default=0)
    if newest < head.checkpoint:
        problems.append(HeadProblem("checkpoints_removed", number=head.checkpoint, have=newest))
    return problems


def verify(
    entries: Iterable[EntryLike],
    checkpoints: Sequence[CheckpointLike],
    public: Ed25519PublicKey | None,
    head: Head | None = None,
) -> Report:
    """Walk the chain and, given a public key, hold it to the checkpoints; given the head
    marker, require the database to end no earlier than it."""
    remember = frozenset(cp.seq for cp in checkpoints) | ({head.seq} if head else set())
    chain = walk(entries, remember)
    head_problems = check_head(head, chain, checkpoints) if head is not None else []
    if public is None:
        return Report(chain, len(checkpoints), [], 0, head_problems)
    problems, covered = check_checkpoints(checkpoints, chain, public)
    return Report(chain, len(checkpoints), problems, covered, head_problems)


def db_entries(db: Session) -> Iterable[AuditEvent]:
    return db.scalars(select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=500))


def db_checkpoints(db: Session) -> list[AuditCheckpoint]:
    return list(db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.number)))


def verify_chain(db: Session) -> Verdict:
    """The chain in the database (checkpoints aside)."""
    return walk(db_entries(db))


def verify_database(db: Session, public: Ed25519PublicKey | None, head: Head | None = None) -> Report:
    """Chain and checkpoints as stored; checkpoints are read first, so a concurrent append is
    simply not covered yet rather than reported as beyond the chain. ``head`` must have been
    read before this call (it trails the database; read later it could run ahead of it)."""
    checkpoints = db_checkpoints(db)
    return verify(db_entries(db), checkpoints, public, head)
