"""Hook points for other services: "this happened" -> queue the e-mail and the webhooks.

Each function writes outbox rows in the CALLER's transaction and sends nothing: the ticket (or
session) change and its notifications commit together, and an SMTP or receiver failure later
can never undo or block the change. Callers add one line, e.g. at the end of
``tickets.service.add_comment``: ``if comment.public: events.public_reply(db, ticket, comment)``.

E-mails are stored as a template name, a language and a context; the worker renders them with
the server's settings (public address, organization) when it sends (``compose.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from veo.config import SUPPORTED_LANGUAGES
from veo.i18n import normalize
from veo.protocol import codes
from veo.server.notify import outbox, rating, webhooks
from veo.server.notify.models import OutboxMessage, RequesterLanguage
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

if TYPE_CHECKING:
    from veo.server.tickets.models import TicketComment


def requester_language(db: Session, ticket_id: int) -> str | None:
    """The language recorded for the ticket's requester (None: use the server's language)."""
    row = db.get(RequesterLanguage, ticket_id)
    return row.language if row is not None else None


def set_requester_language(db: Session, ticket_id: int, language: str | None) -> None:
    """Remember the requester's language (``es-MX`` -> ``es``); unknown values are ignored."""
    if not language:
        return
    code = normalize(language)
    if code not in SUPPORTED_LANGUAGES or (code == "en" and not language.lower().startswith("en")):
        return
    row = db.get(RequesterLanguage, ticket_id)
    if row is None:
        db.add(RequesterLanguage(ticket_id=ticket_id, language=code))
    else:
        row.language = code
    db.flush()


def _ticket_data(ticket: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": ticket.id,
        "ticket_title": ticket.title,
        "requester_name": ticket.requester_name,
    }


def _mail(db: Session, ticket: Ticket, template: str, event: str, context: dict[str, Any]) -> OutboxMessage:
    return outbox.enqueue(
        db,
        kind="email",
        event=event,
        recipient=ticket.requester_email,
        payload={
            "template": template,
            "language": requester_language(db, ticket.id),
            "context": {**_ticket_data(ticket), **context},
        },
        ticket_id=ticket.id,
    )


def _hook(db: Session, ticket: Ticket, event: str, extra: dict[str, Any] | None = None) -> None:
    data = {
        "ticket": {
            "id": ticket.id,
            "title": ticket.title,
            "status": ticket.status,
            "requester_name": ticket.requester_name,
            "requester_email": ticket.requester_email,
        },
        **(extra or {}),
    }
    webhooks.queue_event(db, event, data, ticket_id=ticket.id)


def ticket_created(db: Session, ticket: Ticket, *, language: str | None = None) -> None:
    """Tell the requester their request arrived; webhooks ``ticket.created``."""
    set_requester_language(db, ticket.id, language)
    _mail(db, ticket, "ticket_created", "ticket.created", {})
    _hook(db, ticket, "ticket.created")


def public_reply(db: Session, ticket: Ticket, comment: TicketComment) -> None:
    """A technician's public reply goes to the requester; webhooks ``ticket.reply``."""
    author = comment.author.name if comment.author is not None else ""
    _mail(db, ticket, "public_reply", "ticket.reply", {"author": author, "reply": comment.body})
    _hook(db, ticket, "ticket.reply", {"comment": {"id": comment.id, "author": author, "body": comment.body}})


def ticket_resolved(db: Session, ticket: Ticket) -> None:
    """Resolved: the requester gets the resolution and a one-time rating link."""
    language = requester_language(db, ticket.id)
    token = rating.issue(db, ticket_id=ticket.id, language=language or "")
    resolution = ticket.resolution_note or ""
    _mail(
        db,
        ticket,
        "ticket_resolved",
        "ticket.resolved",
        {"resolution": resolution, "rating_path": f"/rate/{token}"},
    )
    _hook(db, ticket, "ticket.resolved", {"resolution": resolution})


def session_link(db: Session, session: RemoteSession) -> OutboxMessage:
    """E-mail the requester the join link and code of a waiting session (the technician asked)."""
    ticket = session.ticket
    technician = session.technician.name if session.technician is not None else ""
    code = session.code or ""
    return _mail(
        db,
        ticket,
        "session_link",
        "session.link",
        {"technician": technician, "code": codes.display(code), "join_path": f"/join?code={code}"},
    )
