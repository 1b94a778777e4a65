"""The benchmark's sample tickets are consistent: stamps in order, history matching the status."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import func, select
from tests.support import make_user

from veo.server.db.engine import Database
from veo.server.tickets import sample
from veo.server.tickets.models import Category, Ticket, TicketChange
from veo.server.tickets.search import TicketQuery, search


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def test_generated_tickets_are_consistent_and_searchable(db: Database) -> None:
    make_user(db)
    with db.session() as s:
        assert sample.generate(s, 500, seed=3) == 500
    with db.session() as s:
        tickets = list(s.scalars(select(Ticket)))
        assert len(tickets) == 500 and s.scalar(select(func.count()).select_from(Category)) == len(
            sample.CATEGORIES
        )
        for t in tickets:
            if t.first_response_at is not None:
                assert t.created_at <= t.first_response_at
            if t.resolved_at is not None:
                assert t.first_response_at is not None and t.first_response_at <= t.resolved_at
            if t.closed_at is not None:
                assert t.resolved_at is not None and t.resolved_at <= t.closed_at
            assert (t.status == "new") == (t.first_response_at is None)
        last_status = {
            c.ticket_id: c.new
            for c in s.scalars(
                select(TicketChange).where(TicketChange.field == "status").order_by(TicketChange.at)
            )
        }
        assert all(last_status.get(t.id, "new") == t.status for t in tickets)
        printers = search(s, TicketQuery(q="printer"))
        assert printers.total > 0 and all(
            "rint" in t.title or "rint" in t.description for t in printers.items
        )
