"""The policy of each role, read and changed in one place.

Every check that depends on a role (how much a technician may request, whether TOTP is required,
whether the user's identity must be confirmed before control) asks :func:`policy_for_user`, which
reads the stored row on each call, so an admin's edit takes effect on the very next request.
A role without a stored row has :func:`default_policy`. Admins always need TOTP: the accounts
that can change every policy must not be one phished password away.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol.permissions import Permission
from veo.protocol.resume import DEFAULT_GRACE_SECONDS, MAX_GRACE_SECONDS
from veo.protocol.transfer import DEFAULT_MAX_FILE_BYTES
from veo.server.audit.service import record
from veo.server.auth import revoked
from veo.server.auth.models import ROLES, User
from veo.server.db.base import utcnow
from veo.server.errors import InvalidInput
from veo.server.lang import _
from veo.server.policies.capabilities import Capability, ordered, permissions_of
from veo.server.policies.models import RolePolicyRow

ADMIN_ROLE = "admin"
#: The most an admin may set as a role's largest file (1,000,000 MB).
MAX_FILE_LIMIT = 1_000_000 * 1_000_000
_STANDARD = frozenset({Capability.VIEW, Capability.CONTROL, Capability.CLIPBOARD, Capability.FILES})


@dataclass(frozen=True)
class RolePolicy:
    """What one role may do. ``max_permissions`` caps every session request of its members."""

    role: str
    max_permissions: frozenset[Permission]
    totp_required: bool
    identity_before_control: bool
    unattended: bool
    recording: bool
    #: The largest file a session may move either way, and that may be attached to a ticket.
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES
    #: How long a user's grant waits for a lost connection to come back (0: the session ends at
    #: the loss); copied onto each session when it is created.
    resume_grace_seconds: int = DEFAULT_GRACE_SECONDS

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Everything the policy allows, protocol permissions and server-side extras alike."""
        extras = {Capability.UNATTENDED: self.unattended, Capability.RECORDING: self.recording}
        return frozenset(
            {Capability(p.value) for p in self.max_permissions} | {c for c, on in extras.items() if on}
        )


def _policy(
    role: str,
    capabilities: Iterable[Capability],
    totp: bool,
    identity: bool,
    max_file_bytes: int | None = None,
    resume_grace_seconds: int | None = None,
) -> RolePolicy:
    caps = frozenset(capabilities)
    return RolePolicy(
        role=role,
        max_permissions=permissions_of(caps),
        totp_required=totp or role == ADMIN_ROLE,
        identity_before_control=identity,
        unattended=Capability.UNATTENDED in caps,
        recording=Capability.RECORDING in caps,
        max_file_bytes=DEFAULT_MAX_FILE_BYTES if max_file_bytes is None else max_file_bytes,
        resume_grace_seconds=DEFAULT_GRACE_SECONDS if resume_grace_seconds is None else resume_grace_seconds,
    )


def default_policy(role: str) -> RolePolicy:
    """The policy a role has until an admin edits it: TOTP for admins only."""
    return _policy(role, _STANDARD, role == ADMIN_ROLE, False)


def _from_row(row: RolePolicyRow) -> RolePolicy:
    known = {c.value for c in Capability}
    caps = {Capability(c) for c in row.capabilities if c in known}
    return _policy(
        row.role,
        caps,
        row.totp_required,
        row.identity_before_control,
        row.max_file_bytes,
        row.resume_grace_seconds,
    )


def policy_for_role(db: Session, role: str) -> RolePolicy:
    row = db.get(RolePolicyRow, role)
    return _from_row(row) if row is not None else default_policy(role)


def policy_for_user(db: Session, user: User) -> RolePolicy:
    """The current policy of ``user``'s role."""
    return policy_for_role(db, user.role)


def all_policies(db: Session) -> list[RolePolicy]:
    """One policy per role, in the fixed role order."""
    return [policy_for_role(db, role) for role in ROLES]


def _as_details(policy: RolePolicy) -> dict[str, object]:
    return {
        "capabilities": [c.value for c in ordered(policy.capabilities)],
        "totp_required": policy.totp_required,
        "identity_before_control": policy.identity_before_control,
        "max_file_bytes": policy.max_file_bytes,
        "resume_grace_seconds": policy.resume_grace_seconds,
    }


def set_policy(
    db: Session,
    role: str,
    *,
    capabilities: Iterable[Capability],
    totp_required: bool,
    identity_before_control: bool,
    actor: str,
    address: str = "",
    max_file_bytes: int | None = None,
    resume_grace_seconds: int | None = None,
) -> RolePolicy:
    """Store ``role``'s policy and audit the change (before and after); checked before writing.

    ``max_file_bytes`` and ``resume_grace_seconds`` ``None`` keep the role's current value.
    """
    if role not in ROLES:
        raise InvalidInput({"role": _("Unknown role; use one of: %(roles)s.") % {"roles": ", ".join(ROLES)}})
    if role == ADMIN_ROLE and not totp_required:
        raise InvalidInput({"totp_required": _("Administrators always need two-factor sign-in.")})
    caps = frozenset(capabilities)
    if caps and Capability.VIEW not in caps:
        raise InvalidInput(
            {"capabilities": _("Every other permission needs “view screen”; add it or remove the rest.")}
        )
    if max_file_bytes is not None and not 0 <= max_file_bytes <= MAX_FILE_LIMIT:
        raise InvalidInput({"max_file_bytes": _("The largest file must be between 0 and 1,000,000 MB.")})
    if resume_grace_seconds is not None and not 0 <= resume_grace_seconds <= MAX_GRACE_SECONDS:
        raise InvalidInput(
            {
                "resume_grace_seconds": _(
                    "The time to wait for a lost connection must be between 0 and %(most)s seconds."
                )
                % {"most": MAX_GRACE_SECONDS}
            }
        )
    before = policy_for_role(db, role)
    row = db.get(RolePolicyRow, role)
    if row is None:
        row = RolePolicyRow(role=role)
        db.add(row)
    row.capabilities = [c.value for c in ordered(caps)]
    row.totp_required = totp_required
    row.identity_before_control = identity_before_control
    if max_file_bytes is not None:
        row.max_file_bytes = max_file_bytes
    if resume_grace_seconds is not None:
        row.resume_grace_seconds = resume_grace_seconds
    row.updated_at = utcnow()
    db.flush()
    after = _from_row(row)
    # On commit the hub judges again every live session of the role's members: one whose grant
    # the role no longer allows, or whose technician no longer satisfies it (TOTP), ends.
    members = db.scalars(select(User.id).where(User.role == role)).all()
    newly_totp = after.totp_required and not before.totp_required
    revoked.note(db, members, "totp_required" if newly_totp else "policy_changed")
    record(
        db,
        "policy.changed",
        actor=actor,
        address=address,
        details={"role": role, "before": _as_details(before), "after": _as_details(after)},
    )
    return after
