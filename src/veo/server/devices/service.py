"""Enrolled devices: who may see them, whether they are online, what a technician may do, revoking.

A technician sees the devices of the groups whose ``roles`` name their role; administrators see
every device. A device is never deleted: revoking keeps the row (the audit log and the sessions
name it) and makes its key worthless at once (``devices/auth.py`` refuses a revoked device; the
API tells the node holding its socket after commit: ``device_line(app).revoked(id)``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.device import DEVICE_POLICIES, DevicePolicy
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.devices.errors import DeviceError
from veo.server.devices.groups import ADMIN_ROLE, policy_rank
from veo.server.devices.models import Device, DeviceGroup
from veo.server.policies.service import policy_for_user
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.service import LIVE_STATUSES

#: A device whose last hello or heartbeat is older than this is offline, even if a node still
#: claims its socket (that node may have died without clearing it).
ONLINE_SECONDS = 90


def may_see(user: User, group: DeviceGroup) -> bool:
    """Administrators see every group; others the groups that name their role."""
    return user.role == ADMIN_ROLE or user.role in (group.roles or [])


def is_online(device: Device, now: datetime | None = None) -> bool:
    if device.revoked_at is not None or device.connected_node is None or device.last_seen_at is None:
        return False
    return (now or utcnow()) - device.last_seen_at <= timedelta(seconds=ONLINE_SECONDS)


def visible_devices(
    db: Session, user: User, *, group_id: int | None = None, search: str = "", include_revoked: bool = True
) -> list[Device]:
    """The devices ``user`` may see, by name; ``search`` matches name, host name or signed-in user
    (any case; compared here, because SQLite's ``lower()`` folds only ASCII)."""
    stmt = select(Device)
    if group_id is not None:
        stmt = stmt.where(Device.group_id == group_id)
    if not include_revoked:
        stmt = stmt.where(Device.revoked_at.is_(None))
    needle = search.strip().casefold()
    found = [
        d
        for d in db.scalars(stmt).unique()
        if may_see(user, d.group)
        and (not needle or any(needle in field.casefold() for field in (d.name, d.hostname, d.os_user)))
    ]
    return sorted(found, key=lambda d: (d.revoked_at is not None, d.name.casefold(), d.id))


def get_visible(db: Session, user: User, device_id: str) -> Device | None:
    """The device if ``user`` may see it; None if it does not exist or is not theirs to see."""
    device = db.get(Device, device_id) if len(device_id) <= 32 else None
    if device is None or not may_see(user, device.group):
        return None
    return device


def allowed_modes(db: Session, device: Device, user: User) -> list[DevicePolicy]:
    """What the connect form offers ``user`` for ``device``: every mode up to the group's policy,
    ``unattended`` only with the role's capability AND a device enrolled for it. Empty: nothing."""
    if device.revoked_at is not None or not may_see(user, device.group):
        return []
    ceiling = policy_rank(device.group.policy)
    modes = [m for m in DEVICE_POLICIES if policy_rank(m) <= ceiling]
    if "unattended" in modes and not (device.unattended and policy_for_user(db, user).unattended):
        modes.remove("unattended")
    return modes


def revoke_device(
    db: Session, device_id: str, *, by: Literal["server", "device"], actor: str, address: str = ""
) -> Device:
    """End the enrolment now (a second revoke changes nothing and writes nothing).

    The caller tells the device after commit (``await device_line(app).revoked(device_id)``).
    """
    device = db.get(Device, device_id) if len(device_id) <= 32 else None
    if device is None:
        raise DeviceError("device_not_found")
    if device.revoked_at is None:
        device.revoked_at = utcnow()
        device.revoked_by = by
        db.flush()
        record(
            db,
            "device.revoked",
            actor=actor,
            address=address,
            details={"device_id": device.id, "name": device.name, "group": device.group.name, "by": by},
        )
    return device


def live_session_ids(db: Session, device_id: str) -> list[str]:
    """The device's sessions that have not ended (a revocation ends them)."""
    stmt = select(RemoteSession.id).where(
        RemoteSession.device_id == device_id, RemoteSession.status.in_(LIVE_STATUSES)
    )
    return list(db.scalars(stmt))


def end_live_sessions(db: Session, device_id: str) -> list[str]:
    """End the device's live sessions in the database, by ``system`` with ``device_revoked``
    (``veo admin device revoke``, which has no node to tell the peers: their nodes announce it,
    ``line.DeviceLine.flush_now``). A waiting session's code is refused from this commit on.
    The ids of the sessions ended."""
    from veo.server.sessions import service as sessions

    ended = sessions.end_where(
        db, live_session_ids(db, device_id), lambda _s: "device_revoked", details={"device_id": device_id}
    )
    return [session_id for session_id, _reason in ended]


def device_sessions(db: Session, device_id: str, limit: int = 20) -> list[RemoteSession]:
    """The device's sessions, newest first."""
    stmt = (
        select(RemoteSession)
        .where(RemoteSession.device_id == device_id)
        .order_by(RemoteSession.created_at.desc(), RemoteSession.id)
        .limit(limit)
    )
    return list(db.scalars(stmt).unique())
