"""An index on ``login_failures.last_failure_at``: the stale-counter cleanup stops reading the table.

Every sign-in attempt first drops counters that neither block nor count any more
(``veo.server.auth.limits.forget_stale``: last failure older than the window, no block in force).
Without an index that condition is checked on every row, so a table swollen by a spray of
unknown e-mails (each gets a counter of its own) made every sign-in read all of it; with the
index the cleanup reads only the rows old enough to be dropped.

Revision ID: 0016_login_failures_index
Revises: 0015_totp_sealed
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0016_login_failures_index"
down_revision: str | Sequence[str] | None = "0015_totp_sealed"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEX = "ix_login_failures_last_failure_at"


def upgrade() -> None:
    op.create_index(INDEX, "login_failures", ["last_failure_at"])


def downgrade() -> None:
    op.drop_index(INDEX, table_name="login_failures")
