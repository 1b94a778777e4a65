"""What admins (and each user for themselves) change about accounts: role, active state, sessions.

Every change is audited and signs the account out where it matters: a deactivated account loses
its browsers and API tokens at once (tokens are also checked against the account on every use,
see :func:`veo.server.auth.service.user_for_api_token`), and, once the change commits, its open
consoles and live remote sessions too (:mod:`veo.server.auth.revoked`). The last active
administrator cannot be demoted or deactivated, so an installation can never lock itself out of
its own settings.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.auth import revoked
from veo.server.auth.models import ROLES, ApiToken, User, WebSession
from veo.server.errors import ApiError, InvalidInput, NotFound
from veo.server.lang import _


def list_users(db: Session) -> list[User]:
    return list(db.scalars(select(User).order_by(User.email)))


def get_user(db: Session, user_id: int) -> User:
    user = db.get(User, user_id)
    if user is None:
        raise NotFound(_("No account with this id."))
    return user


def sign_out_everywhere(db: Session, user: User, *, actor: str, address: str = "") -> int:
    """Delete every browser session and API token of ``user``; returns how many there were."""
    sessions = len(db.scalars(select(WebSession.id).where(WebSession.user_id == user.id)).all())
    tokens = len(db.scalars(select(ApiToken.id).where(ApiToken.user_id == user.id)).all())
    db.execute(delete(WebSession).where(WebSession.user_id == user.id))
    db.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    revoked.note(db, [user.id], "signed_out_everywhere")  # its open consoles close on commit
    record(
        db,
        "auth.signed_out_everywhere",
        actor=actor,
        address=address,
        details={"user": user.email, "web_sessions": sessions, "api_tokens": tokens},
    )
    return sessions + tokens


def _other_active_admins(db: Session, user: User) -> int:
    query = (
        select(func.count())
        .select_from(User)
        .where(User.role == "admin", User.is_active.is_(True), User.id != user.id)
    )
    return db.scalar(query) or 0


def _keep_an_admin(db: Session, user: User) -> None:
    if user.role == "admin" and user.is_active and _other_active_admins(db, user) == 0:
        raise ApiError(
            409, "last_admin", _("This is the last active administrator; appoint another one first.")
        )


def set_role(db: Session, user: User, role: str, *, actor: str, address: str = "") -> None:
    if role not in ROLES:
        raise InvalidInput({"role": _("Unknown role; use one of: %(roles)s.") % {"roles": ", ".join(ROLES)}})
    if role == user.role:
        return
    if role != "admin":
        _keep_an_admin(db, user)
    before = user.role
    user.role = role
    revoked.note(db, [user.id], "role_changed")  # its live sessions are judged again on commit
    record(
        db,
        "user.role_changed",
        actor=actor,
        address=address,
        details={"user": user.email, "before": before, "after": role},
    )


def set_active(db: Session, user: User, active: bool, *, actor: str, address: str = "") -> None:
    """Deactivate (signing the account out everywhere) or reactivate an account."""
    if active == user.is_active:
        return
    if not active:
        _keep_an_admin(db, user)
        sign_out_everywhere(db, user, actor=actor, address=address)
    user.is_active = active
    if not active:
        revoked.note(db, [user.id], "account_deactivated")  # its live sessions end on commit
    action = "user.activated" if active else "user.deactivated"
    record(db, action, actor=actor, address=address, details={"user": user.email})
