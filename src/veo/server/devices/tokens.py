"""Enrolment tokens: created by an administrator for one group, expiring, single use, revocable.

The token itself (``veo-enrol-`` + 32 base32 letters, 160 random bits) is returned once, by
:func:`create_token`; only its SHA-256 is stored, so a copy of the database enrols nothing. A
token is spent by one conditional UPDATE in ``enrol.py``.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.device import TOKEN_PREFIX
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.devices.errors import DeviceError
from veo.server.devices.groups import Actor, actor_name, get_group, require_admin
from veo.server.devices.models import EnrolmentToken
from veo.server.devices.text import has_control
from veo.server.errors import InvalidInput
from veo.server.lang import _

TokenStatus = Literal["active", "used", "expired", "revoked"]
#: A token lives at most 30 days (an enrolment is a planned job, not a standing key).
MAX_TTL_HOURS = 24 * 30
DEFAULT_TTL_HOURS = 24


def new_secret() -> str:
    """``veo-enrol-`` and 32 lowercase base32 letters (20 random bytes)."""
    return TOKEN_PREFIX + base64.b32encode(secrets.token_bytes(20)).decode().lower()


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def status(token: EnrolmentToken, now: datetime | None = None) -> TokenStatus:
    """Revoked and used first (they are final), then expired."""
    if token.revoked_at is not None:
        return "revoked"
    if token.used_at is not None:
        return "used"
    if token.expires_at <= (now or utcnow()):
        return "expired"
    return "active"


def _clean_label(raw: object) -> str:
    if not isinstance(raw, str) or len(raw) > 120 or has_control(raw):
        raise InvalidInput({"label": _("The label is limited to 120 characters on one line.")})
    return raw.strip()


def _clean_ttl(raw: object) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or not 1 <= raw <= MAX_TTL_HOURS:
        raise InvalidInput(
            {"ttl_hours": _("A token is valid for 1 to %(most)d hours.") % {"most": MAX_TTL_HOURS}}
        )
    return raw


def create_token(
    db: Session,
    *,
    group_id: int,
    label: str = "",
    unattended: bool = False,
    ttl_hours: int = DEFAULT_TTL_HOURS,
    creator: Actor,
    address: str = "",
) -> tuple[EnrolmentToken, str]:
    """A new token and its secret (shown once: only its digest is kept)."""
    require_admin(creator)
    group = get_group(db, group_id)
    secret = new_secret()
    token = EnrolmentToken(
        id=secrets.token_hex(16),
        digest=digest(secret),
        group_id=group.id,
        label=_clean_label(label),
        unattended=bool(unattended),
        created_by_id=creator.id if isinstance(creator, User) else None,
        created_at=utcnow(),
        expires_at=utcnow() + timedelta(hours=_clean_ttl(ttl_hours)),
    )
    db.add(token)
    db.flush()
    db.refresh(token, ["group", "created_by"])  # callers read them after the transaction
    record(
        db,
        "device.token_created",
        actor=actor_name(creator),
        address=address,
        details={
            "token_id": token.id,
            "group": group.name,
            "label": token.label,
            "unattended": token.unattended,
            "expires_at": token.expires_at.isoformat(),
        },
    )
    return token, secret


def get_token(db: Session, token_id: str) -> EnrolmentToken:
    token = db.get(EnrolmentToken, token_id) if len(token_id) <= 32 else None
    if token is None:
        raise DeviceError("token_not_found")
    return token


def revoke_token(db: Session, token_id: str, *, actor: Actor, address: str = "") -> EnrolmentToken:
    """An unused token stops working at once; a used or revoked one is refused (nothing to do)."""
    require_admin(actor)
    token = get_token(db, token_id)
    if token.revoked_at is not None or token.used_at is not None:
        raise DeviceError("token_not_active")
    token.revoked_at = utcnow()
    db.flush()
    record(
        db,
        "device.token_revoked",
        actor=actor_name(actor),
        address=address,
        details={"token_id": token.id, "group": token.group.name, "label": token.label},
    )
    return token


def list_tokens(db: Session) -> list[EnrolmentToken]:
    """Newest first."""
    return list(
        db.scalars(select(EnrolmentToken).order_by(EnrolmentToken.created_at.desc(), EnrolmentToken.id))
        .unique()
        .all()
    )
