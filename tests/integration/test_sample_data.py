"""The sample data (demo, bench and tests share one generator) is consistent and tells the truth.

Consistent: stamps in order, a status history that ends at each ticket's status, sessions inside
their ticket's life, ratings from 1 to 5. Usable on a live instance: it reuses the administrator's
database without id clashes, and ``veo admin sample-data`` refuses to mix with real tickets.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select
from tests.support import make_user

from veo.server import admin
from veo.server.audit.models import AuditEvent
from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.db.migrate import migrate
from veo.server.notify.models import RatingRequest
from veo.server.reports import service as reports
from veo.server.reports.models import Pilot
from veo.server.reports.rows import Period
from veo.server.sample import texts
from veo.server.sample.generate import Plan, demo_plan, generate
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange
from veo.server.tickets.search import TicketQuery, search

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


def _plan(months: int = 3, seed: int = 3) -> Plan:
    return demo_plan(months, seed, now=NOW)


def test_generated_data_is_consistent_and_searchable(db: Database) -> None:
    admin_account = make_user(db, "admin@localhost", name="Administrator", role="admin")
    with db.session() as s:
        s.add(Category(name="Printing"))  # a category the instance already has is reused
    done = generate(db.engine, _plan())
    assert done.tickets == 3 * 160 and done.technicians == 8 and done.pilot_id is not None
    with db.session() as s:
        tickets = {t.id: t for t in s.scalars(select(Ticket))}
        assert len(tickets) == done.tickets
        by_id = [tickets[i].created_at for i in sorted(tickets)]
        assert by_id == sorted(by_id)  # numbers grow with creation time, as in use
        assert s.scalar(select(func.count()).select_from(Category)) == len(texts.PROBLEMS)
        for t in tickets.values():
            assert NOW - timedelta(days=92) <= t.created_at <= NOW
            assert (t.status == "new") == (t.first_response_at is None)
            if t.first_response_at is not None:
                assert t.created_at <= t.first_response_at
            if t.resolved_at is not None:
                assert t.first_response_at is not None and t.first_response_at <= t.resolved_at <= NOW
                assert t.status in ("resolved", "closed") and t.resolution_note
            if t.closed_at is not None:
                assert t.resolved_at is not None and t.resolved_at <= t.closed_at
        history: dict[int, list[TicketChange]] = {}
        for c in s.scalars(select(TicketChange).order_by(TicketChange.ticket_id, TicketChange.at)):
            history.setdefault(c.ticket_id, []).append(c)
        for ticket_id, changes in history.items():
            assert all(a.new == b.old for a, b in itertools.pairwise(changes))
            assert changes[-1].new == tickets[ticket_id].status
        assert all(history.get(t.id, [None])[-1] is None for t in tickets.values() if t.status == "new")

        sessions = list(s.scalars(select(RemoteSession)))
        started = [x for x in sessions if x.started_at is not None]
        assert len(started) == done.sessions and len(sessions) > len(started)  # failed attempts too
        helped = {x.ticket_id for x in started}
        assert 0.25 < len(helped) / len(tickets) < 0.6  # with and without remote support
        for x in started:
            ticket = tickets[x.ticket_id]
            assert ticket.first_response_at is not None and ticket.first_response_at <= x.started_at
            assert x.ended_at is not None and x.started_at < x.ended_at
            if ticket.resolved_at is not None:
                assert x.ended_at <= ticket.resolved_at
        scores = list(s.scalars(select(RatingRequest.score)))
        assert len(scores) == done.ratings and scores and all(1 <= n <= 5 for n in scores)

        technicians = list(s.scalars(select(User).where(User.role == "technician")))
        assert len(technicians) == 8 and all(u.must_change_password for u in technicians)
        assert admin_account.user.id not in {t.assignee_id for t in tickets.values()}
        pilot = s.get(Pilot, done.pilot_id)
        assert pilot is not None and len(pilot.members) == 3 and pilot.ends_on == NOW.date()

        printers = search(s, TicketQuery(q="printer"))
        assert printers.total > 0 and all(
            "rint" in t.title or "rint" in t.description for t in printers.items
        )


def test_remote_sessions_resolve_faster_as_the_reports_show(db: Database) -> None:
    generate(db.engine, _plan(months=6, seed=11))
    period = Period(NOW.date() - timedelta(days=83), NOW.date())
    report = reports.report(db, period, fresh=True)
    with_session, without = report.session_comparison
    assert with_session.resolution.median is not None and without.resolution.median is not None
    assert with_session.resolution.median < without.resolution.median


def test_same_seed_same_data_and_a_second_run_adds_without_clashes(database_url: str) -> None:
    if not database_url.startswith("sqlite"):
        pytest.skip("two databases: the SQLite run shows it")
    other_url = database_url.replace("veo.db", "other.db")
    migrate(other_url)
    first, other = Database(database_url), Database(other_url)
    try:
        generate(first.engine, _plan(months=1))
        generate(other.engine, _plan(months=1))

        def titles(database: Database) -> list[tuple[str, datetime]]:
            with database.session() as s:
                return [(t.title, t.created_at) for t in s.scalars(select(Ticket).order_by(Ticket.id))]

        assert titles(first) == titles(other)
        again = generate(first.engine, _plan(months=1))  # same seed: ids, sessions and digests still unique
        with first.session() as s:
            assert s.scalar(select(func.count()).select_from(Ticket)) == 2 * again.tickets
            assert s.scalar(select(func.count()).select_from(User)) == 8  # accounts reused
    finally:
        first.dispose()
        other.dispose()


def _admin(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = admin.main(argv)
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_data_command_refuses_real_tickets_unless_forced(
    database_url: str, db: Database, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ["--database-url", database_url]
    monkeypatch.delenv("VEO_PUBLIC_URL", raising=False)
    _admin([*base, "init"], capsys)
    code, out, _ = _admin([*base, "sample-data", "--months", "2", "--seed", "5"], capsys)
    # Without VEO_PUBLIC_URL the server may run anywhere (make run PORT=8790): no guessed address.
    assert code == 0 and "Added 320 sample tickets" in out and "Reports page" in out and "http" not in out
    code, _, err = _admin([*base, "sample-data"], capsys)
    assert code == 2 and "already holds 320 tickets" in err and "--force" in err
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 320
    monkeypatch.setenv("VEO_PUBLIC_URL", "https://support.example.org")
    code, out, _ = _admin([*base, "sample-data", "--months", "1", "--force"], capsys)
    assert code == 0 and "https://support.example.org/reports" in out
    with db.session() as s:
        assert s.scalar(select(func.count()).select_from(Ticket)) == 480
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.action == "sample.generated")))
    assert [e.details["tickets"] for e in events] == [320, 160] and all(e.actor == "cli" for e in events)
    code, _, err = _admin([*base, "sample-data", "--months", "40"], capsys)
    assert code == 2 and "between 1 and 36" in err
