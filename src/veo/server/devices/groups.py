"""Device groups: a name, the policy a connection follows, and the roles that may connect.

Only administrators change groups (the policy decides whether a technician may take over a
computer with nobody asked): every change is audited with what it was before. A group is never
deleted here: its devices and the audit trail that names it stay meaningful.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.device import DEVICE_POLICIES, DevicePolicy
from veo.server.audit.service import record
from veo.server.auth.models import ROLES, User
from veo.server.devices.errors import DeviceError
from veo.server.devices.models import DeviceGroup
from veo.server.devices.text import has_control
from veo.server.errors import InvalidInput
from veo.server.lang import _

ADMIN_ROLE = "admin"
_RANK: dict[str, int] = {policy: rank for rank, policy in enumerate(DEVICE_POLICIES)}
#: Tabs and line breaks: typed or pasted with text, folded to spaces (every other control refused).
_LINE_SPACES = str.maketrans("\t\n\r", "   ")
#: Who acted, when no account did (``veo admin`` on the server's shell).
Actor = User | str


def actor_name(actor: Actor) -> str:
    """The audit log's actor: the account's e-mail, or the CLI's name."""
    return actor.email if isinstance(actor, User) else actor


def require_admin(actor: Actor) -> None:
    """Accounts other than administrators are refused (the shell's ``veo admin`` is trusted)."""
    if isinstance(actor, User) and actor.role != ADMIN_ROLE:
        raise DeviceError("admin_only")


def policy_rank(policy: str) -> int:
    """``ask`` < ``notify`` < ``unattended``: how much a mode does without the person's answer."""
    return _RANK.get(policy, -1)


def _clean_name(db: Session, raw: object, *, except_id: int | None = None) -> str:
    if not isinstance(raw, str) or not 1 <= len(raw.strip()) <= 80:
        raise InvalidInput({"name": _("Enter a name of 1 to 80 characters.")})
    # C1 too (NEL, CSI, ...): the name goes to every device of the group (text.py); a tab or a
    # line break pasted with it only becomes a space
    if has_control(raw.translate(_LINE_SPACES)):
        raise InvalidInput({"name": _("The name contains characters that cannot be stored.")})
    name = unicodedata.normalize("NFC", " ".join(raw.split()))
    key = name.casefold()
    if any(g.name.casefold() == key and g.id != except_id for g in db.scalars(select(DeviceGroup))):
        raise InvalidInput({"name": _("A device group with this name already exists.")})
    return name


def _clean_policy(raw: object) -> DevicePolicy:
    for policy in DEVICE_POLICIES:
        if raw == policy:
            return policy
    raise InvalidInput({"policy": _("Choose ask, notify or unattended.")})


def _clean_roles(raw: Iterable[str]) -> list[str]:
    roles = list(dict.fromkeys(raw))
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise InvalidInput(
            {
                "roles": _("Unknown role %(role)s; use: %(roles)s.")
                % {"role": unknown[0][:40], "roles": ", ".join(ROLES)}
            }
        )
    return [r for r in ROLES if r in roles]  # the one order everywhere


def _clean_description(raw: object) -> str:
    # line breaks are fine in a description; other controls (C1 too) are not (text.py)
    if not isinstance(raw, str) or len(raw) > 1000 or has_control(raw.translate(_LINE_SPACES)):
        raise InvalidInput({"description": _("The description is limited to 1000 characters of text.")})
    return raw.strip()


def _details(group: DeviceGroup) -> dict[str, object]:
    return {"id": group.id, "name": group.name, "policy": group.policy, "roles": list(group.roles)}


def list_groups(db: Session) -> list[DeviceGroup]:
    """Every group by name (an administrator writes the list: it is short)."""
    return sorted(db.scalars(select(DeviceGroup)), key=lambda g: (g.name.casefold(), g.id))


def get_group(db: Session, group_id: int) -> DeviceGroup:
    group = db.get(DeviceGroup, group_id)
    if group is None:
        raise DeviceError("group_not_found")
    return group


def create_group(
    db: Session,
    *,
    name: str,
    policy: str = "ask",
    roles: Iterable[str] = (),
    description: str = "",
    actor: Actor,
    address: str = "",
) -> DeviceGroup:
    require_admin(actor)
    group = DeviceGroup(
        name=_clean_name(db, name),
        policy=_clean_policy(policy),
        roles=_clean_roles(roles),
        description=_clean_description(description),
    )
    db.add(group)
    db.flush()
    record(db, "device.group_created", actor=actor_name(actor), address=address, details=_details(group))
    return group


def update_group(
    db: Session,
    group_id: int,
    *,
    name: str,
    policy: str,
    roles: Iterable[str],
    description: str,
    actor: Actor,
    address: str = "",
) -> DeviceGroup:
    """Replace the group's settings; audited (before and after) only when something changed."""
    require_admin(actor)
    group = get_group(db, group_id)
    before = _details(group)
    group.name = _clean_name(db, name, except_id=group.id)
    group.policy = _clean_policy(policy)
    group.roles = _clean_roles(roles)
    group.description = _clean_description(description)
    after = _details(group)
    if after != before:
        db.flush()
        record(
            db,
            "device.group_changed",
            actor=actor_name(actor),
            address=address,
            details={"id": group.id, "name": group.name, "before": before, "after": after},
        )
    return group
