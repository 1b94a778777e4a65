"""Sign-in limits: a soft lockout per account and a growing delay per address.

Guessing passwords (or TOTP codes) is slowed two ways. An account that fails
:data:`ACCOUNT_MAX_FAILURES` times in a row is locked for :data:`ACCOUNT_LOCK`, so one account
cannot be ground down from many addresses, yet its owner is back in a quarter of an hour (a hard
lock would let anyone lock the admin out for good). An address that keeps failing waits longer
after each failure beyond :data:`ADDRESS_FREE_FAILURES`, doubling up to :data:`ADDRESS_MAX_DELAY`,
so spraying many accounts from one place crawls. Counters live in the database so every server
node sees the same ones; failures older than :data:`WINDOW` are forgotten. Every function takes
``now`` so that tests move a clock instead of sleeping.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from veo.server.addresses import address_group
from veo.server.auth.models import LoginFailures

ACCOUNT_MAX_FAILURES = 5
ACCOUNT_LOCK = timedelta(minutes=15)
ADDRESS_FREE_FAILURES = 3
ADDRESS_FIRST_DELAY = timedelta(seconds=2)
ADDRESS_MAX_DELAY = timedelta(minutes=5)
WINDOW = timedelta(minutes=15)


def account_key(user_id: int) -> str:
    return f"account:{user_id}"


def address_key(address: str) -> str:
    """Grouped as every per-address limit groups addresses (IPv6 by /64), see ``addresses.py``."""
    return f"address:{address_group(address)}"


def blocked_until(db: Session, key: str, now: datetime) -> datetime | None:
    """When ``key`` may try again, or None if it may now."""
    row = db.get(LoginFailures, key)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return None
    return row.blocked_until


def _row(db: Session, key: str, now: datetime) -> LoginFailures:
    row = db.get(LoginFailures, key, with_for_update=True)
    if row is not None:
        return row
    try:
        with db.begin_nested():
            row = LoginFailures(key=key, failures=0, last_failure_at=now)
            db.add(row)
            db.flush()
    except IntegrityError:  # another request created it first
        row = db.get(LoginFailures, key, with_for_update=True, populate_existing=True)
        assert row is not None
    return row


def _delay(failures: int, *, account: bool) -> timedelta | None:
    if account:
        return ACCOUNT_LOCK if failures >= ACCOUNT_MAX_FAILURES else None
    beyond = failures - ADDRESS_FREE_FAILURES
    if beyond <= 0:
        return None
    return min(ADDRESS_FIRST_DELAY * (1 << min(beyond - 1, 20)), ADDRESS_MAX_DELAY)


def register_failure(db: Session, key: str, now: datetime) -> datetime | None:
    """Count one failure under ``key``; returns the new ``blocked_until`` if it now blocks."""
    row = _row(db, key, now)
    if row.failures and row.last_failure_at + WINDOW <= now:
        row.failures = 0  # a quiet spell forgives old failures
    row.failures += 1
    row.last_failure_at = now
    delay = _delay(row.failures, account=key.startswith("account:"))
    row.blocked_until = now + delay if delay is not None else None
    if key.startswith("account:") and delay is not None:
        row.failures = 0  # after the lock a fresh series of attempts starts
    db.flush()
    return row.blocked_until


def clear(db: Session, key: str) -> None:
    """Forget ``key``'s failures (a successful sign-in of that account)."""
    row = db.get(LoginFailures, key)
    if row is not None:
        db.delete(row)
