"""An account cut off, or held to a changed role: told to whoever carries its live connections.

A signed-in technician's console WebSocket outlives the request that opened it, so deleting the
account's browser sessions is not enough: the open socket, and the session it drives, must learn
of it. The account functions (:mod:`accounts`, :func:`service.set_password`, :mod:`totp`,
:func:`veo.server.policies.service.set_policy`) call :func:`note` inside their own transaction;
only when that transaction COMMITS are the listeners registered with :func:`listen` called (in the
committing thread), so a refused change cuts nothing. The signaling hub is such a listener
(``veo.server.sessions.revocation``). Auth knows nothing about sessions: this is the only link.

A process without a hub (``veo admin`` on the command line) notes to nobody; the hub's check of
every console message against the database (``sessions/revocation.py: standing``) covers it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal, get_args

from sqlalchemy import event
from sqlalchemy.orm import Session, SessionTransaction, sessionmaker

#: Why an account changed, strongest first (``_STRENGTH`` keeps this order).
Reason = Literal[
    "account_deactivated",
    "password_changed",
    "signed_out_everywhere",
    "totp_required",
    "role_changed",
    "policy_changed",
]
#: The account's credentials are gone: every connection of it closes, every live session it runs ends.
CUT_OFF: frozenset[Reason] = frozenset({"account_deactivated", "password_changed", "signed_out_everywhere"})
#: Its role or its role's policy changed: each live session is judged again (``standing``) and
#: ends only if the account may no longer run it as granted.
REVIEW: frozenset[Reason] = frozenset({"totp_required", "role_changed", "policy_changed"})
#: When one transaction notes several reasons for one account, the strongest is kept: the
#: reasons are listed in ``Reason`` strongest first.
_STRENGTH: tuple[Reason, ...] = get_args(Reason)
_KEY = "veo.revoked"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Revocation:
    """Account ``user_id`` changed for ``reason`` (committed)."""

    user_id: int
    reason: Reason


Listener = Callable[[list[Revocation]], None]


def note(db: Session, user_ids: Iterable[int], reason: Reason) -> None:
    """Remember, in this transaction, that these accounts changed; told on commit, dropped on rollback."""
    pending: dict[int, Reason] = db.info.setdefault(_KEY, {})
    for user_id in user_ids:
        before = pending.get(user_id)
        if before is None or _STRENGTH.index(reason) < _STRENGTH.index(before):
            pending[user_id] = reason


def _take(db: Session) -> list[Revocation]:
    pending: dict[int, Reason] = db.info.pop(_KEY, {})
    return [Revocation(user_id, reason) for user_id, reason in sorted(pending.items())]


def listen(factory: sessionmaker[Session], listener: Listener) -> None:
    """Call ``listener`` with what each committed transaction of ``factory`` noted (nothing: no call).

    The listener runs in the committing thread (often a worker thread of ``Database.run``): it
    must be quick and thread-safe; it hands the rest to its own event loop.
    """

    def committed(db: Session) -> None:
        done = _take(db)
        if not done:
            return
        try:
            listener(done)
        except Exception:  # the change is committed: a listener's failure must not undo its answer
            log.exception("telling the open connections of changed accounts failed")

    def rolled_back(db: Session, previous: SessionTransaction) -> None:
        if not previous.nested:  # a savepoint's rollback leaves the outer transaction's notes
            db.info.pop(_KEY, None)

    event.listen(factory, "after_commit", committed)
    event.listen(factory, "after_soft_rollback", rolled_back)
