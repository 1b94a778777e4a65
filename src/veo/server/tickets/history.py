"""Field-level history of a ticket: one :class:`TicketChange` row per changed field.

Values are kept as text (ids for category and assignee) so one table holds every field and the
reports can replay a ticket's status changes in order. Rows are written by the service in the
same transaction as the change, so history never disagrees with the ticket.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.auth.models import User
from veo.server.tickets.models import Ticket, TicketChange


def as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write(
    db: Session, ticket: Ticket, actor: User | None, field: str, old: object, new: object, at: datetime
) -> None:
    write_as(db, ticket, actor.id if actor is not None else None, field, old, new, at)


def write_as(
    db: Session, ticket: Ticket, actor_id: int | None, field: str, old: object, new: object, at: datetime
) -> None:
    """:func:`write` for callers that hold only the actor's id."""
    db.add(
        TicketChange(
            ticket_id=ticket.id,
            actor_id=actor_id,
            at=at,
            field=field,
            old=as_text(old),
            new=as_text(new),
        )
    )


def of_ticket(db: Session, ticket_id: int) -> list[TicketChange]:
    """Oldest first."""
    return list(
        db.scalars(select(TicketChange).where(TicketChange.ticket_id == ticket_id).order_by(TicketChange.id))
    )
