"""``veo audit verify --against DIR``: does the database still hold everything an export held?

An export kept off the server is the reference that survives whatever happens to the server:
every entry in it must still be in the database with the same hash, and every checkpoint in it
must still be there, unchanged. Together with the database's own chain walk (each entry linked
to the one before), that proves the log continues from the export without a gap, so deleting
or rewriting anything up to the export's end is found even by someone who held the signing key
and the server's files.

Both sides are read in ``seq`` order and compared as they stream, so memory does not grow with
the log.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from veo.server.audit.verify import CheckpointLike, EntryLike


@dataclass(frozen=True)
class Comparison:
    """``problem``: missing or different, for the entry ``seq`` or the checkpoint ``number``."""

    entries: int
    checkpoints: int
    problem: str | None = None
    seq: int | None = None
    number: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def _same_checkpoint(a: CheckpointLike, b: CheckpointLike) -> bool:
    return (a.seq, a.hash, a.key_id, a.signature) == (b.seq, b.hash, b.key_id, b.signature)


def compare(
    database: Iterable[EntryLike],
    exported: Iterable[EntryLike],
    database_checkpoints: Sequence[CheckpointLike],
    exported_checkpoints: Sequence[CheckpointLike],
) -> Comparison:
    """The first exported entry or checkpoint the database lost or changed (None: all held)."""
    stored = {cp.number: cp for cp in database_checkpoints}
    checked_checkpoints = 0
    for cp in sorted(exported_checkpoints, key=lambda c: c.number):
        have = stored.get(cp.number)
        if have is None:
            return Comparison(0, checked_checkpoints, "missing", number=cp.number)
        if not _same_checkpoint(have, cp):
            return Comparison(0, checked_checkpoints, "different", number=cp.number)
        checked_checkpoints += 1
    rows = iter(database)
    current = next(rows, None)
    count = 0
    for entry in exported:
        while current is not None and current.seq < entry.seq:
            current = next(rows, None)
        if current is None or current.seq != entry.seq:
            return Comparison(count, checked_checkpoints, "missing", seq=entry.seq)
        if current.hash != entry.hash:
            return Comparison(count, checked_checkpoints, "different", seq=entry.seq)
        count += 1
    return Comparison(count, checked_checkpoints)
