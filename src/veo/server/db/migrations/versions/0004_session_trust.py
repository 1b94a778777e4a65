"""Session trust: the technician's "Codes match", when the identity was recorded, whether required.

Revision ID: 0004_session_trust
Revises: 0001
Create Date: 2026-11-25 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0004_session_trust"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(
            sa.Column("technician_sas_confirmed", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch.add_column(
            sa.Column("identity_confirmed_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch.add_column(
            sa.Column("identity_required", sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_column("identity_required")
        batch.drop_column("identity_confirmed_at")
        batch.drop_column("technician_sas_confirmed")
