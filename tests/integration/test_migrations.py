"""Migrations build the whole schema on SQLite and PostgreSQL, and it matches the models exactly."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, create_engine, inspect, select

from veo.server.db.engine import Database
from veo.server.db.migrate import alembic_config, migrate
from veo.server.db.models import Base
from veo.server.sessions import code_secret, redeem
from veo.server.sessions.models import RemoteSession
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


def _indexes(url: str, table: str) -> dict[str, list[str | None]]:
    engine = create_engine(url)
    try:
        return {str(i["name"]): list(i["column_names"]) for i in inspect(engine).get_indexes(table)}
    finally:
        engine.dispose()


def test_0016_indexes_the_login_failures_cleanup_and_downgrade_drops_it(blank_database_url: str) -> None:
    command.upgrade(alembic_config(blank_database_url), "0015_totp_sealed")
    assert "ix_login_failures_last_failure_at" not in _indexes(blank_database_url, "login_failures")
    command.upgrade(alembic_config(blank_database_url), "0016_login_failures_index")
    indexes = _indexes(blank_database_url, "login_failures")
    assert indexes["ix_login_failures_last_failure_at"] == ["last_failure_at"]
    command.downgrade(alembic_config(blank_database_url), "0015_totp_sealed")
    assert "ix_login_failures_last_failure_at" not in _indexes(blank_database_url, "login_failures")


def _insert(url: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Rows written through the tables as they are at the current revision (not the models)."""
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        with engine.begin() as conn:
            for table, values in rows.items():
                conn.execute(meta.tables[table].insert(), values)
    finally:
        engine.dispose()


def _select(url: str, table: str, *columns: str) -> list[tuple[Any, ...]]:
    engine = create_engine(url)
    try:
        meta = MetaData()
        meta.reflect(engine)
        t = meta.tables[table]
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(select(*(t.c[c] for c in columns)).order_by(t.c.id))]
    finally:
        engine.dispose()


NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
TICKET = {
    "id": 1,
    "title": "Printer",
    "description": "",
    "requester_name": "Bob",
    "requester_email": "bob@example.org",
    "status": "open",
    "created_at": NOW,
    "updated_at": NOW,
    "resolution_note": "",
}


def test_comments_attached_by_the_console_before_0013_are_labelled(blank_database_url: str) -> None:
    command.upgrade(alembic_config(blank_database_url), "0012_merge_share_files")
    comment = {"ticket_id": 1, "public": False, "created_at": NOW}
    event = {"at": NOW, "actor": "tech@example.org", "address": "", "prev_hash": "0", "hash": "1"}
    _insert(
        blank_database_url,
        {
            "tickets": [TICKET],
            "ticket_comments": [
                {**comment, "id": 1, "body": "Chat of remote session s1 (2 messages):"},
                {**comment, "id": 2, "body": "Called back."},
                {**comment, "id": 3, "body": "System information sent by the user in remote session s1:"},
            ],
            "audit_events": [
                {**event, "id": 1, "seq": 1, "action": "session.chat_attached", "details": {"comment_id": 1}},
                {**event, "id": 2, "seq": 2, "action": "ticket.commented", "details": {"comment_id": 2}},
                {
                    **event,
                    "id": 3,
                    "seq": 3,
                    "action": "session.sysinfo_attached",
                    "details": {"comment_id": 3},
                },
            ],
        },
    )
    migrate(blank_database_url)
    assert _select(blank_database_url, "ticket_comments", "id", "origin") == [
        (1, "technician_console"),
        (2, ""),
        (3, "technician_console"),
    ]


def _sha(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def test_0014_turns_plaintext_codes_and_plain_digests_into_keyed_digests(
    blank_database_url: str, tmp_path: Path
) -> None:
    url, data_dir = blank_database_url, tmp_path / "data"
    command.upgrade(alembic_config(url), "0013_comment_origin")
    later = datetime.now(UTC) + timedelta(minutes=5)
    session = {
        "ticket_id": 1,
        "code": None,
        "code_expires_at": later,
        "code_digest": "",
        "requested_permissions": ["view"],
        "granted_permissions": [],
        "sas_confirmed": False,
        "control_paused": False,
        "identity_confirmation": "not_verified",
        "agent_address": "",
        "agent_platform": "",
        "created_at": NOW,
        "end_reason": "",
        "resolution_note": "",
        "continuation_code": None,
        "continuation_digest": "",
    }
    _insert(
        url,
        {
            "tickets": [TICKET],
            "remote_sessions": [
                {
                    **session,
                    "id": "live",
                    "status": "waiting",
                    "code": "123456789",
                    "code_digest": _sha("123456789"),
                },
                {**session, "id": "used", "status": "ended", "code_digest": _sha("987654321")},
                {
                    **session,
                    "id": "share",
                    "status": "active",
                    "mode": "browser",
                    "code_digest": _sha("444555666"),
                    "continuation_code": "555666777",
                    "continuation_digest": _sha("555666777"),
                    "continuation_expires_at": later,
                },
                {**session, "id": "shared", "status": "ended", "continuation_digest": _sha("111222333")},
            ],
        },
    )
    migrate(url, data_dir)

    secret = code_secret.load_or_create(data_dir)  # the one the migration made in the data directory
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("remote_sessions")}
    finally:
        engine.dispose()
    assert not {"code", "continuation_code"} & columns, "no column holds a code as it is"
    rows = {
        r[0]: r[1:]
        for r in _select(
            url,
            "remote_sessions",
            "id",
            "code_digest",
            "live_code_digest",
            "code_sealed",
            "continuation_digest",
            "live_continuation_digest",
        )
    }
    assert rows["live"][:2] == (secret.digest("123456789"),) * 2
    assert secret.unseal(rows["live"][2]) == "123456789"
    assert rows["used"] == (secret.digest("987654321"), None, None, "", None)
    assert rows["share"][3:] == (secret.digest("555666777"),) * 2
    assert rows["shared"][3:] == (secret.digest("111222333"), None)
    dump = repr(rows)
    for code in ("123456789", "987654321", "555666777", "111222333"):
        assert code not in dump and _sha(code) not in dump

    # the server, with the data directory's secret, redeems the converted live code by its digest
    code_secret.use(data_dir)
    db = Database(url)
    try:
        with db.session() as s:
            assert redeem.redeem_code(s, "987 654 321", address="192.0.2.1") == "used"
            joined = redeem.redeem_code(s, "123 456 789", address="192.0.2.1")
            assert isinstance(joined, RemoteSession) and joined.id == "live" and joined.code is None
    finally:
        db.dispose()


def test_0014_leaves_a_blank_data_directory_alone_when_no_row_needs_the_secret(
    blank_database_url: str, tmp_path: Path
) -> None:
    migrate(blank_database_url, tmp_path / "data")
    assert not code_secret.key_path(tmp_path / "data").exists()
