"""The head marker: the newest audit entry and checkpoint this server committed, kept in a file.

Inside the database, the end of the log proves nothing: whoever can delete the newest rows can
also delete the checkpoints that cover them, and what remains is a shorter, intact chain. So a
server that signs checkpoints also writes, after each commit that appended an entry or signed a
checkpoint, ``audit_head.json`` in its key directory: the seq and hash of the newest entry and
the number of the newest checkpoint it committed. ``veo audit verify`` reads it before the
database and requires the database to still hold that entry (same hash) and that checkpoint.

The file is written after the commit (never for a transaction that rolled back), atomically
(temporary name, then rename) and only forwards: a slower writer with an older head never
replaces a newer one. It can lag by the entries whose commit was not yet followed by the write
(a crash in between), never run ahead, so it cannot raise a false alarm. The commit hooks sit on
the signing database's own session factory (:func:`listen`, from ``checkpoints.configure``), not
on every SQLAlchemy session of the process; the newest head written is kept in memory, so a
commit whose head is already covered (a slower writer) touches no file.

It protects against someone who can change the database but not this server's files (a
database on another host, stolen database credentials, SQL injection). Whoever controls the
server's files can rewrite it, and can sign checkpoints with the key next to it; only copies
kept elsewhere (``veo audit export``, ``verify --against``) bind them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)
NAME = "audit_head.json"
_PENDING = "veo_audit_head"
_lock = threading.Lock()
#: The newest head this process wrote, per directory (guarded by ``_lock``).
_written: dict[Path, Head] = {}

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: threads of one process are still serialized
    fcntl = None  # type: ignore[assignment]


class HeadError(ValueError):
    """The marker exists but cannot be read (damaged or replaced by something else)."""


@dataclass(frozen=True)
class Head:
    seq: int
    hash: str
    #: The newest checkpoint number committed (0: none yet).
    checkpoint: int


def path_in(directory: Path) -> Path:
    return directory / NAME


def note(db: Session, directory: Path, seq: int, hash_: str, checkpoint: int = 0) -> None:
    """Remember, for when ``db`` commits, that the head is now (seq, hash, checkpoint)."""
    pending: tuple[Path, Head] | None = db.info.get(_PENDING)
    if pending is not None:
        checkpoint = max(checkpoint, pending[1].checkpoint)
        if pending[1].seq > seq:
            seq, hash_ = pending[1].seq, pending[1].hash
    db.info[_PENDING] = (directory, Head(seq, hash_, checkpoint))


def read(directory: Path) -> Head | None:
    """The marker in ``directory``; None if there is none; :class:`HeadError` if unreadable."""
    path = path_in(directory)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise HeadError(f"{path}: {exc.strerror or exc}") from None
    try:
        row = json.loads(text)
        return Head(seq=int(row["seq"]), hash=str(row["hash"]), checkpoint=int(row["checkpoint"]))
    except (ValueError, TypeError, KeyError) as exc:
        raise HeadError(f"{path}: {exc}") from None


@contextlib.contextmanager
def _file_lock(directory: Path) -> Iterator[None]:
    """Processes sharing the directory write one at a time (threads of this one hold ``_lock``)."""
    with (directory / (NAME + ".lock")).open("a") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield


def _merged(head: Head, current: Head) -> Head:
    """The newer entry of the two, with the newer checkpoint of the two."""
    newer = head if head.seq >= current.seq else current
    return Head(newer.seq, newer.hash, max(head.checkpoint, current.checkpoint))


def write(directory: Path, head: Head) -> None:
    """Move the marker forward to ``head`` (never back)."""
    with _lock:
        last = _written.get(directory)
        if last is not None and _merged(head, last) == last:
            return  # this process already wrote this head or a newer one
        directory.mkdir(parents=True, exist_ok=True)
        with _file_lock(directory):
            try:
                current = read(directory)
            except HeadError:
                current = None
            if current is not None:
                head = _merged(head, current)
            if head != current:
                temporary = path_in(directory).with_name(NAME + ".part")
                body = {"seq": head.seq, "hash": head.hash, "checkpoint": head.checkpoint}
                temporary.write_text(json.dumps(body, sort_keys=True) + "\n", encoding="utf-8")
                os.replace(temporary, path_in(directory))
            _written[directory] = head


def _after_commit(session: Session) -> None:
    pending: tuple[Path, Head] | None = session.info.pop(_PENDING, None)
    if pending is None:
        return
    try:
        write(*pending)
    except OSError:  # the entry is committed; a lagging marker only protects less
        log.exception("could not record the audit head in %s", pending[0])


def _after_rollback(session: Session, previous_transaction: object) -> None:
    """Any rollback, a savepoint's included, forgets the pending head: it may have been noted
    inside what was undone, and a marker that lags is safe where one ahead is a false alarm."""
    session.info.pop(_PENDING, None)


def listen(factory: sessionmaker[Session]) -> None:
    """Write the marker after each commit of ``factory``'s sessions that noted a head (once per factory)."""
    if not event.contains(factory, "after_commit", _after_commit):
        event.listen(factory, "after_commit", _after_commit)
        event.listen(factory, "after_soft_rollback", _after_rollback)


def unlisten(factory: sessionmaker[Session]) -> None:
    """Stop what :func:`listen` started (nothing if it was not)."""
    if event.contains(factory, "after_commit", _after_commit):
        event.remove(factory, "after_commit", _after_commit)
        event.remove(factory, "after_soft_rollback", _after_rollback)
