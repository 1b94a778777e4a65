"""What a session leaves on its ticket besides the note: the chat transcript and the system information.

Both travel end to end (data channel) and the server never sees them on the way; the technician's
console hands them over here so the ticket keeps a record:

* ``POST /api/v1/sessions/{id}/chat-transcript`` (form field ``transcript``: a JSON list of
  ``{"id", "from": "technician"|"user", "text", "at"}``). The console posts the whole transcript
  when it sees the session end, and again on ``pagehide`` with ``navigator.sendBeacon`` (the
  technician closing the tab); each post *replaces* the session's one transcript comment, unless
  it holds fewer lines than the stored one (a reloaded console knows only the lines since the
  reload, and must not wipe the earlier ones).
* ``POST /api/v1/sessions/{id}/sysinfo`` (form field ``info``: the JSON object the user agreed to
  send); stored as readable text (:func:`veo.protocol.sysinfo.describe`, what the user read).

Both are internal ticket comments (technicians only) with an audit event
(``session.chat_attached``, ``session.sysinfo_attached``); only the session's technician (or an
admin) may post them, with the page's CSRF token (a form field, since a beacon cannot set headers).
Form fields rather than a JSON body for the same reason.

The server never sees these lines travel, so it cannot vouch that the user wrote or sent them: it
accepts them only for a session the user allowed (nothing can have come from the user before
Allow: the agent refuses chat and system information until then), answers 409
``session_not_consented`` otherwise, and stores them as *sent by the technician's console*
(``TicketComment.origin``, the comment's first line, the audit event), which the ticket page shows.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from pydantic import BaseModel
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.i18n import gettext_for
from veo.protocol.base import nests_deeper_than
from veo.protocol.sysinfo import describe
from veo.server.addresses import client_address
from veo.server.api.schemas import ErrorOut, error_responses
from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.auth.deps import CurrentUser
from veo.server.db.base import utcnow
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError
from veo.server.lang import _, get_language
from veo.server.sessions import txn
from veo.server.sessions.access import load_for
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import TicketComment

router = APIRouter(prefix="/api/v1", tags=["sessions"])

MAX_LINES = 1000
MAX_LINE_CHARS = 4000
MAX_TRANSCRIPT_CHARS = 300_000
MAX_SYSINFO_BYTES = 128 * 1024
_ID = re.compile(r"^[A-Za-z0-9_-]{1,40}$")
SPEAKERS = ("technician", "user")
#: ``TicketComment.origin`` of what the console attaches
ORIGIN = "technician_console"


class Attached(BaseModel):
    comment_id: int
    lines: int = 0
    replaced: bool = False


_RESPONSES = error_responses(401, 403, 404, 422) | {
    409: {"model": ErrorOut, "description": "The user never allowed this session (`session_not_consented`)."}
}


def _invalid(code: str, message: str) -> ApiError:
    return ApiError(422, code, message)


def _loads(raw: str) -> Any:
    """JSON, or ``ValueError``: nesting is bounded first, as for every protocol message (json.loads
    would raise ``RecursionError`` on ``[`` 100,000 deep, a 500 instead of a clear refusal)."""
    if nests_deeper_than(raw):
        raise ValueError("nested too deeply")
    return json.loads(raw)


def require_consented(session: RemoteSession) -> None:
    """Refuse a session the user never allowed: nothing in it can have come from them.

    ``started_at`` is set when the user pressed Allow (``service.consent``) and kept through the
    end, so a session that ended after consent still takes its transcript.
    """
    if session.started_at is None:
        raise ApiError(
            409,
            "session_not_consented",
            _(
                "The user never allowed this session, so it has no chat or system information "
                "from them to attach to the ticket."
            ),
        )


def parse_transcript(raw: str) -> list[dict[str, str]]:
    """The posted JSON as checked lines ``{"id", "from", "text", "at"}``; a specific error otherwise."""
    if len(raw) > MAX_TRANSCRIPT_CHARS * 2:
        raise _invalid("transcript_too_large", _("The chat transcript is too large."))
    try:
        data: Any = _loads(raw)
    except ValueError:
        raise _invalid("transcript_invalid", _("The chat transcript is not valid JSON.")) from None
    if not isinstance(data, list):
        raise _invalid("transcript_invalid", _("The chat transcript must be a list of messages."))
    if len(data) > MAX_LINES:
        raise _invalid("transcript_too_large", _("The chat transcript has too many messages."))
    lines: list[dict[str, str]] = []
    total = 0
    for index, item in enumerate(data, start=1):
        if not isinstance(item, dict):
            raise _invalid("transcript_invalid", _("Message %(n)d is not an object.") % {"n": index})
        ident, speaker, text, at = item.get("id"), item.get("from"), item.get("text"), item.get("at", "")
        if not isinstance(ident, str) or not _ID.match(ident):
            raise _invalid("transcript_invalid", _("Message %(n)d has no valid id.") % {"n": index})
        if speaker not in SPEAKERS:
            raise _invalid(
                "transcript_invalid",
                _("Message %(n)d must be from the technician or the user.") % {"n": index},
            )
        if not isinstance(text, str) or not 1 <= len(text) <= MAX_LINE_CHARS:
            raise _invalid(
                "transcript_invalid", _("Message %(n)d must have 1 to 4000 characters.") % {"n": index}
            )
        if not isinstance(at, str) or len(at) > 40:
            raise _invalid("transcript_invalid", _("Message %(n)d has an invalid time.") % {"n": index})
        total += len(text)
        if total > MAX_TRANSCRIPT_CHARS:
            raise _invalid("transcript_too_large", _("The chat transcript is too large."))
        lines.append({"id": ident, "from": str(speaker), "text": text, "at": _time_text(at)})
    if not lines:
        raise _invalid("transcript_empty", _("The chat transcript is empty."))
    return lines


def _time_text(at: str) -> str:
    """``HH:MM:SS`` UTC of an ISO time, or nothing when it cannot be read."""
    try:
        when = datetime.fromisoformat(at.replace("Z", "+00:00"))
    except ValueError:
        return ""
    if when.tzinfo is not None:
        when = when.astimezone(UTC)
    return when.strftime("%H:%M:%S")


def transcript_text(session: RemoteSession, lines: list[dict[str, str]]) -> str:
    technician = session.technician.name if session.technician is not None else _("Technician")
    head = _(
        "Chat of remote session %(id)s (%(n)d messages, times in UTC), sent by the technician's console:"
    ) % {"id": session.id, "n": len(lines)}
    who = {"technician": technician, "user": _("User")}
    rows = [
        (f"[{line['at']}] " if line["at"] else "") + f"{who[line['from']]}: {line['text']}" for line in lines
    ]
    return "\n".join([head, *rows])


def parse_sysinfo(raw: str) -> dict[str, Any]:
    if len(raw.encode("utf-8", "replace")) > MAX_SYSINFO_BYTES:
        raise _invalid("sysinfo_too_large", _("The system information is too large."))
    try:
        data: Any = _loads(raw)
    except ValueError:
        raise _invalid("sysinfo_invalid", _("The system information is not valid JSON.")) from None
    if not isinstance(data, dict) or not data:
        raise _invalid("sysinfo_invalid", _("The system information must be a non-empty object."))
    try:
        describe(
            data, gettext_for(get_language()), get_language()
        )  # what the ticket will show must be readable
    except (TypeError, ValueError, AttributeError, KeyError, IndexError):
        raise _invalid("sysinfo_invalid", _("The system information has fields of the wrong kind.")) from None
    return data


def sysinfo_text(session: RemoteSession, info: dict[str, Any]) -> str:
    head = _(
        "System information of remote session %(id)s, sent by the technician's console "
        "(the user's computer sends it to the console only after the user agreed):"
    ) % {"id": session.id}
    parts = [head]
    for title, lines in describe(info, gettext_for(get_language()), get_language()):
        parts.append("")
        parts.append(title)
        parts.extend("  " + line for line in lines or [_("(none)")])
    return "\n".join(parts)


def _previous(db: Session, session_id: str, action: str) -> AuditEvent | None:
    return db.scalars(
        select(AuditEvent)
        .where(AuditEvent.session_id == session_id, AuditEvent.action == action)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()


def _add_comment(db: Session, session: RemoteSession, author_id: int, body: str) -> TicketComment:
    """A new internal comment on the session's ticket, marked as sent by the technician's console."""
    comment = TicketComment(
        ticket_id=session.ticket_id,
        author_id=author_id,
        body=body,
        public=False,
        created_at=utcnow(),
        origin=ORIGIN,
    )
    db.add(comment)
    return comment


def attach_transcript(
    db: Session,
    session: RemoteSession,
    lines: list[dict[str, str]],
    *,
    actor: str,
    author_id: int,
    address: str,
) -> Attached:
    """One transcript comment per session, replaced by a post with at least as many lines."""
    body = transcript_text(session, lines)
    previous = _previous(db, session.id, "session.chat_attached")
    comment: TicketComment | None = None
    if previous is not None:
        comment = db.get(TicketComment, previous.details.get("comment_id"))
        stored = int(previous.details.get("lines", 0))
        if comment is not None and len(lines) < stored:
            return Attached(comment_id=comment.id, lines=stored, replaced=False)
    replaced = comment is not None
    if comment is None:
        comment = _add_comment(db, session, author_id, body)
    else:
        comment.body = body
    session.ticket.updated_at = utcnow()
    db.flush()
    record(
        db,
        "session.chat_attached",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details={"comment_id": comment.id, "lines": len(lines), "replaced": replaced, "origin": ORIGIN},
    )
    return Attached(comment_id=comment.id, lines=len(lines), replaced=replaced)


def attach_sysinfo(
    db: Session, session: RemoteSession, info: dict[str, Any], *, actor: str, author_id: int, address: str
) -> Attached:
    comment = _add_comment(db, session, author_id, sysinfo_text(session, info))
    session.ticket.updated_at = utcnow()
    db.flush()
    record(
        db,
        "session.sysinfo_attached",
        actor=actor,
        ticket_id=session.ticket_id,
        session_id=session.id,
        address=address,
        details={
            "comment_id": comment.id,
            "fields": sorted(str(k)[:40] for k in info)[:40],
            "origin": ORIGIN,
        },
    )
    return Attached(comment_id=comment.id)


@router.post(
    "/sessions/{session_id}/chat-transcript",
    response_model=Attached,
    responses=_RESPONSES,
)
async def post_transcript(
    session_id: str,
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    transcript: Annotated[str, Form(max_length=MAX_TRANSCRIPT_CHARS * 2)],
) -> Attached:
    """Attach (or update) the session's chat transcript as an internal comment on its ticket."""
    lines = parse_transcript(transcript)
    address = client_address(request)

    def work(s: Session) -> Attached:
        session = load_for(s, session_id, user, write=True)
        require_consented(session)
        return attach_transcript(s, session, lines, actor=user.email, author_id=user.id, address=address)

    return await txn.run(db, work)


@router.post(
    "/sessions/{session_id}/sysinfo",
    response_model=Attached,
    responses=_RESPONSES,
)
async def post_sysinfo(
    session_id: str,
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    info: Annotated[str, Form(max_length=MAX_SYSINFO_BYTES)],
) -> Attached:
    """Attach the system information the user agreed to send, as readable text, to the ticket."""
    data = parse_sysinfo(info)
    address = client_address(request)

    def work(s: Session) -> Attached:
        session = load_for(s, session_id, user, write=True)
        require_consented(session)
        return attach_sysinfo(s, session, data, actor=user.email, author_id=user.id, address=address)

    return await txn.run(db, work)
