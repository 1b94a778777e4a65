"""``POST /api/v1/enrol``'s work: a single-use token becomes an enrolled device, once.

The token is spent by ONE conditional UPDATE (unused, unrevoked, unexpired, this digest) issued
before anything is read: two devices racing with one token both send it, the database serialises
them on the row (PostgreSQL's row lock, SQLite's write lock taken by the first write of the
transaction), and the second finds nothing left to update. Only then is the token read, to
enrol the device, or to tell the loser why not.

A refused token (unknown, used, expired, revoked) is no exception: the refusal is returned and
its ``device.enrol_refused`` event committed with the transaction (an exception would roll it
back). The rate limit per address is the API's (``api.py``), so a flood of guesses cannot fill
the audit log.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from veo.protocol.device import TOKEN_PATTERN, EnrolRequest, EnrolResponse
from veo.server.audit.service import record
from veo.server.db.base import utcnow
from veo.server.devices import tokens
from veo.server.devices.errors import ENROL_REFUSALS, DeviceError
from veo.server.devices.models import Device, EnrolmentToken
from veo.server.devices.text import clean

_TOKEN = re.compile(TOKEN_PATTERN)
#: The actor of enrolment events: nobody signed in; the device proves itself by the token.
DEVICE_ACTOR = "device"
#: Who enrolled, when the token's creator is gone or was the server's shell.
NOBODY = "veo admin"


@dataclass(frozen=True)
class Refused:
    """Why the token was refused: ``token_unknown``, ``token_used``, ``token_expired``, ``token_revoked``."""

    code: str


def _text(value: str, limit: int) -> str:
    """One line of printable text by the protocol's rule (``text.py``: no C0, C1 or DEL)."""
    return clean(value, limit)


def _refuse(
    db: Session, code: str, body: EnrolRequest, address: str, token: EnrolmentToken | None
) -> Refused:
    details: dict[str, object] = {
        "reason": ENROL_REFUSALS[code],
        "name": _text(body.name, 80),
        "hostname": _text(body.hostname, 120),
    }
    if token is not None:
        details |= {"token_id": token.id, "group": token.group.name}
    record(db, "device.enrol_refused", actor=DEVICE_ACTOR, address=address, details=details)
    return Refused(code)


def _why(token: EnrolmentToken, now: datetime) -> str:
    state = tokens.status(token, now)
    return {"revoked": "token_revoked", "used": "token_used", "expired": "token_expired"}.get(
        state, "token_used"
    )


def enrol(
    db: Session, body: EnrolRequest, *, address: str, organization: str, now: datetime | None = None
) -> EnrolResponse | Refused:
    """Enrol the device or return why not (refusals audited in this transaction).

    Raises :class:`DeviceError` ``key_in_use`` (nothing stored, the token not spent) when the
    public key already belongs to a device.
    """
    now = now or utcnow()
    if not _TOKEN.fullmatch(body.token):
        return _refuse(db, "token_unknown", body, address, None)
    digest = tokens.digest(body.token)
    device_id = secrets.token_hex(16)
    won = db.execute(
        update(EnrolmentToken)
        .where(
            EnrolmentToken.digest == digest,
            EnrolmentToken.used_at.is_(None),
            EnrolmentToken.revoked_at.is_(None),
            EnrolmentToken.expires_at > now,
        )
        .values(used_at=now, used_by_device_id=device_id)
        .execution_options(synchronize_session=False)
    )
    token = db.scalars(
        select(EnrolmentToken)
        .where(EnrolmentToken.digest == digest)
        .execution_options(populate_existing=True)
    ).first()
    if won.rowcount != 1 or token is None:  # type: ignore[attr-defined]
        if token is None:
            return _refuse(db, "token_unknown", body, address, None)
        return _refuse(db, _why(token, now), body, address, token)
    if db.scalars(select(Device.id).where(Device.public_key == body.public_key)).first() is not None:
        raise DeviceError("key_in_use")  # rolls the spent token back with everything else
    device = Device(
        id=device_id,
        group_id=token.group_id,
        name=_text(body.name, 80) or _text(body.hostname, 80) or device_id[:8],
        hostname=_text(body.hostname, 120),
        os_name=_text(body.os_name, 120),
        os_user=_text(body.os_user, 120),
        agent_version=_text(body.agent_version, 40),
        public_key=body.public_key,
        unattended=token.unattended,
        token_id=token.id,
        enrolled_at=now,
        enrolled_by_id=token.created_by_id,
    )
    db.add(device)
    db.flush()
    db.refresh(device, ["group", "enrolled_by"])  # callers read them after the transaction
    record(
        db,
        "device.enrolled",
        actor=DEVICE_ACTOR,
        address=address,
        details={
            "device_id": device.id,
            "name": device.name,
            "group": token.group.name,
            "unattended": device.unattended,
            "token_id": token.id,
        },
    )
    creator = token.created_by
    return EnrolResponse(
        device_id=device.id,
        device_name=clean(device.name, 120),
        organization=clean(organization, 120),
        group=clean(token.group.name, 120),
        policy=token.group.policy,  # type: ignore[arg-type]  # checked on every write (groups.py)
        unattended=device.unattended,
        enrolled_by=clean(creator.name if creator is not None else NOBODY, 120),
        enrolled_at=now.isoformat(),
    )
