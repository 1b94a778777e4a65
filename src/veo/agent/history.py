"""The local record of sessions on this computer (who, when, ticket, grant, how it ended).

Kept by the agent itself, as JSON lines, so the user can check what happened without trusting
the server. ``VEO_AGENT_HISTORY`` moves the file (tests, portable installs).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

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
