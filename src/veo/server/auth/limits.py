"""Sign-in limits: a soft lockout per account and a growing delay per address.

Guessing passwords (or TOTP codes) is slowed two ways. An account that fails
:data:`ACCOUNT_MAX_FAILURES` times in a row is locked for :data:`ACCOUNT_LOCK`, so one account
cannot be ground down from many addresses, yet its owner is back in a quarter of an hour (a hard
lock would let anyone lock the admin out for good). An address that keeps failing waits longer
after each failure beyond :data:`ADDRESS_FREE_FAILURES`, doubling up to :data:`ADDRESS_MAX_DELAY`,
so spraying many accounts from one place crawls. Counters live in the database so every server
node sees the same ones; failures older than :data:`WINDOW` are forgotten. Every function takes
``now`` so that tests move a clock instead of sleeping.

**Reserve, then verify.** Reading "blocked until" and writing the failure as two steps let a
burst of parallel requests all read "not blocked" before any failure was written (200 parallel
attempts had 163 wrong passwords checked against an account that locks after 5). So an attempt
is counted *before* the password or code is checked, by :func:`reserve`, which reads and writes
the counter row in one step while holding its write lock (``SELECT … FOR UPDATE`` on
PostgreSQL; on SQLite the database's write lock, which the transaction took with
:func:`write_lock` before its first read).
An attempt that turns out right is taken back by :func:`refund`, so the right password costs the
account nothing. The reservation is committed on its own, before the slow hash runs, so the lock
is held for milliseconds and not for the argon2 time (on SQLite that lock is the whole
database's). An attempt refused at :func:`reserve` is not counted: it checked nothing.

Accounts are keyed by id; an e-mail that names no (active) account gets a counter of its own
(:func:`unknown_key`), so it locks and answers exactly like a real account and the answers do not
tell which e-mails exist. Addresses are grouped as every per-address limit groups them
(:func:`veo.server.addresses.address_group`: IPv6 by /64).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Executable, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from veo.server.addresses import address_group
from veo.server.auth.models import LoginFailures
from veo.server.auth.service import normalize_email

ACCOUNT_MAX_FAILURES = 5
ACCOUNT_LOCK = timedelta(minutes=15)
ADDRESS_FREE_FAILURES = 3
ADDRESS_FIRST_DELAY = timedelta(seconds=2)
ADDRESS_MAX_DELAY = timedelta(minutes=5)
WINDOW = timedelta(minutes=15)
_ACCOUNT_PREFIXES = ("account:", "email:")


def account_key(user_id: int) -> str:
    return f"account:{user_id}"


def unknown_key(email: str) -> str:
    """The lockout counter of an e-mail that names no active account (a digest: keys stay short)."""
    return "email:" + hashlib.sha256(normalize_email(email).encode()).hexdigest()


def address_key(address: str) -> str:
    return f"address:{address_group(address)}"


@dataclass(frozen=True)
class Attempt:
    """One attempt counted under ``key``; ``blocks_until`` is the block its failure sets, if any."""

    key: str
    blocks_until: datetime | None


def blocked_until(db: Session, key: str, now: datetime) -> datetime | None:
    """When ``key`` may try again, or None if it may now (a reading for pages and tests)."""
    row = db.get(LoginFailures, key)
    if row is None or row.blocked_until is None or row.blocked_until <= now:
        return None
    return row.blocked_until


def write_lock(db: Session) -> None:
    """On SQLite, take the database's write lock before anything is read in this transaction.

    Every transaction that calls :func:`reserve` or :func:`refund` calls this first (the sign-in
    steps do, in ``login._counters``): on SQLite, the lock must be held before the transaction's
    first read (the account looked up by e-mail), not only before the counter's.

    pysqlite opens a transaction only at the first write, so a read before it sees a snapshot
    another writer may change before ours writes. PostgreSQL needs nothing here: the rows are
    read ``FOR UPDATE``.
    """
    connection = db.connection()
    if connection.dialect.name == "sqlite":
        raw = connection.connection.dbapi_connection
        if not getattr(raw, "in_transaction", True):
            connection.exec_driver_sql("BEGIN IMMEDIATE")


def _locked_row(db: Session, key: str, now: datetime) -> LoginFailures:
    """The counter row of ``key``, created if missing, locked until the transaction ends.

    On PostgreSQL another transaction may delete the row between our insert (which found it and
    so did nothing) and our read (a sign-in's success clears it, :func:`forget_stale` drops it):
    then we insert again.
    """
    values = {"key": key, "failures": 0, "last_failure_at": now}
    if db.connection().dialect.name == "postgresql":
        create: Executable = (
            pg_insert(LoginFailures).values(values).on_conflict_do_nothing(index_elements=["key"])
        )
    else:
        create = sqlite_insert(LoginFailures).values(values).on_conflict_do_nothing(index_elements=["key"])
    query = (
        select(LoginFailures)
        .where(LoginFailures.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    for _ in range(5):
        db.execute(create)
        row = db.scalar(query)
        if row is not None:
            return row
    raise RuntimeError(f"login_failures row {key!r} keeps vanishing")


def _delay(failures: int, *, account: bool) -> timedelta | None:
    if account:
        return ACCOUNT_LOCK if failures >= ACCOUNT_MAX_FAILURES else None
    beyond = failures - ADDRESS_FREE_FAILURES
    if beyond <= 0:
        return None
    return min(ADDRESS_FIRST_DELAY * (1 << min(beyond - 1, 20)), ADDRESS_MAX_DELAY)


def reserve(db: Session, key: str, now: datetime) -> Attempt | datetime:
    """Check ``key`` and count one attempt in one step; when blocked, the time it may try again.

    The attempt counts as a failure from now on; :func:`refund` takes it back if it succeeds.
    Callers reserving several keys in one transaction do it in one fixed order (address, then
    account), so two requests cannot each hold the row the other waits for. The transaction has
    taken :func:`write_lock`.
    """
    row = _locked_row(db, key, now)
    account = key.startswith(_ACCOUNT_PREFIXES)
    if row.blocked_until is not None:
        if row.blocked_until > now:
            return row.blocked_until
        if account:
            row.failures = 0  # the lock has been served: a fresh series of attempts starts
    if row.failures and row.last_failure_at + WINDOW <= now:
        row.failures = 0  # a quiet spell forgives old failures
    row.failures += 1
    row.last_failure_at = now
    delay = _delay(row.failures, account=account)
    row.blocked_until = now + delay if delay is not None else None
    db.flush()
    return Attempt(key=key, blocks_until=row.blocked_until)


def refund(db: Session, attempt: Attempt) -> None:
    """Take back a reserved attempt that succeeded, and the block it alone had set (the
    transaction has taken :func:`write_lock`)."""
    row = db.scalar(
        select(LoginFailures)
        .where(LoginFailures.key == attempt.key)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if row is None or row.failures == 0:
        return
    row.failures -= 1
    delay = _delay(row.failures, account=attempt.key.startswith(_ACCOUNT_PREFIXES))
    row.blocked_until = row.last_failure_at + delay if delay is not None else None
    db.flush()


def clear(db: Session, key: str) -> None:
    """Forget ``key``'s failures (a successful sign-in of that account)."""
    db.execute(delete(LoginFailures).where(LoginFailures.key == key))


def forget_stale(db: Session, now: datetime) -> None:
    """Drop counters that neither block nor count any more (unknown e-mails would pile up).

    It runs every 30 seconds (``housekeeping.py``), so it must not read the whole table: the stale
    rows are found through the index on ``last_failure_at`` (migration 0016), and the work grows
    with the rows to drop, not with the table.

    Rows another transaction holds are skipped on PostgreSQL rather than waited for: a sign-in
    holding one is not held up, and the next pass drops the row if it is still stale.
    """
    stale = select(LoginFailures.key).where(
        LoginFailures.last_failure_at <= now - WINDOW,
        LoginFailures.blocked_until.is_(None) | (LoginFailures.blocked_until <= now),
    )
    if db.connection().dialect.name == "postgresql":
        stale = stale.with_for_update(skip_locked=True)
    db.execute(delete(LoginFailures).where(LoginFailures.key.in_(stale)))
