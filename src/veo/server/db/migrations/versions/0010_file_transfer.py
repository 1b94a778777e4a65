"""File transfer: each role's largest file, and the files technicians attach to tickets.

``role_policies.max_file_bytes`` (NULL: the default, 100 MB) bounds what a session may move
either way and what may be attached. ``ticket_attachments`` records each attached file; its bytes
live under the data directory, named by a random ``storage_key``, never by the user's name.

Revision ID: 0010_file_transfer
Revises: 0009_search_report_indexes
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0010_file_transfer"
down_revision: str | Sequence[str] | None = "0009_search_report_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("role_policies") as batch:
        batch.add_column(sa.Column("max_file_bytes", sa.BigInteger(), nullable=True))
    op.create_table(
        "ticket_attachments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=255), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("storage_key", sa.String(length=64), nullable=False),
        sa.Column("created_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_attachments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["uploaded_by"],
            ["users.id"],
            name=op.f("fk_ticket_attachments_uploaded_by_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_attachments")),
        sa.UniqueConstraint("storage_key", name=op.f("uq_ticket_attachments_storage_key")),
    )
    with op.batch_alter_table("ticket_attachments") as batch:
        batch.create_index(batch.f("ix_ticket_attachments_ticket_id"), ["ticket_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("ticket_attachments") as batch:
        batch.drop_index(batch.f("ix_ticket_attachments_ticket_id"))
    op.drop_table("ticket_attachments")
    with op.batch_alter_table("role_policies") as batch:
        batch.drop_column("max_file_bytes")
