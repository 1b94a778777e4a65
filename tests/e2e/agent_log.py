"""Read the agent's log file through the cross-team contract (``docs/architecture.md`` + brief).

The contract lines: ``sas=DDDDDD``; ``dropped type=<type> reason=<reason>``;
``ui-geometry <window> <json of ROOT rectangles>`` (consent, code, bar, chat, sysinfo...);
``session started granted=...``; ``control paused`` / ``control resumed``;
``session ended by=<who> reason=<why>``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from .xdisplay import Rect

_SAS = re.compile(r"\bsas=(\d{6})\b")
_GEOMETRY = re.compile(r"ui-geometry (\S+) (\{.*\})\s*$")
_DROPPED = re.compile(r"dropped type=(\S+) reason=(\S+)")
_STARTED = re.compile(r"session started granted=(\S*)")
_ENDED = re.compile(r"session ended by=(\S+) reason=(\S*)")


class AgentLog:
    """The agent's ``--log-file``: re-read on every question (it is small), never cached."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def lines(self) -> list[str]:
        try:
            return self.path.read_text(errors="replace").splitlines()
        except FileNotFoundError:
            return []

    def contains(self, text: str) -> bool:
        return any(text in line for line in self.lines())

    def count(self, text: str) -> int:
        return sum(text in line for line in self.lines())

    def sas(self) -> str | None:
        for line in reversed(self.lines()):
            match = _SAS.search(line)
            if match:
                return match.group(1)
        return None

    def geometry(self, window: str, after: str | None = None) -> dict[str, Rect] | None:
        """The latest layout logged for ``window`` (windows re-log when they move or change).

        With ``after``, only a layout logged after the last line containing that text counts.
        """
        lines = self.lines()
        if after is not None:
            marks = [i for i, line in enumerate(lines) if after in line]
            lines = lines[marks[-1] + 1 :] if marks else []
        for line in reversed(lines):
            match = _GEOMETRY.search(line)
            if match and match.group(1) == window:
                data = json.loads(match.group(2))
                return {name: Rect.from_list(rect) for name, rect in data.items()}
        return None

    def consent_layout(self, after: int = 0) -> dict[str, Rect] | None:
        """The consent dialog's layout once Allow is enabled; None until then.

        The dialog is on the screen as soon as the join is answered, often before the SAS is known.
        On a display with no window manager (Xvfb) the agent logs a layout the code changed before
        it logs ``consent allow enabled`` (``ui/consent.py``), so once that line is there (at or
        after line ``after``: the SAS line of this session), the last layout logged is where the
        buttons are. Read by the end-to-end flow and by the integration tests of the agent process.
        """
        if not any("consent allow enabled" in line for line in self.lines()[after:]):
            return None
        layout = self.geometry("consent")
        assert layout is not None, "the agent enabled Allow but never logged `ui-geometry consent`"
        return layout

    def dropped(self) -> list[tuple[str, str]]:
        """Every ``(type, reason)`` the agent dropped, in order."""
        found = []
        for line in self.lines():
            match = _DROPPED.search(line)
            if match:
                found.append((match.group(1), match.group(2)))
        return found

    def granted(self) -> list[str] | None:
        for line in reversed(self.lines()):
            match = _STARTED.search(line)
            if match:
                return [p for p in match.group(1).split(",") if p]
        return None

    def ended(self) -> tuple[str, str] | None:
        for line in reversed(self.lines()):
            match = _ENDED.search(line)
            if match:
                return match.group(1), match.group(2)
        return None
