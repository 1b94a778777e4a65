"""Puts the hand-made report fixture (``tests/unit/server/reports/fixture.py``) into a database.

Rows are written directly with their historic timestamps (the ticket service would stamp "now"),
exactly as the ticket and session services would have left them.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from tests.support import make_user
from tests.unit.server.reports.fixture import ANA, BEN, SPECS, resolved, session_start

if TYPE_CHECKING:
    from veo.server.db.engine import Database

LEAD = "lead@example.org"


def seed(db: Database) -> dict[int, int]:
    """The fixture's tickets, sessions, history and ratings; returns fixture tech id -> user id."""
    from veo.server.notify.models import RatingRequest
    from veo.server.sessions.models import RemoteSession
    from veo.server.tickets.models import Category, Ticket, TicketChange

    make_user(db, LEAD, name="Lea Lead", role="lead")
    users = {
        ANA: make_user(db, "ana@example.org", name="Ana").user.id,
        BEN: make_user(db, "ben@example.org", name="Ben").user.id,
    }
    with db.session() as s:
        categories = {name: Category(name=name) for name in ("Printing", "Network")}
        s.add_all(categories.values())
        for spec in SPECS:
            ticket = Ticket(
                title=spec.title,
                description=spec.description,
                requester_name="Bob",
                requester_email="bob@example.org",
                status="resolved" if spec.resolved_hours is not None else "open",
                priority=spec.priority,
                category=categories[spec.category],
                assignee_id=users[spec.tech],
                created_at=spec.created,
                updated_at=spec.created,
                first_response_at=spec.created + timedelta(minutes=spec.first_minutes),
                resolved_at=resolved(spec),
                reopened_count=spec.reopened,
            )
            s.add(ticket)
            s.flush()
            if spec.waited:
                s.add(
                    TicketChange(
                        ticket_id=ticket.id, at=spec.created, field="status", old="open", new="waiting"
                    )
                )
            for index, minutes in enumerate(spec.sessions):
                started = session_start(spec, index)
                s.add(
                    RemoteSession(
                        id=str(uuid.uuid4()),
                        ticket_id=ticket.id,
                        technician_id=users[spec.tech],
                        code_expires_at=started,
                        status="ended",
                        created_at=started,
                        started_at=started,
                        ended_at=started + timedelta(minutes=minutes),
                    )
                )
            if spec.rating is not None:
                digest = hashlib.sha256(f"rating-{ticket.id}".encode()).hexdigest()
                s.add(RatingRequest(token_digest=digest, ticket_id=ticket.id, score=spec.rating))
    return users
