"""Audit checkpoints: Ed25519-signed chain heads (``veo.server.audit.checkpoints``).

Revision ID: 0003_audit_checkpoints
Revises: 0001
Create Date: 2026-11-25 09:40:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0003_audit_checkpoints"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_checkpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("number", sa.BigInteger(), nullable=False),
        sa.Column("seq", sa.BigInteger(), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.Column("at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("key_id", sa.String(length=64), nullable=False),
        sa.Column("signature", sa.String(length=128), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_checkpoints")),
        sa.UniqueConstraint("number", name=op.f("uq_audit_checkpoints_number")),
        sa.UniqueConstraint("seq", name=op.f("uq_audit_checkpoints_seq")),
    )


def downgrade() -> None:
    op.drop_table("audit_checkpoints")
