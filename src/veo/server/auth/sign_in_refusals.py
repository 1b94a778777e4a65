"""Refused sign-ins in the audit log: aggregated per address group and window, not one row each.

Anyone can send sign-ins without an account, and each one refused by a limit (the address is
throttled, or the account is locked) wrote its own row with the e-mail sent (up to 320
characters): 100 requests with made-up e-mails wrote 100 rows, 400 requests for a locked account
402 (issue 12's re-test). Those refusals check no password, so they go through the refused joins'
:class:`RefusalLog`: the first ``auth.login_throttled`` and the first ``auth.login_locked`` of
each address group and window are written at once, as before, with their e-mail; the rest are
counted into one ``auth.login_refusals`` row per window (count, reasons, first and last time, the
e-mails tried with their counts, at most 10, each cut to 100 characters, and how many attempts
were for others). Summaries are written by auth's 30-second housekeeping task and at shutdown
(``housekeeping.py``).

Wrong passwords and codes (``auth.login_failed``, ``auth.totp_failed``) and the lock they cause
(``auth.account_locked``) are still one row each: each was a real check, and the limits let
through only a few per address and account, so they cannot flood the log.

One log per :class:`Database` (a server has one; tests make many and must not share windows).
"""

from __future__ import annotations

import threading
from typing import Literal
from weakref import WeakKeyDictionary

from sqlalchemy.orm import Session

from veo.server.db.engine import Database
from veo.server.sessions.refusal_log import RefusalLog

ACTION = "auth.login_refusals"
Reason = Literal["throttled", "locked"]

_logs: WeakKeyDictionary[Database, RefusalLog] = WeakKeyDictionary()
_logs_lock = threading.Lock()


def log_for(database: Database) -> RefusalLog:
    """This database's sign-in refusal log, made on first use."""
    with _logs_lock:
        log = _logs.get(database)
        if log is None:
            log = _logs[database] = RefusalLog(action=ACTION, actor="anonymous", subject_key="emails")
        return log


def note(database: Database, address: str, reason: Reason, email: str) -> bool:
    """Count one refused sign-in; True when its own row must be written now."""
    return log_for(database).note(address, reason, email)


def write_due(s: Session, database: Database, *, everything: bool = False) -> int:
    """Write the summaries whose window closed (all of them at shutdown); how many rows."""
    log = log_for(database)
    tallies = log.due(everything=everything)
    log.write(s, tallies)
    return len(tallies)
