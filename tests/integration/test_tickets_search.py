"""Finding tickets on SQLite and PostgreSQL: words, filters, date range, sorting, pages, the count cap."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import insert
from tests.support import make_user

from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.tickets import search
from veo.server.tickets.models import Category, Ticket
from veo.server.tickets.search import TicketQuery

DAY = datetime(2026, 5, 10, 12, 0, tzinfo=UTC)


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def world(db: Database) -> tuple[User, int]:
    """Five tickets over five days with known fields; returns the technician and a category id."""
    tech = make_user(db).user
    with db.session() as s:
        network = Category(name="Network")
        s.add(network)
        s.flush()
        rows = [
            (
                "Printer jams on tray 2",
                "Paper 100% stuck",
                "Bob Ruiz",
                "bob@example.org",
                "open",
                "low",
                None,
                None,
            ),
            (
                "VPN drops every hour",
                "Since the update",
                "Ana Gómez",
                "ana@example.org",
                "new",
                "urgent",
                network.id,
                tech.id,
            ),
            (
                "Outlook asks password",
                "VPN is fine",
                "Carl Diaz",
                "carl@corp.example",
                "waiting",
                "high",
                None,
                tech.id,
            ),
            ("New laptop for intern", "", "Dana Vpn", "dana@example.org", "resolved", "normal", None, None),
            (
                "Monitor flickers",
                "snake_case_name here",
                "Eve Moss",
                "eve@example.org",
                "closed",
                "high",
                network.id,
                None,
            ),
        ]
        for i, (title, text, name, email, status, priority, category, assignee) in enumerate(rows):
            s.add(
                Ticket(
                    title=title,
                    description=text,
                    requester_name=name,
                    requester_email=email,
                    status=status,
                    priority=priority,
                    category_id=category,
                    assignee_id=assignee,
                    created_at=DAY + timedelta(days=i),
                    updated_at=DAY + timedelta(days=10 - i),
                )
            )
    return tech, network.id


def _titles(db: Database, **query: object) -> list[str]:
    with db.session() as s:
        return [t.title for t in search.search(s, TicketQuery(**query)).items]  # type: ignore[arg-type]


def test_default_is_newest_first(db: Database, world: tuple[User, int]) -> None:
    assert _titles(db)[0] == "Monitor flickers" and _titles(db)[-1] == "Printer jams on tray 2"


def test_words_match_title_description_and_requester_case_insensitively(
    db: Database, world: tuple[User, int]
) -> None:
    assert sorted(_titles(db, q="vpn")) == [
        "New laptop for intern",
        "Outlook asks password",
        "VPN drops every hour",
    ]
    assert _titles(db, q="vpn hour") == ["VPN drops every hour"]
    assert _titles(db, q="CORP.example") == ["Outlook asks password"]
    assert _titles(db, q="gómez") == ["VPN drops every hour"]


def test_like_wildcards_in_the_words_are_literal(db: Database, world: tuple[User, int]) -> None:
    assert _titles(db, q="100%") == ["Printer jams on tray 2"]
    assert _titles(db, q="snake_case") == ["Monitor flickers"]
    assert _titles(db, q="%") == ["Printer jams on tray 2"]
    assert _titles(db, q="_") == ["Monitor flickers"]


def test_filters_combine(db: Database, world: tuple[User, int]) -> None:
    tech, network = world
    assert _titles(db, status="waiting") == ["Outlook asks password"]
    assert sorted(_titles(db, priority="high")) == ["Monitor flickers", "Outlook asks password"]
    assert sorted(_titles(db, category_id=network)) == ["Monitor flickers", "VPN drops every hour"]
    assert sorted(_titles(db, assignee_id=tech.id)) == ["Outlook asks password", "VPN drops every hour"]
    assert len(_titles(db, assignee_id=search.UNASSIGNED)) == 3
    assert _titles(db, priority="high", category_id=network) == ["Monitor flickers"]
    assert _titles(db, q="vpn", status="resolved") == ["New laptop for intern"]


def test_date_range_is_inclusive_whole_days(db: Database, world: tuple[User, int]) -> None:
    start = DAY.date()
    assert _titles(db, created_from=start + timedelta(days=1), created_to=start + timedelta(days=2)) == [
        "Outlook asks password",
        "VPN drops every hour",
    ]
    assert _titles(db, created_to=start) == ["Printer jams on tray 2"]
    assert _titles(db, created_from=date(2027, 1, 1)) == []


def test_sorting(db: Database, world: tuple[User, int]) -> None:
    by_priority = _titles(db, sort="-priority")
    assert by_priority[0] == "VPN drops every hour" and by_priority[-1] == "Printer jams on tray 2"
    assert by_priority[1:3] == ["Monitor flickers", "Outlook asks password"]  # high, newest first
    assert _titles(db, sort="priority")[0] == "Printer jams on tray 2"
    assert _titles(db, sort="-updated")[0] == "Printer jams on tray 2"
    assert _titles(db, sort="created")[0] == "Printer jams on tray 2"


def test_pages(db: Database, world: tuple[User, int]) -> None:
    with db.session() as s:
        first = search.search(s, TicketQuery(per_page=2))
        third = search.search(s, TicketQuery(per_page=2, page=3))
        beyond = search.search(s, TicketQuery(per_page=2, page=9))
    assert first.total == 5 and first.total_exact and first.pages == 3 and first.has_next
    assert [t.title for t in third.items] == ["Printer jams on tray 2"] and not third.has_next
    assert beyond.items == [] and beyond.total == 5


def test_count_stops_at_the_cap(
    db: Database, world: tuple[User, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(search, "COUNT_CAP", 3)
    with db.session() as s:
        capped = search.search(s, TicketQuery(per_page=2, page=2))
        narrow = search.search(s, TicketQuery(priority="high"))
    assert capped.total == 3 and not capped.total_exact and capped.has_next
    assert narrow.total == 2 and narrow.total_exact


def test_text_search_past_the_cap_orders_in_the_database(
    db: Database, world: tuple[User, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = _titles(db, q="vpn", sort="-priority")
    monkeypatch.setattr(search, "COUNT_CAP", 2)
    with db.session() as s:
        capped = search.search(s, TicketQuery(q="vpn", sort="-priority"))
    assert [t.title for t in capped.items] == expected and not capped.total_exact
    assert expected == ["VPN drops every hour", "Outlook asks password", "New laptop for intern"]


def test_many_rows_page_quickly_enough_to_list(db: Database, world: tuple[User, int]) -> None:
    """A few thousand rows: the capped count and the page agree with what was inserted."""
    with db.session() as s:
        s.execute(
            insert(Ticket),
            [
                {
                    "title": f"Bulk {i}",
                    "description": "",
                    "requester_name": "Bulk",
                    "requester_email": "bulk@example.org",
                    "requester_department": "",
                    "status": "open",
                    "priority": "normal",
                    "channel": "email",
                    "reopened_count": 0,
                    "resolution_note": "",
                    "created_at": DAY - timedelta(minutes=i),
                    "updated_at": DAY,
                }
                for i in range(3000)
            ],
        )
    with db.session() as s:
        page = search.search(s, TicketQuery(q="bulk", per_page=100, page=30))
    assert page.total == 3000 and page.total_exact and [t.title for t in page.items][-1] == "Bulk 2999"
