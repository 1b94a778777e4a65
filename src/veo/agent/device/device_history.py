"""The device's own history: enrolment, every change of what technicians may do (``policy_changed``,
with the notice shown), every session request (who, why, which policy, what the service did with
it) and the unenrolment, as JSON lines in the state directory.

Written by the service (root), readable by everyone (0644): the person at the computer opens it
with ``veo agent --history`` and sees what IT did without trusting the server. A damaged line is
skipped and counted; a missing file means nothing happened yet.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, get_args

from veo.agent.device.state import HISTORY_NAME, STATE_DIR_ENV, SYSTEM_STATE_DIR, ensure_dir, user_state_dir
from veo.agent.history import parse_time

log = logging.getLogger(__name__)

EventKind = Literal["enrolled", "policy_changed", "session_request", "unenrolled"]
_KINDS = set(get_args(EventKind))


@dataclass(frozen=True)
class DeviceEvent:
    """One line. Which fields mean something depends on ``kind``; the rest stay empty."""

    kind: EventKind
    at: str
    server: str = ""
    organization: str = ""
    device_name: str = ""
    group: str = ""
    #: enrolled: the group's policy; policy_changed: the new one; session_request: the policy the
    #: request carried
    policy: str = ""
    #: policy_changed: the group's policy before
    previous_policy: str = ""
    unattended: bool = False
    enrolled_by: str = ""
    technician: str = ""
    reason: str = ""
    ticket_id: int = 0
    ticket_title: str = ""
    session_id: str = ""
    #: session_request: "" when the session part started, else the problem (no_desktop, busy,
    #: policy_not_told: a policy above what the person at the computer was told, ...);
    #: policy_changed: "" when the new notice was shown, else why not (no_desktop, launch_failed)
    problem: str = ""
    #: session_request: the desktop user it started for; policy_changed: whose desktop showed the
    #: notice; unenrolled: "device", "server" or "local"
    detail: str = ""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def append(directory: Path, event: DeviceEvent) -> None:
    """Add one line (0644); a failure is logged, never raised: the history must not stop a session."""
    path = directory / HISTORY_NAME
    try:
        ensure_dir(directory)
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        with os.fdopen(fd, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(asdict(event), ensure_ascii=False) + "\n")
    except OSError as exc:
        log.warning("could not write the device history to %s: %s", path, exc)


@dataclass(frozen=True)
class DeviceHistoryRead:
    events: list[DeviceEvent] = field(default_factory=list)
    skipped: int = 0
    error: str | None = None


_TYPES = {f.name: f.type for f in fields(DeviceEvent)}


def parse_line(line: str) -> DeviceEvent | None:
    try:
        data: Any = json.loads(line)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("kind") not in _KINDS or not isinstance(data.get("at"), str):
        return None
    values: dict[str, Any] = {}
    for name, kind in _TYPES.items():
        if name not in data:
            continue
        value = data[name]
        expected = {"int": int, "bool": bool}.get(str(kind), str)
        if expected is int and (not isinstance(value, int) or isinstance(value, bool)):
            return None
        if expected is not int and not isinstance(value, expected):
            return None
        values[name] = value
    try:
        parse_time(values["at"])
    except ValueError:
        return None
    return DeviceEvent(**values)


def history_dirs(system_dir: Path = SYSTEM_STATE_DIR) -> list[Path]:
    """Where ``--history`` looks: ``VEO_AGENT_STATE_DIR`` if set; else the system service's
    directory when it exists (this computer is, or was, enrolled as a system device); only when
    it does not, this user's own (a service run without root: tests, ``--state-dir``).

    Never both: the user's own directory is writable by every program the user runs, so its lines
    must never be shown as the device's record next to (or instead of) what the root service
    wrote (review R1-5).
    """
    override = os.environ.get(STATE_DIR_ENV)
    if override:
        return [Path(override)]
    if system_dir.is_dir():
        return [system_dir]
    return [user_state_dir()]


def read(directories: list[Path] | None = None) -> DeviceHistoryRead:
    """Every readable event of those directories, newest first."""
    events: list[DeviceEvent] = []
    skipped = 0
    errors: list[str] = []
    for directory in directories if directories is not None else history_dirs():
        path = directory / HISTORY_NAME
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            continue
        except OSError as exc:
            errors.append(exc.strerror or str(exc))
            continue
        for line in text.splitlines():
            if not line.strip():
                continue
            event = parse_line(line)
            if event is None:
                skipped += 1
            else:
                events.append(event)
    events.reverse()  # later lines first among events of the same second (the sort is stable)
    events.sort(key=lambda e: parse_time(e.at), reverse=True)
    return DeviceHistoryRead(events=events, skipped=skipped, error="; ".join(errors) or None)
