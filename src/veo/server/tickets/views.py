"""What the ticket pages show, gathered in one transaction: lists for the forms, the detail's parts.

Kept apart from the routes so that ``pages.py`` only parses requests and renders; the helpers here
read, never write.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent
from veo.server.auth.models import User
from veo.server.categories.service import all_categories
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import history, service
from veo.server.tickets.models import Category, Ticket, TicketChange, TicketComment


@dataclass(frozen=True)
class Choices:
    """The options of the category and assignee menus."""

    categories: list[Category]
    technicians: list[User]


def choices(db: Session) -> Choices:
    technicians = db.scalars(select(User).where(User.is_active.is_(True)).order_by(User.name, User.id))
    return Choices(categories=all_categories(db), technicians=list(technicians))


@dataclass(frozen=True)
class EventGroup:
    """Audit events of one remote session (``session`` None: about the ticket itself)."""

    session: RemoteSession | None
    events: list[AuditEvent]


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    sessions: list[RemoteSession]
    groups: list[EventGroup]
    comments: list[TicketComment]
    changes: list[TicketChange]
    choices: Choices
    #: Names for the ids that history rows hold (category, assignee), keyed by (field, id text).
    names: dict[tuple[str, str], str] = field(default_factory=dict)


def _names(db: Session, opts: Choices, changes: list[TicketChange]) -> dict[tuple[str, str], str]:
    names = {("category_id", str(c.id)): c.name for c in opts.categories}
    names |= {("assignee_id", str(u.id)): u.name for u in opts.technicians}
    missing = {int(v) for c in changes if c.field == "assignee_id" for v in (c.old, c.new) if v}
    missing -= {u.id for u in opts.technicians}
    if missing:
        names |= {
            ("assignee_id", str(u.id)): u.name for u in db.scalars(select(User).where(User.id.in_(missing)))
        }
    return names


def load(db: Session, ticket_id: int) -> TicketView:
    ticket = service.get_ticket(db, ticket_id)
    sessions = service.ticket_sessions(db, ticket_id)
    events = service.ticket_events(db, ticket_id, [s.id for s in sessions])
    by_session: dict[str | None, list[AuditEvent]] = {}
    for event in events:
        by_session.setdefault(event.session_id, []).append(event)
    groups = [EventGroup(None, by_session.get(None, []))]
    groups += [EventGroup(s, by_session[s.id]) for s in sessions if s.id in by_session]
    changes = history.of_ticket(db, ticket_id)
    opts = choices(db)
    return TicketView(
        ticket=ticket,
        sessions=sessions,
        groups=groups,
        comments=service.comments(db, ticket_id),
        changes=changes,
        choices=opts,
        names=_names(db, opts, changes),
    )
