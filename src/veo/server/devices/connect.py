"""A technician connects to a managed device: checks, the session, the request for the device.

Every connection needs a reason: an open ticket (a resolved or closed one is refused), or a typed
reason, which becomes a ticket "<device>: <reason>" assigned to the technician (the session, its
notes and its audit trail need a ticket). The mode is at most the group's policy (``ask`` <
``notify`` < ``unattended``, default the policy itself); ``unattended`` also needs the role's
``unattended`` capability AND a device enrolled for it. A refusal says why in a sentence
(``errors.py``) and, when it is about the request rather than a missing device, is audited
``device.connect_refused`` in a transaction of its own (the refused one rolled back).

The session is a normal :class:`RemoteSession` with a join code drawn as usual that nobody is
shown: it travels to the device in :class:`SessionRequest` with a random secret whose SHA-256 the
session keeps; the code is redeemed only with that secret (``sessions/redeem.py``), so the code
alone, wherever it leaked, lets nobody join in the device's place. After :func:`connect` committed, the
caller hands that request to the node holding the device's socket:
``await device_line(app).request_session(device_id, request)``. :func:`connect_committed` runs
:func:`connect` in its transaction and audits a refusal in another; the API and the pages use it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from veo.protocol.device import DevicePolicy, SessionRequest
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.devices.errors import DeviceError
from veo.server.devices.groups import policy_rank
from veo.server.devices.models import Device
from veo.server.devices.service import is_online, may_see
from veo.server.devices.text import clean, has_control
from veo.server.policies.service import policy_for_user
from veo.server.sessions import device_secret
from veo.server.sessions import service as sessions
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import service as tickets
from veo.server.tickets.lifecycle import DONE
from veo.server.tickets.models import Ticket

if TYPE_CHECKING:
    from veo.server.db.engine import Database

REASON_MAX_CHARS = 500
#: Refusals that say nothing about the request (no such device): not audited.
_NOT_AUDITED = frozenset({"device_not_found"})


def _ticket_for(
    db: Session, device: Device, user: User, reason: str, ticket_id: int | None, address: str
) -> Ticket:
    if ticket_id is not None:
        ticket = db.get(Ticket, ticket_id)
        if ticket is None:
            raise DeviceError("ticket_not_found")
        if ticket.status in DONE:
            # the reason recorded is the ticket's title: a finished one is no reason to connect now
            raise DeviceError("ticket_not_open")
        return ticket
    title = f"{device.name}: {reason}"
    if len(title) > 200:
        title = title[:199] + "…"
    return tickets.create_ticket(
        db,
        {
            "title": title,
            "description": reason,
            "requester_name": device.os_user or device.name,
            "requester_email": user.email,
            "assignee_id": user.id,
        },
        creator=user,
        address=address,
    )


def choose_mode(db: Session, device: Device, user: User, mode: str | None) -> DevicePolicy:
    """The mode that applies, or the refusal: at most the group's policy, unattended only where
    both the role and the device allow it."""
    policy = device.group.policy
    chosen = policy if mode is None else mode
    if policy_rank(chosen) < 0 or policy_rank(chosen) > policy_rank(policy):
        raise DeviceError("mode_not_allowed")
    if chosen == "unattended":
        if not policy_for_user(db, user).unattended:
            raise DeviceError("unattended_not_allowed")
        if not device.unattended:
            raise DeviceError("unattended_not_enrolled")
        return "unattended"
    return "notify" if chosen == "notify" else "ask"


@dataclass(frozen=True)
class ConnectAsk:
    """What the technician asks for: one list of fields for :func:`connect` and for
    :func:`connect_committed`, which audits its refusal."""

    device_id: str
    user: User
    reason: str
    ticket_id: int | None
    mode: DevicePolicy | None
    permissions: Iterable[str] | None
    ttl_seconds: int
    address: str = ""
    organization: str = ""


def _device(db: Session, device_id: str) -> Device | None:
    """The device, or None; an id longer than any device's is not looked up."""
    return db.get(Device, device_id) if len(device_id) <= 32 else None


def connect(db: Session, ask: ConnectAsk) -> tuple[RemoteSession, SessionRequest]:
    """The waiting session and the request to send to the device; raises :class:`DeviceError`
    (or ``sessions.SessionError`` for a permission request beyond the role's policy)."""
    user, ticket_id, address, permissions = ask.user, ask.ticket_id, ask.address, ask.permissions
    device = _device(db, ask.device_id)
    if device is None:
        raise DeviceError("device_not_found")
    if not may_see(user, device.group):
        raise DeviceError("group_not_allowed")
    if device.revoked_at is not None:
        raise DeviceError("device_revoked")
    reason = " ".join(ask.reason.split())  # line breaks and tabs of a typed reason become spaces
    if has_control(reason):
        raise DeviceError("reason_invalid")
    if len(reason) > REASON_MAX_CHARS:
        raise DeviceError("reason_too_long")
    if not reason and ticket_id is None:
        raise DeviceError("reason_required")
    chosen = choose_mode(db, device, user, ask.mode)
    if not is_online(device, utcnow()):
        raise DeviceError("device_offline")
    ticket = _ticket_for(db, device, user, reason, ticket_id, address)
    # stored text goes through the protocol's rule (text.py): nothing stored can make this fail
    access_reason = reason or clean(ticket.title, REASON_MAX_CHARS) or f"#{ticket.id}"
    session = sessions.create_session(
        db,
        ticket_id=ticket.id,
        technician=user,
        permissions=list(permissions) if permissions is not None else None,
        ttl_seconds=ask.ttl_seconds,
        address=address,
        device_id=device.id,
        device_name=device.name,
        device_policy=chosen,
        access_reason=access_reason,
    )
    # Only the device's service gets the secret; the session keeps its digest (device_secret.py).
    secret, session.device_secret_digest = device_secret.new_secret()
    request = SessionRequest(
        session_id=session.id,
        code=session.code or "",
        secret=secret,
        policy=chosen,
        reason=access_reason,
        technician_name=clean(user.name, 120),
        organization=clean(ask.organization, 120),
        ticket_id=ticket.id,
        ticket_title=clean(ticket.title, 200),
    )
    return session, request


def record_refused(
    db: Session, *, device_id: str, user: User, mode: str | None, code: str, address: str = ""
) -> None:
    """``device.connect_refused``: who tried which device, in which mode, and why not."""
    device = _device(db, device_id)
    record(
        db,
        "device.connect_refused",
        actor=user.email,
        address=address,
        details={
            "device_id": device_id[:32],
            "device_name": device.name if device is not None else "",
            "mode": (mode or (device.group.policy if device is not None else ""))[:12],
            "code": code,
        },
    )


async def connect_committed(database: Database, ask: ConnectAsk) -> tuple[RemoteSession, SessionRequest]:
    """:func:`connect` in its own transaction; a refusal audited in another one, then raised."""
    from veo.server.sessions import txn

    chosen = list(ask.permissions) if ask.permissions is not None else None
    ask = replace(ask, permissions=chosen)  # read twice: to grant, and to audit a refusal
    user, address = ask.user, ask.address
    try:
        return await txn.run(database, lambda s: connect(s, ask))
    except DeviceError as exc:
        if exc.code not in _NOT_AUDITED:
            code = exc.code
            await database.run(
                lambda s: record_refused(
                    s, device_id=ask.device_id, user=user, mode=ask.mode, code=code, address=address
                )
            )
        raise
    except sessions.SessionError as exc:
        if exc.code == "beyond_policy" and ask.ticket_id is not None:
            tid = ask.ticket_id
            await database.run(
                lambda s: sessions.record_beyond_policy(
                    s, ticket_id=tid, technician=user, permissions=chosen, address=address
                )
            )
        raise
