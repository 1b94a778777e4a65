"""A real database with a ticket and people: conftest's ``database_url``, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.tickets.models import Ticket


@dataclass
class World:
    db: Database
    tech: User
    other: User
    ticket: Ticket


@pytest.fixture
def world(database_url: str) -> Iterator[World]:
    db = Database(database_url)
    with db.session() as s:
        tech = User(email="tech@example.org", name="Ana Tech", role="technician", password_hash="x")
        other = User(email="other@example.org", name="Other", role="technician", password_hash="x")
        s.add_all([tech, other])
        s.flush()
        ticket = Ticket(title="Printer", requester_name="Bob", requester_email="bob@example.org")
        s.add(ticket)
        s.flush()
    try:
        yield World(db=db, tech=tech, other=other, ticket=ticket)
    finally:
        db.dispose()
