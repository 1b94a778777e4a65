"""Browser share: the session's mode (agent or browser) and the continuation code of an upgrade.

A user who shares from the join page may install the agent mid-session; the page gets a
single-use continuation code for THIS session, and the agent that joins with it continues the same
session (same id and ticket). The code is unique while live and cleared once used, its SHA-256 is
kept (like the join code's) so that a second try is answered precisely.

Revision ID: 0011_browser_share
Revises: 0009_search_report_indexes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0011_browser_share"
down_revision: str | Sequence[str] | None = "0009_search_report_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(sa.Column("mode", sa.String(length=10), nullable=False, server_default="agent"))
        batch.add_column(
            sa.Column("upgraded_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("continuation_code", sa.String(length=9), nullable=True))
        batch.add_column(
            sa.Column("continuation_expires_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("continuation_digest", sa.String(length=64), nullable=False, server_default="")
        )
        batch.create_unique_constraint(batch.f("uq_remote_sessions_continuation_code"), ["continuation_code"])
        batch.create_index(
            batch.f("ix_remote_sessions_continuation_digest"), ["continuation_digest"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_index(batch.f("ix_remote_sessions_continuation_digest"))
        batch.drop_constraint(batch.f("uq_remote_sessions_continuation_code"), type_="unique")
        batch.drop_column("continuation_digest")
        batch.drop_column("continuation_expires_at")
        batch.drop_column("continuation_code")
        batch.drop_column("upgraded_at")
        batch.drop_column("mode")
