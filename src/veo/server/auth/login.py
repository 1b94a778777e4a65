"""One sign-in attempt, start to finish: limits, password, second factor, the outcome to show.

Pages and the token API both go through :func:`check_password_step` and
:func:`check_second_factor` (the password form through :func:`check_current_password`), so the
limits and the audit trail are the same however someone signs in. Refusals are returned, not
raised; the caller turns the outcome into a page or a JSON error.

A password attempt runs in three short transactions, not one: (1) reserve it under the
address's and the account's counters (``limits.reserve``: check and count in one step, so a
parallel burst gets no more tries than one request after another), committed at once; (2) check
the password with no transaction open (argon2 takes tens of milliseconds, and SQLite's write
lock is the whole database's); (3) take the reservation back if it was right, or audit the
failure (and the lock it caused). A TOTP code needs no slow hash, so its three steps share one
transaction. Each attempt therefore opens its own sessions from the :class:`Database`. An
unknown e-mail goes through the same steps, its own counter and a dummy hash, so its answers and
their timing match an existing account's.
"""

from __future__ import annotations

import math
import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from functools import partial
from typing import TypeVar

import anyio.to_thread
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.auth import limits, passwords, sign_in_refusals, totp
from veo.server.auth.models import LoginChallenge, User
from veo.server.auth.service import get_by_email, normalize_email, token_digest
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.lang import _
from veo.server.policies.service import policy_for_user

T = TypeVar("T")

CHALLENGE_LIFETIME = timedelta(minutes=5)


class Refusal(StrEnum):
    """Why a sign-in did not succeed; the values are the API's error codes."""

    INVALID_CREDENTIALS = "invalid_credentials"
    ACCOUNT_LOCKED = "account_locked"
    TOO_MANY_REQUESTS = "too_many_requests"
    TOTP_REQUIRED = "totp_required"
    INVALID_TOTP = "invalid_totp"


@dataclass(frozen=True)
class Outcome:
    """``user`` when the step passed; otherwise ``refusal`` and, when blocked, the seconds to wait."""

    user: User | None
    refusal: Refusal | None = None
    retry_after: int = 0

    @property
    def status(self) -> int:
        return 429 if self.refusal in (Refusal.ACCOUNT_LOCKED, Refusal.TOO_MANY_REQUESTS) else 401

    def message(self) -> str:
        """What to tell the person; never whether the e-mail exists."""
        minutes = max(1, math.ceil(self.retry_after / 60))
        if self.refusal is Refusal.ACCOUNT_LOCKED:
            return _(
                "Too many failed sign-ins for this account: it is locked for %(minutes)d minutes. "
                "Try again later or ask an administrator."
            ) % {"minutes": minutes}
        if self.refusal is Refusal.TOO_MANY_REQUESTS:
            return _(
                "Too many failed sign-ins from your address; wait %(seconds)d seconds and try again."
            ) % {"seconds": max(1, self.retry_after)}
        if self.refusal is Refusal.TOTP_REQUIRED:
            return _("Enter the 6-digit code from your authenticator app (field “totp”).")
        if self.refusal is Refusal.INVALID_TOTP:
            return _("That code is not valid or was already used. Enter the current code.")
        return _("Wrong e-mail or password.")


def _seconds(until: datetime, now: datetime) -> int:
    return max(1, math.ceil((until - now).total_seconds()))


async def in_thread(step: Callable[..., T], *args: object, **kwargs: object) -> T:
    """Run one of the steps below on a worker thread (they block on the database and argon2).

    Under the password limiter's few threads, not anyio's default 40: a burst of sign-ins then
    waits here, in the event loop, and the other requests keep their threads (``passwords.py``).
    """
    return await anyio.to_thread.run_sync(partial(step, *args, **kwargs), limiter=passwords.limiter())


#: One sign-in transaction at a time per process on SQLite (see :func:`_counters`).
_SQLITE_GATE = threading.Lock()


@contextmanager
def _counters(database: Database) -> Iterator[Session]:
    """A transaction that may read and write the counters atomically (``limits.write_lock``).

    On SQLite that is the whole database's write lock, which waiting connections compete for by
    retrying for at most its busy timeout, in no order: a burst of 100 parallel sign-ins had
    some wait past the 5 s and fail with "database is locked". Queueing them on a lock of this
    process first leaves one of them at a time competing with the other writers. (One process
    per SQLite database is the supported set-up; PostgreSQL queues row locks fairly itself.)
    """
    gate = _SQLITE_GATE if database.url.startswith("sqlite") else nullcontext()
    with gate, database.session() as s:
        limits.write_lock(s)
        yield s


@dataclass(frozen=True)
class _Reserved:
    """Step (1)'s result: the counted attempts, or the refusal when a counter blocks."""

    address: limits.Attempt | None = None
    account: limits.Attempt | None = None
    refusal: Outcome | None = None


def _reserve(
    s: Session, database: Database, account_key: str, email: str, address: str, now: datetime
) -> _Reserved:
    """Count the attempt under the address, then the account (always in this order).

    A refusal here checked no password: only the first of each kind per address group and
    window gets its own audit row, the rest one summary (``sign_in_refusals.py``). Dropping stale
    counters and writing those summaries is not done here but by ``housekeeping.py``.
    """
    by_address = limits.reserve(s, limits.address_key(address), now)
    if isinstance(by_address, datetime):
        if sign_in_refusals.note(database, address, "throttled", email):
            record(
                s, "auth.login_throttled", actor="anonymous", address=address, details={"email": email[:320]}
            )
        return _Reserved(refusal=Outcome(None, Refusal.TOO_MANY_REQUESTS, _seconds(by_address, now)))
    by_account = limits.reserve(s, account_key, now)
    if isinstance(by_account, datetime):
        limits.refund(s, by_address)  # nothing was checked: the address is not charged
        if sign_in_refusals.note(database, address, "locked", email):
            record(s, "auth.login_locked", actor="anonymous", address=address, details={"email": email[:320]})
        return _Reserved(refusal=Outcome(None, Refusal.ACCOUNT_LOCKED, _seconds(by_account, now)))
    return _Reserved(address=by_address, account=by_account)


def _settle(
    s: Session, reserved: _Reserved, ok: bool, *, email: str, known: bool, address: str, action: str
) -> None:
    """Step (3): a right attempt is taken back; a wrong one stays counted and is audited."""
    assert reserved.address is not None and reserved.account is not None
    if ok:
        limits.refund(s, reserved.address)
        limits.refund(s, reserved.account)
        return
    record(s, action, actor="anonymous", address=address, details={"email": email[:320]})
    until = reserved.account.blocks_until
    if until is not None:
        details: dict[str, object] = {"user": email[:320], "until": until.isoformat()}
        if not known:
            details["exists"] = False  # for the investigator; the answer does not say it
        record(s, "auth.account_locked", actor="system", address=address, details=details)


def check_password_step(
    database: Database, email: str, password: str, *, address: str = "", now: datetime | None = None
) -> Outcome:
    """The first factor, under the address delay and the account lockout."""
    now = now or utcnow()
    email = normalize_email(email)
    with _counters(database) as s:
        user = get_by_email(s, email)
        if user is not None and not user.is_active:
            user = None  # answered like an unknown e-mail
        key = limits.account_key(user.id) if user is not None else limits.unknown_key(email)
        reserved = _reserve(s, database, key, email, address, now)
    if reserved.refusal is not None:
        if reserved.refusal.refusal is Refusal.ACCOUNT_LOCKED:
            passwords.dummy_verify(password)  # a locked unknown e-mail takes as long as a locked account
        return reserved.refusal
    if user is not None:
        ok = passwords.verify_password(user.password_hash, password)
    else:
        passwords.dummy_verify(password)
        ok = False
    rehashed = (
        passwords.hash_password(password)
        if ok and user and passwords.needs_rehash(user.password_hash)
        else None
    )
    with _counters(database) as s:
        _settle(
            s, reserved, ok, email=email, known=user is not None, address=address, action="auth.login_failed"
        )
        if ok and user is not None and rehashed is not None:
            stored = s.get(User, user.id)
            if stored is not None:
                stored.password_hash = rehashed
    if not ok or user is None:
        return Outcome(user=None, refusal=Refusal.INVALID_CREDENTIALS)
    return Outcome(user)


def check_current_password(
    database: Database, user: User, password: str, *, address: str = "", now: datetime | None = None
) -> Outcome:
    """The current password on the change-password form: the same counters as sign-in.

    A stolen session could otherwise guess the password there without limit (and learn it for
    other sites); sharing the counters means the form and sign-in together get five tries.
    """
    now = now or utcnow()
    with _counters(database) as s:
        account = s.get(User, user.id)
        reserved = _reserve(s, database, limits.account_key(user.id), user.email, address, now)
    if reserved.refusal is not None:
        return reserved.refusal
    ok = account is not None and passwords.verify_password(account.password_hash, password)
    with _counters(database) as s:
        _settle(
            s,
            reserved,
            ok,
            email=user.email,
            known=True,
            address=address,
            action="user.password_change_failed",
        )
    return Outcome(user) if ok else Outcome(None, Refusal.INVALID_CREDENTIALS)


def needs_second_factor(db: Session, user: User) -> bool:
    return totp.is_enrolled(db, user)


def must_enrol(db: Session, user: User) -> bool:
    """The role requires TOTP and the user has not enrolled yet."""
    return policy_for_user(db, user).totp_required and not totp.is_enrolled(db, user)


def check_second_factor(
    database: Database, user: User, code: str, *, address: str = "", now: datetime | None = None
) -> Outcome:
    """A TOTP or recovery code for an account whose password was right; failures count as sign-in failures.

    No slow hash here, so reserving, checking and settling are one transaction, which holds the
    counters' locks throughout; the code itself is spent atomically (``totp.verify``), so of
    many requests with one code one wins.
    """
    now = now or utcnow()
    with _counters(database) as s:
        reserved = _reserve(s, database, limits.account_key(user.id), user.email, address, now)
        if reserved.refusal is not None:
            return reserved.refusal
        account = s.get(User, user.id)
        ok = account is not None and totp.verify(s, account, code, address=address, now=now)
        _settle(s, reserved, ok, email=user.email, known=True, address=address, action="auth.totp_failed")
    return Outcome(user) if ok else Outcome(None, Refusal.INVALID_TOTP)


def succeeded(db: Session, user: User, *, address: str = "") -> None:
    """Clear the account's failures and audit the sign-in."""
    limits.clear(db, limits.account_key(user.id))
    record(db, "auth.login", actor=user.email, address=address)


def start_challenge(db: Session, user: User, *, now: datetime | None = None) -> str:
    """A short-lived token for the TOTP step (its own cookie; not a signed-in session)."""
    now = now or utcnow()
    db.execute(delete(LoginChallenge).where(LoginChallenge.expires_at <= now))
    token = secrets.token_urlsafe(32)
    db.add(
        LoginChallenge(token_hash=token_digest(token), user_id=user.id, expires_at=now + CHALLENGE_LIFETIME)
    )
    db.flush()
    return token


def challenge_user(db: Session, token: str, *, now: datetime | None = None) -> User | None:
    now = now or utcnow()
    row = db.scalar(select(LoginChallenge).where(LoginChallenge.token_hash == token_digest(token)))
    if row is None or row.expires_at <= now or not row.user.is_active:
        return None
    return row.user


def end_challenge(db: Session, token: str) -> None:
    db.execute(delete(LoginChallenge).where(LoginChallenge.token_hash == token_digest(token)))
