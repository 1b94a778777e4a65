"""The local record of sessions on this computer (who, when, ticket, grant, how it ended).

Kept by the agent itself, as JSON lines, so the user can check what happened without trusting
the server. ``VEO_AGENT_HISTORY`` moves the file (tests, portable installs). :func:`read` gives
the entries back newest first for ``veo agent --history``; a damaged line is skipped and
counted, a missing or unreadable file is said, never raised.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class HistoryEntry:
    started_at: str
    ended_at: str
    server: str
    session_id: str
    organization: str
    technician: str
    ticket_id: int
    ticket_title: str
    granted: list[str]
    ended_by: str
    reason: str
    #: when the user pressed Allow ("" if they never did, or a line from an older agent)
    allowed_at: str = ""
    #: a session on a managed device (issue 17): the policy that applied (ask, notify,
    #: unattended) and the technician's reason; "" for a session joined with a typed code
    device_policy: str = ""
    access_reason: str = ""


def history_path() -> Path:
    override = os.environ.get("VEO_AGENT_HISTORY")
    if override:
        return Path(override)
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "veo" / "history.jsonl"


def append(entry: HistoryEntry, path: Path | None = None) -> None:
    """Add one line; a failure is logged and never disturbs the session's end."""
    target = path or history_path()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(entry), ensure_ascii=False) + "\n")
    except OSError as exc:
        log.warning("could not write the session history to %s: %s", target, exc)


#: Read at most the last this many bytes (a history of years is a few hundred kilobytes).
MAX_READ_BYTES = 8 * 1024 * 1024


@dataclass(frozen=True)
class HistoryRead:
    """What :func:`read` found: entries newest first, lines skipped, and why nothing could be read."""

    entries: list[HistoryEntry] = field(default_factory=list)
    skipped: int = 0
    missing: bool = False
    error: str | None = None


def parse_time(value: str) -> datetime:
    """An ISO 8601 time from the file; one without a zone is taken as UTC (what the agent writes)."""
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


_OPTIONAL_FIELDS = ("allowed_at", "device_policy", "access_reason")
_STRING_FIELDS = tuple(
    f.name for f in fields(HistoryEntry) if f.name not in ("ticket_id", "granted", *_OPTIONAL_FIELDS)
)


def duration_seconds(entry: HistoryEntry) -> int | None:
    """How long the technician was connected: from Allow to the end, in whole seconds, cut down.

    The server's rule exactly (``RemoteSession.duration_seconds``: ``started_at`` is stamped at
    consent, ``ended_at`` at the end), so the user's record and the ticket say the same time.
    ``None`` when the user never allowed anything. A line from an agent older than this rule has
    no ``allowed_at``: its connection time is the best there is.
    """
    if entry.allowed_at:
        start = parse_time(entry.allowed_at)
    elif entry.granted:
        start = parse_time(entry.started_at)
    else:
        return None
    return max(0, int((parse_time(entry.ended_at) - start).total_seconds()))


def parse_line(line: str) -> HistoryEntry | None:
    """One line of the file as an entry, or ``None`` when it is damaged in any way."""
    try:
        data: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    if not all(isinstance(data.get(name), str) for name in _STRING_FIELDS):
        return None
    ticket_id, granted = data.get("ticket_id"), data.get("granted")
    if not isinstance(ticket_id, int) or isinstance(ticket_id, bool):
        return None
    if not isinstance(granted, list) or not all(isinstance(g, str) for g in granted):
        return None
    optional = {name: data.get(name, "") for name in _OPTIONAL_FIELDS}
    if not all(isinstance(value, str) for value in optional.values()):
        return None
    try:
        for name in ("started_at", "ended_at"):
            parse_time(data[name])
        if optional["allowed_at"]:
            parse_time(optional["allowed_at"])
    except ValueError:
        return None
    values = {name: data[name] for name in _STRING_FIELDS} | optional
    return HistoryEntry(ticket_id=ticket_id, granted=list(granted), **values)


def read(path: Path | None = None) -> HistoryRead:
    """All readable entries, newest first; never raises for a missing, unreadable or damaged file."""
    source = path or history_path()
    try:
        with source.open("rb") as handle:
            size = handle.seek(0, os.SEEK_END)
            start = max(0, size - MAX_READ_BYTES)  # the newest sessions are at the end
            handle.seek(start)
            raw = handle.read(MAX_READ_BYTES)
    except FileNotFoundError:
        return HistoryRead(missing=True)
    except OSError as exc:
        log.warning("could not read the session history %s: %s", source, exc)
        return HistoryRead(error=exc.strerror or str(exc))
    entries: list[HistoryEntry] = []
    skipped = 0
    lines = raw.decode("utf-8", "replace").splitlines()
    if start > 0 and lines:
        lines = lines[1:]  # cut in the middle
    for line in lines:
        if not line.strip():
            continue
        entry = parse_line(line)
        if entry is None:
            skipped += 1
        else:
            entries.append(entry)
    if skipped:
        log.warning("session history %s: %d damaged line(s) skipped", source, skipped)
    entries.sort(key=lambda e: parse_time(e.started_at), reverse=True)
    return HistoryRead(entries=entries, skipped=skipped)
