"""May this account still drive this session? Asked before every console message, and when an
account changes (``auth/revoked.py``).

:func:`standing` is the check of each console message, against the database: it holds whatever
changed the account, on any node or from the command line. :func:`settle` is what an account
change does to the live sessions: credentials cut off (deactivated, password changed, signed out
everywhere) end every live session the account runs or has a console on, waiting ones included
(their code dies with them); a changed role or policy ends only those it may no longer run as
granted. Ending, not freezing: the console's WebRTC connection to the agent does not pass through
the server, so only the agent can close it, and ``ended`` is what every agent obeys (it stops
capture, closes the connection and forgets the grant).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.auth import login
from veo.server.auth.models import User, WebSession
from veo.server.auth.revoked import CUT_OFF, Reason
from veo.server.db.base import utcnow
from veo.server.sessions import policy_now, service
from veo.server.sessions.access import may_operate
from veo.server.sessions.models import RemoteSession

#: The console's browser session is gone (signed out, expired): the pull check cannot tell
#: sign-out everywhere from a password change, the account change itself can.
SIGNED_OUT = "signed_out"


def account_standing(db: Session, user: User | None) -> str | None:
    """Why the account may no longer act at all (None: it may).

    A password set by someone else (``must_change_password``) is not checked here: setting it
    deletes the account's browser sessions, which the socket's own sign-in check sees.
    """
    if user is None or not user.is_active:
        return "account_deactivated"
    if login.must_enrol(db, user):
        return "totp_required"
    return None


def session_standing(db: Session, user: User, session: RemoteSession) -> str | None:
    """Why ``user`` may no longer run ``session`` as it stands (None: they may)."""
    if not may_operate(user, session):
        return "role_changed"
    if session.status == "active" and policy_now.beyond_now(db, session, session.granted_permissions):
        return policy_now.POLICY_CHANGED
    return None


def standing(db: Session, *, user_id: int, web_session_id: int | None, session_id: str) -> str | None:
    """The check of one console message: account, the socket's own sign-in, then the session."""
    user = db.get(User, user_id)
    why = account_standing(db, user)
    if why is not None or user is None:
        return why or "account_deactivated"
    if web_session_id is not None:
        web = db.get(WebSession, web_session_id)
        if web is None or web.expires_at <= utcnow():
            return SIGNED_OUT
    session = service.get_session(db, session_id)
    if session is None:
        return None
    return session_standing(db, user, session)


def settle(db: Session, user_id: int, reason: Reason, attached: Iterable[str]) -> list[tuple[str, str]]:
    """End what the account change means to end: its own live sessions and those it has consoles
    on (``attached``, from this node's registry). Returns ``(session id, end reason)``."""
    user = db.get(User, user_id)
    owned = db.scalars(
        select(RemoteSession.id).where(
            RemoteSession.technician_id == user_id, RemoteSession.status.in_(service.LIVE_STATUSES)
        )
    ).all()
    cut_off = account_standing(db, user)
    email = user.email if user is not None else ""

    def decide(session: RemoteSession) -> str | None:
        if reason in CUT_OFF:
            return reason
        if cut_off is not None:
            return cut_off
        assert user is not None
        if session.status == "waiting":
            return None  # nothing granted yet; redemption applies the policy of then
        return session_standing(db, user, session)

    return service.end_where(db, [*owned, *attached], decide, details={"account": email, "change": reason})
