"""Tickets: create, read and change them, comment on them; history and audit in the same transaction.

Routes parse and render; this module changes state. Every change to a field writes a
:class:`~veo.server.tickets.models.TicketChange` row and an audit event before the transaction
commits, so a failure leaves neither the change nor its record. Status moves go through
:func:`change_status`, which enforces the workflow table of :mod:`veo.server.tickets.lifecycle`.
The first public reply by a technician stamps ``first_response_at`` (the first remote session
does too, see :mod:`veo.server.tickets.first_response`). The requester's e-mails and the
webhooks (:mod:`veo.server.notify.events`) are queued in the same transaction: a new ticket,
a public reply, a resolution.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.errors import InvalidInput, NotFound
from veo.server.lang import _
from veo.server.notify import events as notify
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import first_response, history, lifecycle
from veo.server.tickets.models import Category, Ticket, TicketComment
from veo.server.tickets.search import MAX_PER_PAGE, Page, TicketQuery, search
from veo.server.tickets.validation import CREATE_FIELDS, EDITABLE, Value, check, clean, comment_body

__all__ = [
    "MAX_PER_PAGE",
    "Page",
    "TicketQuery",
    "add_comment",
    "change_status",
    "create_ticket",
    "get_ticket",
    "list_tickets",
    "search",
    "update_ticket",
]


def _actor_name(actor: User | None) -> str:
    return actor.email if actor is not None else "system"


def _validated(
    db: Session, values: Mapping[str, Any], fields: tuple[str, ...], *, partial: bool
) -> dict[str, Value]:
    """Field rules plus existence of category and assignee, all bad fields reported together."""
    cleaned, errors = check(values, fields=fields, partial=partial)
    errors = _reference_errors(db, cleaned) | errors
    if errors:
        raise InvalidInput(errors)
    return cleaned


def _reference_errors(db: Session, fields: Mapping[str, object]) -> dict[str, str]:
    """Category and assignee must exist (an assignee must be an active account)."""
    errors: dict[str, str] = {}
    category_id = fields.get("category_id")
    if isinstance(category_id, int) and db.get(Category, category_id) is None:
        errors["category_id"] = _("This category does not exist.")
    assignee_id = fields.get("assignee_id")
    if isinstance(assignee_id, int):
        assignee = db.get(User, assignee_id)
        if assignee is None or not assignee.is_active:
            errors["assignee_id"] = _("Choose an active technician as assignee.")
    return errors


def create_ticket(db: Session, values: Mapping[str, Any], *, creator: User, address: str = "") -> Ticket:
    fields = _validated(db, values, CREATE_FIELDS, partial=False)
    ticket = Ticket(**fields, created_by_id=creator.id)
    db.add(ticket)
    db.flush()
    record(
        db,
        "ticket.created",
        actor=creator.email,
        ticket_id=ticket.id,
        address=address,
        details={
            "title": ticket.title,
            "requester_email": ticket.requester_email,
            "priority": ticket.priority,
            "channel": ticket.channel,
        },
    )
    notify.ticket_created(db, ticket)
    return ticket


def list_tickets(db: Session, *, page: int = 1, per_page: int = 25) -> Page:
    """Newest first, no filter (kept for callers that only page)."""
    return search(db, TicketQuery(page=page, per_page=per_page))


def get_ticket(db: Session, ticket_id: int, *, for_update: bool = False) -> Ticket:
    """The ticket, locked against concurrent changes when ``for_update`` (PostgreSQL)."""
    # "OF tickets": PostgreSQL cannot lock the optional side of the eager outer joins.
    lock = {"of": Ticket} if for_update else None
    ticket = db.get(Ticket, ticket_id, with_for_update=lock, populate_existing=for_update)
    if ticket is None:
        raise NotFound(_("Ticket %(id)d does not exist.") % {"id": ticket_id})
    return ticket


Changes = dict[str, dict[str, str | None]]


def _set(
    db: Session, ticket: Ticket, actor: User | None, field: str, value: object, now: datetime
) -> Changes:
    """Set one field, writing its history row; returns the audit detail (empty if unchanged)."""
    old = getattr(ticket, field)
    if old == value:
        return {}
    history.write(db, ticket, actor, field, old, value, now)
    setattr(ticket, field, value)
    return {field: {"from": history.as_text(old), "to": history.as_text(value)}}


def _move(db: Session, ticket: Ticket, wanted: str, actor: User | None, note: str, now: datetime) -> Changes:
    """Apply a checked status move: history row, timestamps, and the resolution note."""
    lifecycle.check(ticket.status, wanted)
    old = ticket.status
    lifecycle.stamp(ticket, wanted, now)
    history.write(db, ticket, actor, "status", old, wanted, now)
    changes: Changes = {"status": {"from": old, "to": wanted}}
    if note and wanted in lifecycle.DONE:
        changes |= _set(db, ticket, actor, "resolution_note", note, now)
    if wanted == "resolved":
        notify.ticket_resolved(db, ticket)
    return changes


def change_status(
    db: Session, ticket: Ticket, new_status: str, actor: User | None, note: str = "", *, address: str = ""
) -> Ticket:
    """Move ``ticket`` to ``new_status`` if the workflow allows it; no-op if it is already there.

    ``note`` becomes the resolution note when resolving or closing, and an internal note
    otherwise. ``actor`` None means the system (e.g. an automatic close). Raises
    :class:`~veo.server.tickets.lifecycle.InvalidTransition` (409) or InvalidInput (422).
    """
    fields = clean(
        {"status": new_status, "resolution_note": note}, fields=("status", "resolution_note"), partial=True
    )
    wanted = str(fields["status"])
    note = str(fields.get("resolution_note", ""))
    if wanted == ticket.status:
        return ticket
    now = utcnow()
    changes = _move(db, ticket, wanted, actor, note, now)
    ticket.updated_at = now
    record(
        db, "ticket.updated", actor=_actor_name(actor), ticket_id=ticket.id, address=address, details=changes
    )
    if note and wanted not in lifecycle.DONE:
        add_comment(db, ticket, actor, note, False, address=address)
    db.flush()
    return ticket


def update_ticket(
    db: Session, ticket_id: int, values: Mapping[str, Any], *, actor: User, address: str = ""
) -> Ticket:
    """Change any editable fields at once (a PATCH or the detail page's form): one audit event.

    A status in ``values`` is moved after the other fields, so a ``resolution_note`` sent with
    ``status: resolved`` is the resolution's note. A forbidden move changes nothing at all.
    """
    fields = _validated(db, values, EDITABLE, partial=True)
    ticket = get_ticket(db, ticket_id, for_update=True)
    status = fields.pop("status", None)
    if status is not None and status != ticket.status:
        lifecycle.check(ticket.status, str(status))
    now = utcnow()
    changes: Changes = {}
    for field, value in fields.items():
        changes |= _set(db, ticket, actor, field, value, now)
    if status is not None and status != ticket.status:
        changes |= _move(db, ticket, str(status), actor, "", now)
    if changes:
        ticket.updated_at = now
        record(db, "ticket.updated", actor=actor.email, ticket_id=ticket.id, address=address, details=changes)
    db.flush()
    return ticket


def add_comment(
    db: Session, ticket: Ticket, author: User | None, body: str, public: bool, *, address: str = ""
) -> TicketComment:
    """A public reply or an internal note; the first public reply by a technician is the first response."""
    text = comment_body(body)
    now = utcnow()
    comment = TicketComment(
        ticket_id=ticket.id,
        author_id=author.id if author is not None else None,
        body=text,
        public=bool(public),
        created_at=now,
    )
    db.add(comment)
    if public and author is not None:
        first_response.stamp(db, ticket, author, now)
    ticket.updated_at = now
    db.flush()
    record(
        db,
        "ticket.comment_added",
        actor=_actor_name(author),
        ticket_id=ticket.id,
        address=address,
        details={"comment_id": comment.id, "public": comment.public, "length": len(text)},
    )
    if comment.public and author is not None:
        notify.public_reply(db, ticket, comment)
    return comment


def comments(db: Session, ticket_id: int, *, public_only: bool = False) -> list[TicketComment]:
    """Oldest first."""
    query = select(TicketComment).where(TicketComment.ticket_id == ticket_id)
    if public_only:
        query = query.where(TicketComment.public.is_(True))
    return list(db.scalars(query.order_by(TicketComment.created_at, TicketComment.id)))


def ticket_sessions(db: Session, ticket_id: int) -> list[RemoteSession]:
    return list(
        db.scalars(
            select(RemoteSession)
            .where(RemoteSession.ticket_id == ticket_id)
            .order_by(RemoteSession.created_at.desc())
        )
    )


def ticket_events(db: Session, ticket_id: int, session_ids: list[str]) -> list[AuditEvent]:
    """Audit events about the ticket or any of its sessions, oldest first."""
    condition = AuditEvent.ticket_id == ticket_id
    if session_ids:
        condition = or_(condition, AuditEvent.session_id.in_(session_ids))
    return list(db.scalars(select(AuditEvent).where(condition).order_by(AuditEvent.seq)))
