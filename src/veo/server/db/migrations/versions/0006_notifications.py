"""Notifications: outbox, webhook endpoints, rating requests, requester languages, session rating.

Revision ID: 0006_notifications
Revises: 0001
Create Date: 2026-11-25 09:45:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0006_notifications"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = veo.server.db.base.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret", sa.String(length=200), nullable=False),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=True),
        sa.Column("webhook_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=2000), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC(timezone=True), nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("sent_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_outbox_messages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["webhook_id"],
            ["webhook_endpoints.id"],
            name=op.f("fk_outbox_messages_webhook_id_webhook_endpoints"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
    )
    op.create_index(
        "ix_outbox_messages_status_next_attempt_at", "outbox_messages", ["status", "next_attempt_at"]
    )
    op.create_index(op.f("ix_outbox_messages_ticket_id"), "outbox_messages", ["ticket_id"])
    op.create_index(op.f("ix_outbox_messages_webhook_id"), "outbox_messages", ["webhook_id"])
    op.create_table(
        "rating_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("token_digest", sa.String(length=64), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=True),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.Column("created_at", UTC(timezone=True), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("rated_at", UTC(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["session_id"],
            ["remote_sessions.id"],
            name=op.f("fk_rating_requests_session_id_remote_sessions"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_rating_requests_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rating_requests")),
        sa.UniqueConstraint("session_id", name=op.f("uq_rating_requests_session_id")),
        sa.UniqueConstraint("token_digest", name=op.f("uq_rating_requests_token_digest")),
    )
    op.create_index(op.f("ix_rating_requests_ticket_id"), "rating_requests", ["ticket_id"])
    op.create_table(
        "requester_languages",
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("language", sa.String(length=10), nullable=False),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_requester_languages_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("ticket_id", name=op.f("pk_requester_languages")),
    )
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(sa.Column("rating", sa.SmallInteger(), nullable=True))
        batch.add_column(sa.Column("rating_comment", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_column("rating_comment")
        batch.drop_column("rating")
    op.drop_table("requester_languages")
    op.drop_index(op.f("ix_rating_requests_ticket_id"), table_name="rating_requests")
    op.drop_table("rating_requests")
    op.drop_index(op.f("ix_outbox_messages_webhook_id"), table_name="outbox_messages")
    op.drop_index(op.f("ix_outbox_messages_ticket_id"), table_name="outbox_messages")
    op.drop_index("ix_outbox_messages_status_next_attempt_at", table_name="outbox_messages")
    op.drop_table("outbox_messages")
    op.drop_table("webhook_endpoints")
