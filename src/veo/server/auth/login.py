"""One sign-in attempt, start to finish: limits, password, second factor, the outcome to show.

Pages and the token API both go through :func:`check_password_step` and
:func:`check_second_factor`, so the limits and the audit trail are the same however someone signs
in. Refusals are returned, not raised, so that the failure counters and audit rows are committed
with the transaction; the caller turns the outcome into a page or a JSON error.
"""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.auth import limits, passwords, totp
from veo.server.auth.models import LoginChallenge, User
from veo.server.auth.service import get_by_email, token_digest
from veo.server.db.base import utcnow
from veo.server.lang import _
from veo.server.policies.service import policy_for_user

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


def _failed(db: Session, user: User | None, email: str, address: str, now: datetime, action: str) -> Outcome:
    """Count a failure for the address (and the account, if known); lock and audit when due."""
    record(db, action, actor="anonymous", address=address, details={"email": email[:320]})
    limits.register_failure(db, limits.address_key(address), now)
    if user is not None:
        locked = limits.register_failure(db, limits.account_key(user.id), now)
        if locked is not None:
            record(
                db,
                "auth.account_locked",
                actor="system",
                address=address,
                details={"user": user.email, "until": locked.isoformat()},
            )
    refusal = Refusal.INVALID_TOTP if action == "auth.totp_failed" else Refusal.INVALID_CREDENTIALS
    return Outcome(user=None, refusal=refusal)


def check_password_step(
    db: Session, email: str, password: str, *, address: str = "", now: datetime | None = None
) -> Outcome:
    """The first factor, under the address delay and the account lockout."""
    now = now or utcnow()
    address_blocked = limits.blocked_until(db, limits.address_key(address), now)
    if address_blocked is not None:
        record(db, "auth.login_throttled", actor="anonymous", address=address, details={"email": email[:320]})
        return Outcome(None, Refusal.TOO_MANY_REQUESTS, _seconds(address_blocked, now))
    user = get_by_email(db, email)
    if user is not None and user.is_active:
        account_blocked = limits.blocked_until(db, limits.account_key(user.id), now)
        if account_blocked is not None:
            passwords.dummy_verify(password)
            record(db, "auth.login_locked", actor="anonymous", address=address, details={"email": user.email})
            return Outcome(None, Refusal.ACCOUNT_LOCKED, _seconds(account_blocked, now))
        ok = passwords.verify_password(user.password_hash, password)
    else:
        passwords.dummy_verify(password)
        ok = False
    if not ok or user is None:
        return _failed(
            db,
            user if user is not None and user.is_active else None,
            email,
            address,
            now,
            "auth.login_failed",
        )
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    return Outcome(user)


def needs_second_factor(db: Session, user: User) -> bool:
    return totp.is_enrolled(db, user)


def must_enrol(db: Session, user: User) -> bool:
    """The role requires TOTP and the user has not enrolled yet."""
    return policy_for_user(db, user).totp_required and not totp.is_enrolled(db, user)


def check_second_factor(
    db: Session, user: User, code: str, *, address: str = "", now: datetime | None = None
) -> Outcome:
    """A TOTP or recovery code for an account whose password was right; failures count as sign-in failures."""
    now = now or utcnow()
    account_blocked = limits.blocked_until(db, limits.account_key(user.id), now)
    if account_blocked is not None:
        record(db, "auth.login_locked", actor="anonymous", address=address, details={"email": user.email})
        return Outcome(None, Refusal.ACCOUNT_LOCKED, _seconds(account_blocked, now))
    if not totp.verify(db, user, code, address=address, now=now):
        return _failed(db, user, user.email, address, now, "auth.totp_failed")
    return Outcome(user)


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
