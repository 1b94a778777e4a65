"""What a check found, and how the findings are shown: one line each, or JSON for machines.

A finding carries its sentence already translated (the checks run with the operator's language
set), and what to do about it, so the printer only lays them out. ``ok`` and ``info`` need
nothing; ``warn`` and ``fail`` do, and make the command exit non-zero: a certificate that expires
next week or a node whose clock is off is not an outage yet, but someone must act.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable
from dataclasses import dataclass

from veo.i18n import N_
from veo.server.lang import _


class Status(enum.StrEnum):
    OK = "ok"
    INFO = "info"  # not configured or not checkable from here: nothing wrong, said for completeness
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One check's outcome: ``check`` is a stable id (``database``, ``turn:turn.example.org``...)."""

    check: str
    status: Status
    text: str
    advice: str = ""

    @property
    def needs_action(self) -> bool:
        return self.status in (Status.WARN, Status.FAIL)


def ok(check: str, text: str) -> Finding:
    return Finding(check, Status.OK, text)


def info(check: str, text: str, advice: str = "") -> Finding:
    return Finding(check, Status.INFO, text, advice)


def warn(check: str, text: str, advice: str) -> Finding:
    return Finding(check, Status.WARN, text, advice)


def fail(check: str, text: str, advice: str) -> Finding:
    return Finding(check, Status.FAIL, text, advice)


#: How each check is named on screen (its id stays English in JSON, for machines).
TITLES = {
    "database": N_("database"),
    "migrations": N_("migrations"),
    "clock": N_("this host's clock"),
    "nodes": N_("nodes"),
    "versions": N_("versions"),
    "node clocks": N_("nodes' clocks"),
    "coturn version": N_("coturn version"),
    "public URL": N_("public URL"),
    "certificate": N_("certificate"),
    "keys": N_("keys"),
    "audit key": N_("audit"),
}


def title(check: str) -> str:
    """``check`` in the reader's language; ``turn <url>`` and ``node <id>`` keep their name."""
    if check in TITLES:
        return _(TITLES[check])
    kind, _sep, name = check.partition(" ")
    if kind == "node" and name:
        return _("node %(id)s") % {"id": name}
    return check.replace("turn", "TURN", 1) if kind == "turn" else check.replace("redis", "Redis")


def _label(status: Status) -> str:
    labels = {
        Status.OK: _("[OK]"),
        Status.INFO: _("[NOTE]"),
        Status.WARN: _("[WARNING]"),
        Status.FAIL: _("[PROBLEM]"),
    }
    return labels[status]


def as_text(findings: Iterable[Finding]) -> str:
    """One line per finding: ``[OK]      database: ...``; what to do follows on the same line."""
    lines = []
    for finding in findings:
        # a library's error text may end a sentence without its full stop
        text = finding.text if finding.text.endswith((".", ")")) else finding.text + "."
        line = f"{_label(finding.status):<10} {title(finding.check)}: {text}"
        if finding.advice:
            line += " " + _("What to do: %(advice)s") % {"advice": finding.advice}
        lines.append(line)
    return "\n".join(lines)


def as_json(findings: Iterable[Finding]) -> str:
    items = list(findings)
    return json.dumps(
        {
            "ok": not any(f.needs_action for f in items),
            "checks": [
                {"check": f.check, "status": str(f.status), "message": f.text, "advice": f.advice}
                for f in items
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def exit_status(findings: Iterable[Finding]) -> int:
    """0 when nothing needs doing, 1 otherwise (2 stays "called wrong", as in every veo command)."""
    return 1 if any(f.needs_action for f in findings) else 0
