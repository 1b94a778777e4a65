"""Technician accounts, sign-in and the tokens that prove it (browser sessions, API tokens).

Tokens are 256-bit random strings handed to the client once; the database keeps only their
SHA-256, so a leaked backup cannot be replayed as a login. Sign-in takes the same time whether or
not the e-mail exists and fails with the same message, so nobody can probe for accounts.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.auth import passwords, revoked
from veo.server.auth.models import ROLES, ApiToken, User, WebSession
from veo.server.db.base import utcnow
from veo.server.errors import InvalidInput
from veo.server.lang import _

WEB_SESSION_LIFETIME = timedelta(hours=12)
API_TOKEN_LIFETIME = timedelta(hours=12)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_email(email: str) -> str:
    """The normalized address, or InvalidInput naming the ``email`` field."""
    email = normalize_email(email)
    if not email or len(email) > 320 or not _EMAIL.match(email):
        raise InvalidInput({"email": _("Enter a valid e-mail address, like ana@example.org.")})
    return email


def check_password(password: str, field: str = "password") -> str:
    if len(password) < passwords.MIN_LENGTH:
        raise InvalidInput(
            {field: _("The password must have at least %(n)d characters.") % {"n": passwords.MIN_LENGTH}}
        )
    if len(password) > passwords.MAX_LENGTH:
        raise InvalidInput({field: _("The password is too long.")})
    return password


def user_count(db: Session) -> int:
    return db.scalar(select(func.count()).select_from(User)) or 0


def get_by_email(db: Session, email: str) -> User | None:
    return db.scalar(select(User).where(User.email == normalize_email(email)))


def create_user(
    db: Session,
    email: str,
    *,
    name: str,
    role: str,
    password: str,
    must_change_password: bool,
    actor: str = "system",
) -> User:
    """Add an account; every field is checked before anything is written."""
    email = check_email(email)
    name = name.strip()
    if not name or len(name) > 200:
        raise InvalidInput({"name": _("Enter a name of 1 to 200 characters.")})
    if role not in ROLES:
        raise InvalidInput({"role": _("Unknown role; use one of: %(roles)s.") % {"roles": ", ".join(ROLES)}})
    check_password(password)
    if get_by_email(db, email) is not None:
        raise InvalidInput({"email": _("An account with this e-mail already exists.")})
    user = User(
        email=email,
        name=name,
        role=role,
        password_hash=passwords.hash_password(password),
        must_change_password=must_change_password,
    )
    db.add(user)
    db.flush()
    record(db, "user.created", actor=actor, details={"user": email, "role": role})
    return user


def set_password(
    db: Session,
    user: User,
    password: str,
    *,
    must_change: bool = False,
    actor: str | None = None,
    address: str = "",
) -> None:
    """Replace the password and sign out every browser of that account (a stolen cookie dies too).

    Its open consoles close and their live sessions end once this commits: a console opened with a
    stolen cookie must not outlive the password change meant to stop it.
    """
    check_password(password)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password = must_change
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    revoked.note(db, [user.id], "password_changed")  # open consoles close and their sessions end
    record(
        db, "user.password_changed", actor=actor or user.email, address=address, details={"user": user.email}
    )


def start_web_session(db: Session, user: User, *, address: str = "") -> tuple[str, WebSession]:
    """A new browser session; returns the cookie value (shown once) and the stored row."""
    token = secrets.token_urlsafe(32)
    session = WebSession(
        token_hash=token_digest(token),
        csrf_token=secrets.token_urlsafe(32),
        user_id=user.id,
        expires_at=utcnow() + WEB_SESSION_LIFETIME,
        address=address[:64],
    )
    db.add(session)
    db.flush()
    return token, session


def web_session_for(db: Session, token: str) -> WebSession | None:
    """The live session behind a cookie value (expired ones are deleted on sight)."""
    session = db.scalar(select(WebSession).where(WebSession.token_hash == token_digest(token)))
    if session is None:
        return None
    if session.expires_at <= utcnow() or not session.user.is_active:
        db.delete(session)
        return None
    return session


def end_web_session(db: Session, token: str) -> None:
    session = db.scalar(select(WebSession).where(WebSession.token_hash == token_digest(token)))
    if session is not None:
        record(db, "auth.logout", actor=session.user.email, address=session.address)
        db.delete(session)


def issue_api_token(db: Session, user: User, *, address: str = "") -> tuple[str, datetime]:
    token = secrets.token_urlsafe(32)
    expires = utcnow() + API_TOKEN_LIFETIME
    db.add(ApiToken(token_hash=token_digest(token), user_id=user.id, expires_at=expires))
    record(db, "auth.token_issued", actor=user.email, address=address)
    return token, expires


def user_for_api_token(db: Session, token: str) -> User | None:
    row = db.scalar(select(ApiToken).where(ApiToken.token_hash == token_digest(token)))
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row.user
