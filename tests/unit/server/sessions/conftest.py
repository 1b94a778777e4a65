"""A real database (SQLite file, and PostgreSQL in a throwaway database) with a ticket and people."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.db.models import Base
from veo.server.tickets.models import Ticket

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@dataclass
class World:
    db: Database
    tech: User
    other: User
    ticket: Ticket


def _postgres_database() -> Iterator[str]:
    name = f"veo_sessions_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # pragma: no cover - depends on the machine
        admin.dispose()
        pytest.skip(f"PostgreSQL not available: {exc}")
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    if request.param == "sqlite":
        urls: Iterator[str] = iter([f"sqlite:///{tmp_path / 'veo.db'}"])
    else:
        urls = _postgres_database()
    url = next(urls)
    db = Database(url)
    Base.metadata.create_all(db.engine)
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
        for _ in urls:  # runs the PostgreSQL cleanup
            pass
