"""Resume after a drop (issue 13): each role's grace period and what a session needs to resume.

``role_policies.resume_grace_seconds`` (NULL: the default, 120 s; 0: no resume) is how long a
user's grant waits for a lost connection; it is copied onto each session at creation
(``remote_sessions.resume_grace_seconds``), as ``identity_required`` is, so that a policy edit
does not change a session already under way. ``resume_token_digest`` is the SHA-256 of the token
the agent proves itself with on a new signaling socket (the token is only in ``joined``);
``resume_deadline`` is when an interrupted session ends unless its connection comes back (kept in
the database so that a restarted server does not extend it); ``resume_failures`` counts wrong or
missing resume proofs (the session ends at ``veo.protocol.resume.MAX_BAD_PROOFS``).

Revision ID: 0017_session_resume
Revises: 0016_login_failures_index
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0017_session_resume"
down_revision: str | Sequence[str] | None = "0016_login_failures_index"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("role_policies") as batch:
        batch.add_column(sa.Column("resume_grace_seconds", sa.Integer(), nullable=True))
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(
            sa.Column("resume_grace_seconds", sa.Integer(), nullable=False, server_default="120")
        )
        batch.add_column(sa.Column("resume_token_digest", sa.String(length=64), nullable=True))
        batch.add_column(
            sa.Column("resume_deadline", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(sa.Column("resume_failures", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_column("resume_failures")
        batch.drop_column("resume_deadline")
        batch.drop_column("resume_token_digest")
        batch.drop_column("resume_grace_seconds")
    with op.batch_alter_table("role_policies") as batch:
        batch.drop_column("resume_grace_seconds")
