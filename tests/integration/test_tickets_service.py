"""The ticket service on SQLite and PostgreSQL: workflow, history rows, first response, all-or-nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from tests.support import make_user

from veo.server.audit.models import AuditEvent
from veo.server.auth.models import User
from veo.server.categories import service as categories
from veo.server.db.engine import Database
from veo.server.errors import ApiError, InvalidInput
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import history, service
from veo.server.tickets.lifecycle import InvalidTransition
from veo.server.tickets.models import Ticket, TicketChange, TicketComment

BASE = {"title": "VPN drops", "requester_name": "Bob", "requester_email": "bob@example.org"}


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def tech(db: Database) -> User:
    return make_user(db).user


def _new(db: Database, tech: User, **extra: object) -> int:
    with db.session() as s:
        return service.create_ticket(s, {**BASE, **extra}, creator=tech).id


def _changes(db: Database, ticket_id: int) -> list[tuple[str, str | None, str | None]]:
    with db.session() as s:
        return [(c.field, c.old, c.new) for c in history.of_ticket(s, ticket_id)]


def test_full_lifecycle_writes_history_and_timestamps(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech, priority="high", channel="phone", requester_department="Sales")
    for status in ("open", "waiting", "open", "resolved", "closed", "open", "resolved"):
        with db.session() as s:
            service.change_status(s, service.get_ticket(s, ticket_id), status, tech, note="Replaced cable")
    with db.session() as s:
        ticket = service.get_ticket(s, ticket_id)
        assert (ticket.status, ticket.priority, ticket.channel) == ("resolved", "high", "phone")
        assert ticket.requester_department == "Sales" and ticket.reopened_count == 1
        assert ticket.resolved_at is not None and ticket.closed_at is None
        assert ticket.resolution_note == "Replaced cable"
        rows = list(s.scalars(select(TicketChange).where(TicketChange.ticket_id == ticket_id)))
        assert all(r.actor_id == tech.id for r in rows)
        # The "waiting -> open" note became an internal note, not a resolution.
        notes = service.comments(s, ticket_id)
        assert [(n.body, n.public) for n in notes] == [("Replaced cable", False)] * 4
    statuses = [(old, new) for field, old, new in _changes(db, ticket_id) if field == "status"]
    assert statuses == [
        ("new", "open"),
        ("open", "waiting"),
        ("waiting", "open"),
        ("open", "resolved"),
        ("resolved", "closed"),
        ("closed", "open"),
        ("open", "resolved"),
    ]
    assert ("resolution_note", "", "Replaced cable") in _changes(db, ticket_id)


def test_forbidden_move_stores_nothing(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    with pytest.raises(InvalidTransition), db.session() as s:
        service.update_ticket(s, ticket_id, {"title": "Renamed", "status": "open"}, actor=tech)
        service.update_ticket(s, ticket_id, {"title": "Again", "status": "new"}, actor=tech)
    with db.session() as s:
        ticket = service.get_ticket(s, ticket_id)
        assert ticket.title == "VPN drops" and ticket.status == "new"
    assert _changes(db, ticket_id) == []
    with db.session() as s:
        service.update_ticket(s, ticket_id, {"status": "closed"}, actor=tech)
    with pytest.raises(InvalidTransition) as caught, db.session() as s:
        service.update_ticket(s, ticket_id, {"priority": "low", "status": "waiting"}, actor=tech)
    assert "open" in caught.value.message
    with db.session() as s:
        assert service.get_ticket(s, ticket_id).priority == "normal"


def test_same_status_is_a_no_op_and_unknown_status_is_invalid(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    with db.session() as s:
        service.change_status(s, service.get_ticket(s, ticket_id), "new", tech)
    assert _changes(db, ticket_id) == []
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        service.change_status(s, service.get_ticket(s, ticket_id), "done", tech)
    assert list(caught.value.fields) == ["status"]


def test_every_field_change_is_a_row_and_one_audit_event(db: Database, tech: User) -> None:
    other = make_user(db, "lead@example.org", name="Lea Lead", role="lead").user
    with db.session() as s:
        category = categories.create_category(s, "Network", actor=other)
    ticket_id = _new(db, tech)
    with db.session() as s:
        service.update_ticket(
            s,
            ticket_id,
            {"category_id": category.id, "assignee_id": other.id, "priority": "urgent", "status": "open"},
            actor=tech,
        )
        service.update_ticket(s, ticket_id, {"assignee_id": None, "priority": "urgent"}, actor=tech)
    changes = _changes(db, ticket_id)
    assert sorted(changes[:3]) == [
        ("assignee_id", None, str(other.id)),
        ("category_id", None, str(category.id)),
        ("priority", "normal", "urgent"),
    ]
    assert changes[3:] == [("status", "new", "open"), ("assignee_id", str(other.id), None)]
    with db.session() as s:
        events = list(
            s.scalars(select(AuditEvent).where(AuditEvent.ticket_id == ticket_id).order_by(AuditEvent.seq))
        )
    assert [e.action for e in events] == ["ticket.created", "ticket.updated", "ticket.updated"]
    assert events[1].details["status"] == {"from": "new", "to": "open"}


def test_unknown_category_or_inactive_assignee_is_refused(db: Database, tech: User) -> None:
    with db.session() as s:
        gone = s.get(User, make_user(db, "gone@example.org").user.id)
        assert gone is not None
        gone.is_active = False
    with pytest.raises(InvalidInput) as caught, db.session() as s:
        service.create_ticket(s, {**BASE, "category_id": 999, "assignee_id": gone.id}, creator=tech)
    assert set(caught.value.fields) == {"category_id", "assignee_id"}
    with db.session() as s:
        assert s.scalars(select(Ticket)).first() is None


def test_first_public_reply_is_the_first_response(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    with db.session() as s:
        ticket = service.get_ticket(s, ticket_id)
        service.add_comment(s, ticket, tech, "Looking into it (internal)", False)
        assert ticket.first_response_at is None
        reply = service.add_comment(s, ticket, tech, "  We are on it.  ", True)
        first = ticket.first_response_at
        assert first is not None and reply.body == "We are on it."
        service.add_comment(s, ticket, tech, "Second reply", True)
    with db.session() as s:
        ticket = service.get_ticket(s, ticket_id)
        assert ticket.first_response_at == first
        comments = service.comments(s, ticket_id)
        assert [c.public for c in comments] == [False, True, True]
        assert [c.body for c in service.comments(s, ticket_id, public_only=True)] == [
            "We are on it.",
            "Second reply",
        ]
    assert [c[0] for c in _changes(db, ticket_id)] == ["first_response_at"]


def test_bad_comment_is_not_stored(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    with pytest.raises(InvalidInput), db.session() as s:
        service.add_comment(s, service.get_ticket(s, ticket_id), tech, "   ", True)
    with db.session() as s:
        assert s.scalars(select(TicketComment)).first() is None
        assert service.get_ticket(s, ticket_id).first_response_at is None


def test_session_start_by_a_technician_is_the_first_response(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    started = datetime(2026, 4, 1, 8, 30, tzinfo=UTC)
    session_id = str(uuid.uuid4())
    with db.session() as s:
        s.add(
            RemoteSession(
                id=session_id,
                ticket_id=ticket_id,
                technician_id=tech.id,
                code_expires_at=started,
                status="waiting",
            )
        )
    with db.session() as s:
        assert service.get_ticket(s, ticket_id).first_response_at is None
        remote = s.get(RemoteSession, session_id)
        assert remote is not None
        remote.status, remote.started_at = "active", started
    with db.session() as s:
        assert service.get_ticket(s, ticket_id).first_response_at == started
        service.add_comment(s, service.get_ticket(s, ticket_id), tech, "Done remotely", True)
    with db.session() as s:
        assert service.get_ticket(s, ticket_id).first_response_at == started
        change = s.scalars(select(TicketChange).where(TicketChange.field == "first_response_at")).one()
        assert change.actor_id == tech.id and change.at == started


def test_status_change_by_the_system_has_no_actor(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    with db.session() as s:
        service.change_status(s, service.get_ticket(s, ticket_id), "closed", None, note="Auto-closed")
    with db.session() as s:
        change = s.scalars(select(TicketChange).where(TicketChange.field == "status")).one()
        assert change.actor_id is None
        event = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.updated")).one()
        assert event.actor == "system"


def test_categories_are_managed_by_admins_and_leads_only(db: Database, tech: User) -> None:
    lead = make_user(db, "lead@example.org", role="lead").user
    with pytest.raises(ApiError) as caught, db.session() as s:
        categories.create_category(s, "Printers", actor=tech)
    assert caught.value.status == 403
    with db.session() as s:
        printers = categories.create_category(s, "  Printers  ", actor=lead)
        assert printers.name == "Printers"
    with pytest.raises(InvalidInput), db.session() as s:
        categories.create_category(s, "printers", actor=lead)
    ticket_id = _new(db, tech, category_id=str(printers.id))
    with db.session() as s:
        categories.rename_category(s, printers.id, "Printing", actor=lead)
        categories.delete_category(s, printers.id, actor=lead)
    with db.session() as s:
        assert service.get_ticket(s, ticket_id).category_id is None
        assert categories.all_categories(s) == []


def test_timestamps_are_ordered(db: Database, tech: User) -> None:
    ticket_id = _new(db, tech)
    with db.session() as s:
        ticket = service.get_ticket(s, ticket_id)
        service.change_status(s, ticket, "resolved", tech)
        service.change_status(s, ticket, "closed", tech)
    with db.session() as s:
        ticket = service.get_ticket(s, ticket_id)
        assert ticket.resolved_at is not None and ticket.closed_at is not None
        assert (
            ticket.created_at
            <= ticket.resolved_at
            <= ticket.closed_at
            <= ticket.created_at + timedelta(hours=1)
        )
