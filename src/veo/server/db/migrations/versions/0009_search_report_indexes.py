"""Indexes for speed at 100,000 tickets: reports read from covering indexes, and PostgreSQL's
ticket text search gets a trigram (pg_trgm) GIN index over the searched columns.

``ix_tickets_report`` and ``ix_remote_sessions_report`` (declared in ``veo.server.reports.models``)
hold every column the reports read, so a period's tickets and sessions come from the index alone.

The ticket search is a substring match (``ILIKE '%word%'``) on title, description and requester
name and e-mail. Without help that reads the whole table; a ``gin_trgm_ops`` index answers it
from the index. Only on PostgreSQL, and only when the ``pg_trgm`` extension is there or may be
created (it ships with PostgreSQL; creating it needs the right privileges): otherwise the
search keeps working, just by reading the table, and a warning says why. SQLite needs nothing.

The index is not declared on the model (it exists on one backend only, and may be absent):
``veo.server.tickets.search.TRIGRAM_INDEX`` names it, and the schema comparison of the tests
leaves it out.

Revision ID: 0009_search_report_indexes
Revises: 0008_merge_features
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_search_report_indexes"
down_revision: str | Sequence[str] | None = "0008_merge_features"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_tickets_text_trgm"
COLUMNS = ("title", "description", "requester_name", "requester_email")
log = logging.getLogger("alembic.runtime.migration")


def _has_trigrams(bind: sa.Connection) -> bool:
    """pg_trgm is installed, or could be created here (inside a savepoint: a refusal is harmless)."""
    if bind.scalar(sa.text("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")):
        return True
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError as exc:
        log.warning(
            "pg_trgm is not available (%s): ticket search works without its index, but more slowly "
            "at many tickets (a superuser can CREATE EXTENSION pg_trgm, then create %s by hand)",
            str(exc.orig).splitlines()[0] if exc.orig else exc,
            INDEX,
        )
        return False
    return True


REPORT_TICKETS = (
    "created_at",
    "first_response_at",
    "resolved_at",
    "category_id",
    "priority",
    "assignee_id",
    "reopened_count",
    "id",
)
REPORT_SESSIONS = ("started_at", "ended_at", "technician_id", "ticket_id")


def upgrade() -> None:
    op.create_index("ix_tickets_report", "tickets", list(REPORT_TICKETS))
    op.create_index("ix_remote_sessions_report", "remote_sessions", list(REPORT_SESSIONS))
    bind = op.get_bind()
    if bind.dialect.name != "postgresql" or not _has_trigrams(bind):
        return
    columns = ", ".join(f"{c} gin_trgm_ops" for c in COLUMNS)
    op.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON tickets USING gin ({columns})")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP INDEX IF EXISTS {INDEX}")
    op.drop_index("ix_remote_sessions_report", table_name="remote_sessions")
    op.drop_index("ix_tickets_report", table_name="tickets")
