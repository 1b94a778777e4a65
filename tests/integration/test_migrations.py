"""Migrations build the whole schema on SQLite and PostgreSQL, and it matches the models exactly."""

from __future__ import annotations

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from veo.server.db.migrate import alembic_config, migrate
from veo.server.db.models import Base
from veo.server.tickets.search import TRIGRAM_INDEX


def _declared(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    """Leave out what migrations create on purpose without a model (PostgreSQL's trigram index)."""
    return not (type_ == "index" and name == TRIGRAM_INDEX)


def _diff(url: str) -> list[object]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "include_object": _declared}
            )
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_creates_every_table_and_matches_models(blank_database_url: str) -> None:
    migrate(blank_database_url)
    assert {t.name for t in Base.metadata.sorted_tables} <= _tables(blank_database_url)
    assert _diff(blank_database_url) == [], "models changed without a migration: add an Alembic revision"


def test_upgrade_is_idempotent_and_downgrade_reverses_it(blank_database_url: str) -> None:
    migrate(blank_database_url)
    migrate(blank_database_url)
    command.downgrade(alembic_config(blank_database_url), "base")
    assert _tables(blank_database_url) <= {"alembic_version"}
    migrate(blank_database_url)
    assert _diff(blank_database_url) == []


def test_postgresql_has_the_trigram_index_for_ticket_search(blank_database_url: str) -> None:
    """Where pg_trgm can be created (it can on the test server) the search index is there."""
    if not blank_database_url.startswith("postgresql"):
        pytest.skip("a PostgreSQL index")
    migrate(blank_database_url)
    engine = create_engine(blank_database_url)
    try:
        names = {i["name"] for i in inspect(engine).get_indexes("tickets")}
    finally:
        engine.dispose()
    assert TRIGRAM_INDEX in names
