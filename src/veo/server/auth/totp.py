"""Two-factor sign-in with TOTP (RFC 6238): enrolment, codes, recovery codes, reset.

The secret is stored sealed (``totp_seal.py``: AES-GCM under a key of the data directory), so
the database alone does not give anyone the codes. Enrolment stores a fresh secret unconfirmed;
it counts only once the user has typed a first valid code, which proves the authenticator app
holds it. Confirming also issues ten single-use recovery
codes, shown once and stored as SHA-256 (they carry 50 random bits, so a slow hash adds nothing).
Each accepted code moves ``last_step`` forward: the same code, or an older one, is refused
afterwards, so a code read over a shoulder or out of a proxy log cannot be replayed. At sign-in
that move is one conditional ``UPDATE … WHERE last_step < :step`` whose row count says who won
(likewise ``used_at IS NULL`` for a recovery code), so a code sent many times at once is
accepted once: reading ``last_step`` and writing it in two steps let eight parallel requests
with one code get eight tokens.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.auth import revoked, totp_seal
from veo.server.auth.models import ApiToken, LoginChallenge, RecoveryCode, TotpCredential, User, WebSession
from veo.server.db.base import utcnow

ISSUER = "veo"
RECOVERY_CODES = 10
STEP_SECONDS = 30
#: Steps either side of now that still count, for clocks a little out of step.
DRIFT_STEPS = 1


@dataclass(frozen=True)
class Enrolment:
    """What the enrolment page shows: the secret as text and as a QR code."""

    secret: str
    uri: str
    qr_data_uri: str

    @property
    def secret_groups(self) -> list[str]:
        """The key in groups of four (``ABCD EFGH …``), as authenticator apps accept it typed."""
        return [self.secret[i : i + 4] for i in range(0, len(self.secret), 4)]


def credential(db: Session, user: User) -> TotpCredential | None:
    return db.get(TotpCredential, user.id)


def is_enrolled(db: Session, user: User) -> bool:
    row = credential(db, user)
    return row is not None and row.confirmed_at is not None


def _enrolment(secret: str, user: User, issuer: str) -> Enrolment:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=issuer)
    # A standalone SVG document (with its xmlns: an image decoded from a data: URI is not inline
    # SVG, and without the namespace Chromium cannot decode it and shows the alt text instead).
    qr_data_uri = segno.make(uri, error="m").svg_data_uri(scale=5, border=4)
    return Enrolment(secret=secret, uri=uri, qr_data_uri=qr_data_uri)


def start_enrolment(db: Session, user: User, *, issuer: str = ISSUER) -> Enrolment:
    """The pending secret, created on first call; the caller checks the user is not enrolled yet."""
    row = credential(db, user)
    if row is None:
        secret = pyotp.random_base32()
        row = TotpCredential(user_id=user.id, secret=totp_seal.active().seal(secret, user.id))
        db.add(row)
        db.flush()
        return _enrolment(secret, user, issuer)
    pending = secret_of(row)
    if pending is None:  # sealed under a key this server no longer has: start afresh
        pending = pyotp.random_base32()
        row.secret = totp_seal.active().seal(pending, user.id)
    return _enrolment(pending, user, issuer)


def secret_of(row: TotpCredential) -> str | None:
    """The row's secret in clear (``totp_seal.py``); None when the key at hand cannot open it."""
    return totp_seal.active().open(row.secret, row.user_id)


def _step(now: datetime) -> int:
    return int(now.timestamp()) // STEP_SECONDS


def _normalize(code: str) -> str:
    return "".join(ch for ch in code if ch.isalnum()).lower()


def _matching_step(row: TotpCredential, code: str, now: datetime) -> int | None:
    """The time step ``code`` belongs to, if valid now and newer than the last one used."""
    digits = _normalize(code)
    secret = secret_of(row)
    if len(digits) != 6 or not digits.isdigit() or secret is None:
        return None
    totp = pyotp.TOTP(secret)
    current = _step(now)
    for step in range(current - DRIFT_STEPS, current + DRIFT_STEPS + 1):
        if row.last_step is not None and step <= row.last_step:
            continue
        if hmac.compare_digest(totp.generate_otp(step), digits):
            return step
    return None


def _accept_code(row: TotpCredential, code: str, now: datetime) -> bool:
    """True and ``last_step`` advanced when ``code`` is valid and newer than the last one used.

    For a row only this transaction can reach (an enrolment being confirmed); sign-in uses
    :func:`_claim_step`, which is atomic between transactions.
    """
    step = _matching_step(row, code, now)
    if step is None:
        return False
    row.last_step = step
    return True


def _claim_step(db: Session, user_id: int, step: int) -> bool:
    """Move ``last_step`` to ``step`` unless some transaction already used it or a later one."""
    claimed = db.execute(
        update(TotpCredential)
        .where(
            TotpCredential.user_id == user_id,
            or_(TotpCredential.last_step.is_(None), TotpCredential.last_step < step),
        )
        .values(last_step=step)
        .execution_options(synchronize_session=False)
    )
    return bool(claimed.rowcount == 1)  # type: ignore[attr-defined]


def _recovery_digest(code: str) -> str:
    return hashlib.sha256(_normalize(code).encode()).hexdigest()


def _new_recovery_code() -> str:
    raw = base64.b32encode(secrets.token_bytes(7)).decode().lower()[:10]
    return f"{raw[:5]}-{raw[5:]}"


def confirm_enrolment(
    db: Session, user: User, code: str, *, address: str = "", now: datetime | None = None
) -> list[str] | None:
    """Turn the pending secret on if ``code`` matches; returns the recovery codes (shown once)."""
    row = credential(db, user)
    if row is None or row.confirmed_at is not None:
        return None
    now = now or utcnow()
    if not _accept_code(row, code, now):
        return None
    row.confirmed_at = now
    codes = [_new_recovery_code() for _ in range(RECOVERY_CODES)]
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.add_all(RecoveryCode(user_id=user.id, code_hash=_recovery_digest(c)) for c in codes)
    record(db, "auth.totp_enrolled", actor=user.email, address=address)
    return codes


def verify(db: Session, user: User, code: str, *, address: str = "", now: datetime | None = None) -> bool:
    """A sign-in's second factor: a current TOTP code, or one unused recovery code (then spent)."""
    row = credential(db, user)
    if row is None or row.confirmed_at is None:
        return False
    now = now or utcnow()
    step = _matching_step(row, code, now)
    if step is not None:
        return _claim_step(db, user.id, step)
    digest = _recovery_digest(code)
    spare = db.scalar(
        select(RecoveryCode.id).where(
            RecoveryCode.user_id == user.id, RecoveryCode.code_hash == digest, RecoveryCode.used_at.is_(None)
        )
    )
    if spare is None:
        return False
    spent = db.execute(
        update(RecoveryCode)
        .where(RecoveryCode.id == spare, RecoveryCode.used_at.is_(None))
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        return False  # another request spent it first
    left = db.scalars(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    record(
        db,
        "auth.recovery_code_used",
        actor=user.email,
        address=address,
        details={"remaining": len(left)},
    )
    return True


def remaining_recovery_codes(db: Session, user: User) -> int:
    rows = db.scalars(
        select(RecoveryCode.id).where(RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None))
    ).all()
    return len(rows)


def reset(db: Session, user: User, *, actor: str, address: str = "") -> None:
    """Forget the user's TOTP and recovery codes and sign them out everywhere (a lost phone).

    The next sign-in asks them to enrol again when their role requires it.
    """
    db.execute(delete(TotpCredential).where(TotpCredential.user_id == user.id))
    db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    db.execute(delete(LoginChallenge).where(LoginChallenge.user_id == user.id))
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    revoked.note(db, [user.id], "signed_out_everywhere")  # a lost phone may be in other hands
    record(db, "auth.totp_reset", actor=actor, address=address, details={"user": user.email})
