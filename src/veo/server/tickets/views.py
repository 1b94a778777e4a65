"""What the ticket pages show, gathered in one transaction: lists for the forms, the detail's parts.

Kept apart from the routes so that ``pages.py`` only parses requests and renders; the helpers here
read, never write.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.protocol import codes
from veo.server.audit.models import AuditEvent
from veo.server.auth.models import User
from veo.server.categories.service import all_categories
from veo.server.db.base import utcnow
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.schemas import join_url
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
    #: People's names for the e-mail addresses that audit events record as their actor.
    actors: dict[str, str] = field(default_factory=dict)


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
    emails = {e.actor for e in events if "@" in e.actor}
    actors = {u.email: u.name for u in opts.technicians if u.email in emails}
    if emails - actors.keys():
        found = db.scalars(select(User).where(User.email.in_(emails - actors.keys())))
        actors |= {u.email: u.name for u in found}
    return TicketView(
        ticket=ticket,
        sessions=sessions,
        groups=groups,
        comments=service.comments(db, ticket_id),
        changes=changes,
        choices=opts,
        names=_names(db, opts, changes),
        actors=actors,
    )


#: What the ticket's header says about remote support right now.
NowState = Literal["waiting", "code_expired", "live"]


@dataclass(frozen=True)
class SessionNow:
    """The ticket's latest session when it needs the technician's attention at the top of the page.

    ``waiting``: its code is valid, shown with copy buttons; ``code_expired``: the code ran out
    before the user joined (a *New code* button); ``live``: joined or under way (open the console).
    A managed device's session never shows or renews its code (it is the device's alone): while it
    waits or runs it is ``live``, and once its code ran out it is nothing here (connect again from
    the device's page).
    """

    session: RemoteSession
    state: NowState
    code_display: str = ""
    join_url: str = ""


#: A device session's statuses in which the header offers its console (never its code).
_DEVICE_LIVE = frozenset({"waiting", "joined", "connecting", "active"})


def session_now(
    sessions: list[RemoteSession], public_url: str, now: datetime | None = None
) -> SessionNow | None:
    """What the header shows about the newest session (``sessions`` newest first), if anything."""
    if not sessions:
        return None
    latest = sessions[0]
    moment = now or utcnow()
    if latest.device_id is not None:
        return SessionNow(latest, "live") if latest.status in _DEVICE_LIVE else None
    if latest.status == "waiting" and latest.code and latest.code_expires_at > moment:
        return SessionNow(latest, "waiting", codes.display(latest.code), join_url(public_url, latest.code))
    if latest.status in ("waiting", "expired"):
        return SessionNow(latest, "code_expired")
    if latest.status in ("joined", "connecting", "active"):
        return SessionNow(latest, "live")
    return None
