"""Who may see or act on a remote session, and the lookups routes share."""

from __future__ import annotations

from sqlalchemy.orm import Session

from veo.server.auth.models import User
from veo.server.errors import ApiError
from veo.server.sessions.messages import error_text
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.service import SessionError, get_session

#: Roles that may read any session (the console and actions stay with its technician and admins).
READ_ANY_ROLES = ("admin", "lead")


def may_operate(user: User, session: RemoteSession) -> bool:
    """Open the console, end, write the note: the session's technician or an admin."""
    return user.role == "admin" or session.technician_id == user.id


def may_read(user: User, session: RemoteSession) -> bool:
    return may_operate(user, session) or user.role in READ_ANY_ROLES


def api_error(exc: SessionError) -> ApiError:
    """A service refusal as the HTTP error a client sees."""
    status = 404 if exc.code.endswith("_not_found") else 422
    if exc.code == "out_of_order":
        status = 409
    return ApiError(status, exc.code, error_text(exc.code, exc.detail))


def load_for(db: Session, session_id: str, user: User, *, write: bool) -> RemoteSession:
    """The session if ``user`` may see (or act on) it; 404 either way otherwise, leaking nothing."""
    session = get_session(db, session_id)
    if session is None or not (may_operate(user, session) if write else may_read(user, session)):
        if session is not None and may_read(user, session):
            raise ApiError(403, "forbidden", error_text("forbidden"))
        raise ApiError(404, "session_not_found", error_text("session_not_found"))
    return session
