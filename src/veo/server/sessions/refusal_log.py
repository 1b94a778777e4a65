"""Refused joins in the audit log: aggregated per address group and window, not one row each.

Anyone can send a wrong code without signing in, so one audit row per refusal let anyone fill the
log (issue 12: 1,000 rows in 2.3 s) and queue every writer behind the audit lock. The investigator
still needs who tried, how often, why they were refused, and when. So, per address group (IPv6 by
/64, as the limits count) and window (default 5 minutes from the group's first refusal):

- the first refusal for each reason is written at once, as before (``session.code_rejected``,
  ``{"reason": ...}``): the moment an attack starts is in the log with its exact time;
- every further refusal is only counted here, and when the window closes one summary row says
  how many, for which reasons, between which times (``{"count", "reasons", "first_at",
  "last_at"}``), under the first full address seen. Windows are flushed by the next refusal and
  by the hub's periodic loop, and at shutdown.

Bounded whatever the flood: at most ``max_immediate`` immediate rows per window for all groups
together and ``max_groups`` groups counted one by one; refusals beyond that are counted under one
tally with an empty address (``"other_addresses": true``). The chain is untouched: summaries are
ordinary appends through ``audit.service.record``. What is lost on a crash: the counts of the open
windows (at most one window of refusals after each immediate row); the immediate rows are not.

Refused sign-ins use the same class (``auth/sign_in_refusals.py``), with their own action and the
e-mails tried (``subject``): at most ``max_subjects`` distinct ones per tally, each cut to
``subject_length`` characters, the rest counted as one number. Sign-ins are checked on worker
threads, so every method takes the log's lock.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.orm import Session

from veo.server.addresses import address_group
from veo.server.audit.service import record
from veo.server.db.base import utcnow

ACTION = "session.code_rejected"
ACTOR = "agent"
OTHERS = "*"


@dataclass
class Tally:
    """Refusals of one address group in one window that were counted, not written one by one."""

    address: str
    opened: float
    first_at: datetime | None = None
    last_at: datetime | None = None
    reasons: Counter[str] = field(default_factory=Counter)
    written: set[str] = field(default_factory=set)
    #: what the counted refusals were for (sign-in: the e-mails), by how many; ``""`` when unused
    subject_key: str = ""
    subjects: Counter[str] = field(default_factory=Counter)
    other_subjects: int = 0

    @property
    def count(self) -> int:
        return sum(self.reasons.values())

    def details(self) -> dict[str, object]:
        assert self.first_at is not None and self.last_at is not None
        details: dict[str, object] = {
            "count": self.count,
            "reasons": dict(sorted(self.reasons.items())),
            "first_at": self.first_at.isoformat(timespec="seconds"),
            "last_at": self.last_at.isoformat(timespec="seconds"),
        }
        if self.subject_key and (self.subjects or self.other_subjects):
            details[self.subject_key] = dict(sorted(self.subjects.items()))
            if self.other_subjects:
                details[f"other_{self.subject_key}"] = self.other_subjects
        if not self.address:
            details["other_addresses"] = True
        return details

    def count_subject(self, subject: str, *, limit: int, length: int) -> None:
        """Count one refusal under what it was for; past ``limit`` distinct ones, only a number."""
        subject = subject[:length]
        if subject in self.subjects or len(self.subjects) < limit:
            self.subjects[subject] += 1
        else:
            self.other_subjects += 1


class RefusalLog:
    """Refusals of one kind (``action``), counted per address group and window; thread-safe."""

    def __init__(
        self,
        *,
        action: str = ACTION,
        actor: str = ACTOR,
        subject_key: str = "",
        max_subjects: int = 10,
        subject_length: int = 100,
        window_seconds: float = 300.0,
        max_immediate: int = 100,
        max_groups: int = 500,
        clock: Callable[[], float] = time.monotonic,
        wallclock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.action = action
        self.actor = actor
        self.subject_key = subject_key
        self.max_subjects = max_subjects
        self.subject_length = subject_length
        self.window = window_seconds
        self.max_immediate = max_immediate
        self.max_groups = max_groups
        self._clock = clock
        self._wallclock = wallclock
        self._open: dict[str, Tally] = {}
        self._closed: list[Tally] = []
        self._immediate_since = clock()
        self._immediate = 0
        self._lock = threading.Lock()

    def note(self, address: str, reason: str, subject: str = "") -> bool:
        """Count one refusal; True when it must be written now (first of its reason in the window)."""
        with self._lock:
            return self._note(address, reason, subject)

    def _note(self, address: str, reason: str, subject: str) -> bool:
        now = self._clock()
        self._close_expired(now)
        if now - self._immediate_since >= self.window:
            self._immediate_since, self._immediate = now, 0
        key = address_group(address)
        tally = self._open.get(key)
        if tally is None:
            if len(self._open) >= self.max_groups:
                key = OTHERS
                tally = self._open.get(key)
            if tally is None:
                tally = self._open[key] = Tally(
                    address if key != OTHERS else "", now, subject_key=self.subject_key
                )
        if key != OTHERS and reason not in tally.written and self._immediate < self.max_immediate:
            tally.written.add(reason)
            self._immediate += 1
            return True
        stamp = self._wallclock()
        tally.first_at = tally.first_at or stamp
        tally.last_at = stamp
        tally.reasons[reason] += 1
        if self.subject_key:
            tally.count_subject(subject, limit=self.max_subjects, length=self.subject_length)
        return False

    def _close_expired(self, now: float) -> None:
        # Tallies are opened in time order and dicts keep insertion order: stop at the first open one.
        while self._open:
            key, tally = next(iter(self._open.items()))
            if now - tally.opened < self.window:
                return
            del self._open[key]
            if tally.count:
                self._closed.append(tally)

    def due(self, *, everything: bool = False) -> list[Tally]:
        """Tallies whose window has closed (all of them with ``everything``, at shutdown), once each."""
        with self._lock:
            self._close_expired(float("inf") if everything else self._clock())
            closed, self._closed = self._closed, []
            return closed

    def pending(self) -> int:
        """Refusals counted and not yet written (for tests and the memory check)."""
        with self._lock:
            return sum(t.count for t in self._open.values()) + sum(t.count for t in self._closed)

    def write(self, db: Session, tallies: list[Tally]) -> None:
        """One audit row per closed tally, under this log's action; never a code or a password."""
        for tally in tallies:
            record(db, self.action, actor=self.actor, address=tally.address, details=tally.details())
