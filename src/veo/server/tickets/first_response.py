"""Time to first response: stamped by the first public reply or first remote session start.

A public reply goes through the ticket service, which calls :func:`stamp`. A remote session is
started by the sessions service, which knows nothing about metrics; rather than couple it to
tickets, a ``before_flush`` hook notices a session whose ``started_at`` was just set and stamps
its ticket in the same flush, so the two can never disagree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from veo.server.auth.models import User
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import history
from veo.server.tickets.models import Ticket


def stamp_as(db: Session, ticket: Ticket, actor_id: int | None, at: datetime) -> None:
    """Record ``at`` as the first response unless the ticket already has one."""
    if ticket.first_response_at is not None:
        return
    ticket.first_response_at = at
    history.write_as(db, ticket, actor_id, "first_response_at", None, at, at)


def stamp(db: Session, ticket: Ticket, actor: User, at: datetime) -> None:
    stamp_as(db, ticket, actor.id, at)


@event.listens_for(Session, "before_flush")
def _session_started(db: Session, _context: Any, _instances: Any) -> None:
    for obj in list(db.new) + list(db.dirty):
        if not isinstance(obj, RemoteSession) or obj.started_at is None or obj.technician_id is None:
            continue
        if not inspect(obj).attrs.started_at.history.added:
            continue
        with db.no_autoflush:
            ticket = db.get(Ticket, obj.ticket_id)
        if ticket is not None:
            stamp_as(db, ticket, obj.technician_id, obj.started_at)
