"""The requester's rating of the help: 1 to 5 and an optional comment, once, by bearer token.

Two ways in, one rule. The agent gets a token for its session in ``joined`` and, when the session
ends, posts the user's answer to ``POST /api/v1/sessions/{id}/rating``; the "resolved" e-mail
carries a token for the ticket, used on the public page ``/rate/<token>``. Only the token's
SHA-256 is stored. Rating is one conditional UPDATE (``rated_at IS NULL``), so two racing
submissions store exactly one rating. Each rating is audited (``session.rated`` /
``ticket.rated``) and announced to webhooks.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from veo.server.audit.service import record
from veo.server.db.base import utcnow
from veo.server.errors import ApiError, InvalidInput, NotFound
from veo.server.lang import _
from veo.server.notify import webhooks
from veo.server.notify.models import RatingRequest
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

COMMENT_MAX_CHARS = 2000
ACTOR = "requester"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(db: Session, *, ticket_id: int, language: str, session_id: str | None = None) -> str:
    """A new rating token (returned once, stored as a digest)."""
    token = secrets.token_urlsafe(24)
    db.add(
        RatingRequest(
            token_digest=_digest(token),
            ticket_id=ticket_id,
            session_id=session_id,
            language=language,
            comment="",
        )
    )
    db.flush()
    return token


def issue_for_session(db: Session, session: RemoteSession, language: str) -> str:
    """The token the agent receives in ``joined``; a session has one (a new one replaces it)."""
    db.execute(
        delete(RatingRequest)
        .where(RatingRequest.session_id == session.id, RatingRequest.rated_at.is_(None))
        .execution_options(synchronize_session=False)
    )
    return issue(db, ticket_id=session.ticket_id, language=language, session_id=session.id)


def clean(score: Any, comment: Any) -> tuple[int, str]:
    """A whole number 1..5 (a form's ``"4"`` too) and at most 2000 characters of comment."""
    errors: dict[str, str] = {}
    value: int | None = None
    if isinstance(score, bool):
        value = None
    elif isinstance(score, int):
        value = score
    elif isinstance(score, str) and score.strip().isdigit():
        value = int(score.strip())
    if value is None or not 1 <= value <= 5:
        errors["score"] = _("Choose a rating from 1 to 5.")
    if comment is None:
        comment = ""
    if not isinstance(comment, str):
        errors["comment"] = _("Must be text.")
    elif len(comment.strip()) > COMMENT_MAX_CHARS:
        errors["comment"] = _("The comment is limited to 2000 characters.")
    if errors:
        raise InvalidInput(errors)
    assert value is not None and isinstance(comment, str)
    return value, comment.strip()


def pending(db: Session, token: str) -> RatingRequest:
    """The request behind ``token`` (rated or not), or 404 without saying more."""
    request = db.scalar(select(RatingRequest).where(RatingRequest.token_digest == _digest(token[:200])))
    if request is None:
        raise NotFound(_("This rating link is not valid."))
    return request


def rate(
    db: Session, token: str, score: Any, comment: Any, *, session_id: str | None = None, address: str = ""
) -> RatingRequest:
    """Store the rating once; 409 ``already_rated`` for a second try, 404 for a bad token."""
    value, text = clean(score, comment)
    request = pending(db, token)
    if session_id is not None and request.session_id != session_id:
        raise NotFound(_("This rating link is not valid."))
    if request.session_id is not None:
        session = db.get(RemoteSession, request.session_id)
        if session is None or session.status not in ("ended", "expired"):
            raise ApiError(409, "session_not_ended", _("The session can be rated once it has ended."))
    now = utcnow()
    result = db.execute(
        update(RatingRequest)
        .where(RatingRequest.id == request.id, RatingRequest.rated_at.is_(None))
        .values(score=value, comment=text, rated_at=now)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise ApiError(409, "already_rated", _("Thank you, this was already rated."))
    db.refresh(request)
    details = {"score": value, "comment_length": len(text)}
    data: dict[str, Any] = {"ticket_id": request.ticket_id, "score": value, "comment": text}
    if request.session_id is not None:
        db.execute(
            update(RemoteSession)
            .where(RemoteSession.id == request.session_id)
            .values(rating=value, rating_comment=text)
            .execution_options(synchronize_session=False)
        )
        record(
            db,
            "session.rated",
            actor=ACTOR,
            ticket_id=request.ticket_id,
            session_id=request.session_id,
            address=address,
            details=details,
        )
        webhooks.queue_event(
            db, "session.rated", {**data, "session_id": request.session_id}, ticket_id=request.ticket_id
        )
    else:
        record(db, "ticket.rated", actor=ACTOR, ticket_id=request.ticket_id, address=address, details=details)
        webhooks.queue_event(db, "ticket.rated", data, ticket_id=request.ticket_id)
    return request


def ticket_ratings(db: Session, ticket_id: int) -> list[RatingRequest]:
    """Ratings given on a ticket (sessions and e-mail), oldest first, for the ticket page."""
    return list(
        db.scalars(
            select(RatingRequest)
            .where(RatingRequest.ticket_id == ticket_id, RatingRequest.rated_at.is_not(None))
            .order_by(RatingRequest.rated_at)
        )
    )


def ticket_of(db: Session, request: RatingRequest) -> Ticket | None:
    return db.get(Ticket, request.ticket_id)
