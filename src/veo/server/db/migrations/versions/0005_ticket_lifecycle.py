"""Ticket lifecycle: categories, comments, change history, priority/channel/department, timestamps.

Existing tickets get the defaults (normal priority, portal channel) through server defaults, so
the upgrade works on a database that already holds tickets.

Revision ID: 0005_ticket_lifecycle
Revises: 0001
Create Date: 2026-11-25 09:24:05.158427
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0005_ticket_lifecycle"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "ticket_categories",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("created_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_categories")),
        sa.UniqueConstraint("name", name=op.f("uq_ticket_categories_name")),
    )
    op.create_table(
        "ticket_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("old", sa.Text(), nullable=True),
        sa.Column("new", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_ticket_changes_actor_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_changes_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_changes")),
    )
    with op.batch_alter_table("ticket_changes", schema=None) as batch_op:
        batch_op.create_index("ix_ticket_changes_field_at", ["field", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_ticket_changes_ticket_id"), ["ticket_id"], unique=False)

    op.create_table(
        "ticket_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ticket_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_ticket_comments_author_id_users"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["ticket_id"],
            ["tickets.id"],
            name=op.f("fk_ticket_comments_ticket_id_tickets"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ticket_comments")),
    )
    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_ticket_comments_ticket_id"), ["ticket_id"], unique=False)

    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("requester_department", sa.String(length=200), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("priority", sa.String(length=10), nullable=False, server_default="normal")
        )
        batch_op.add_column(
            sa.Column("channel", sa.String(length=20), nullable=False, server_default="portal")
        )
        batch_op.add_column(sa.Column("category_id", sa.Integer(), nullable=True))
        batch_op.add_column(
            sa.Column("first_response_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("status_changed_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("closed_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("reopened_count", sa.Integer(), nullable=False, server_default="0"))
        batch_op.create_index("ix_tickets_assignee_id_created_at", ["assignee_id", "created_at"])
        batch_op.create_index("ix_tickets_category_id_created_at", ["category_id", "created_at"])
        batch_op.create_index("ix_tickets_priority_created_at", ["priority", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_requester_email"), ["requester_email"], unique=False)
        batch_op.create_index("ix_tickets_status_created_at", ["status", "created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_tickets_updated_at"), ["updated_at"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_tickets_category_id_ticket_categories"),
            "ticket_categories",
            ["category_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_tickets_category_id_ticket_categories"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_tickets_updated_at"))
        batch_op.drop_index("ix_tickets_status_created_at")
        batch_op.drop_index(batch_op.f("ix_tickets_requester_email"))
        batch_op.drop_index("ix_tickets_priority_created_at")
        batch_op.drop_index("ix_tickets_category_id_created_at")
        batch_op.drop_index("ix_tickets_assignee_id_created_at")
        batch_op.drop_column("reopened_count")
        batch_op.drop_column("closed_at")
        batch_op.drop_column("status_changed_at")
        batch_op.drop_column("first_response_at")
        batch_op.drop_column("category_id")
        batch_op.drop_column("channel")
        batch_op.drop_column("priority")
        batch_op.drop_column("requester_department")

    with op.batch_alter_table("ticket_comments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_comments_ticket_id"))

    op.drop_table("ticket_comments")
    with op.batch_alter_table("ticket_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_ticket_changes_ticket_id"))
        batch_op.drop_index("ix_ticket_changes_field_at")

    op.drop_table("ticket_changes")
    op.drop_table("ticket_categories")
