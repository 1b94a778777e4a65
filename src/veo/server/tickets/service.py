"""Tickets: create, list, read and change them; every change is an audit event.

Validation lives here (not in the routes) so that the form, the REST API and any future import
apply the same rules and give the same messages; all bad fields are reported at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.db.base import utcnow
from veo.server.errors import InvalidInput, NotFound
from veo.server.lang import _
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import TICKET_STATUSES, Ticket

EDITABLE = ("title", "description", "requester_name", "requester_email", "status")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_PER_PAGE = 100


def clean(values: Mapping[str, Any], *, partial: bool = False) -> dict[str, str]:
    """Checked, stripped field values; InvalidInput lists every bad field with its message.

    With ``partial`` only the fields present are checked (a PATCH).
    """
    errors: dict[str, str] = {}
    cleaned: dict[str, str] = {}
    for field in EDITABLE:
        if field not in values or values[field] is None:
            if not partial and field in ("title", "requester_name", "requester_email"):
                errors[field] = _("This field is required.")
            continue
        raw = values[field]
        if not isinstance(raw, str):
            errors[field] = _("Must be text.")
            continue
        value = raw.strip()
        if field == "title" and not 1 <= len(value) <= 200:
            errors[field] = _("Enter a title of 1 to 200 characters.")
        elif field == "description" and len(value) > 10000:
            errors[field] = _("The description is limited to 10000 characters.")
        elif field == "requester_name" and not 1 <= len(value) <= 200:
            errors[field] = _("Enter the requester's name (1 to 200 characters).")
        elif field == "requester_email" and (len(value) > 320 or not _EMAIL.match(value)):
            errors[field] = _("Enter a valid e-mail address, like ana@example.org.")
        elif field == "status" and value not in TICKET_STATUSES:
            errors[field] = _("Unknown status; use one of: %(statuses)s.") % {
                "statuses": ", ".join(TICKET_STATUSES)
            }
        else:
            cleaned[field] = value.lower() if field == "requester_email" else value
    if errors:
        raise InvalidInput(errors)
    return cleaned


def create_ticket(db: Session, values: Mapping[str, Any], *, creator: User, address: str = "") -> Ticket:
    fields = clean(values)
    ticket = Ticket(
        title=fields["title"],
        description=fields.get("description", ""),
        requester_name=fields["requester_name"],
        requester_email=fields["requester_email"],
        created_by_id=creator.id,
    )
    db.add(ticket)
    db.flush()
    record(
        db,
        "ticket.created",
        actor=creator.email,
        ticket_id=ticket.id,
        address=address,
        details={"title": ticket.title, "requester_email": ticket.requester_email},
    )
    return ticket


@dataclass(frozen=True)
class Page:
    items: list[Ticket]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_tickets(db: Session, *, page: int = 1, per_page: int = 25) -> Page:
    """Newest first; ``page`` counts from 1."""
    page = max(1, page)
    per_page = min(max(1, per_page), MAX_PER_PAGE)
    total = db.scalar(select(func.count()).select_from(Ticket)) or 0
    rows = db.scalars(
        select(Ticket)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .offset((page - 1) * per_page)
        .limit(per_page)
    )
    return Page(items=list(rows), total=total, page=page, per_page=per_page)


def get_ticket(db: Session, ticket_id: int) -> Ticket:
    ticket = db.get(Ticket, ticket_id)
    if ticket is None:
        raise NotFound(_("Ticket %(id)d does not exist.") % {"id": ticket_id})
    return ticket


def update_ticket(
    db: Session, ticket_id: int, values: Mapping[str, Any], *, actor: User, address: str = ""
) -> Ticket:
    fields = clean(values, partial=True)
    ticket = get_ticket(db, ticket_id)
    changed: dict[str, dict[str, str]] = {}
    for field, value in fields.items():
        old = getattr(ticket, field)
        if old != value:
            changed[field] = {"from": old, "to": value}
            setattr(ticket, field, value)
    if "status" in changed:
        ticket.resolved_at = utcnow() if ticket.status in ("resolved", "closed") else None
    if changed:
        ticket.updated_at = utcnow()
        record(db, "ticket.updated", actor=actor.email, ticket_id=ticket.id, address=address, details=changed)
    db.flush()
    return ticket


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
