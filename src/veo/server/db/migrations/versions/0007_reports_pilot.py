"""Reports: pilot groups of technicians (with a date range) and the technicians' tool feedback.

Revision ID: 0007_reports_pilot
Revises: 0001
Create Date: 2026-11-25 09:50:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0007_reports_pilot"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "pilots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("created_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("created_by_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["created_by_id"], ["users.id"], name=op.f("fk_pilots_created_by_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pilots")),
    )
    op.create_table(
        "pilot_members",
        sa.Column("pilot_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pilot_id"], ["pilots.id"], name=op.f("fk_pilot_members_pilot_id_pilots"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_pilot_members_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("pilot_id", "user_id", name=op.f("pk_pilot_members")),
    )
    op.create_table(
        "tool_feedback",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=True),
        sa.Column("pilot_id", sa.Integer(), nullable=True),
        sa.Column("created_at", veo.server.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["pilot_id"], ["pilots.id"], name=op.f("fk_tool_feedback_pilot_id_pilots"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_tool_feedback_user_id_users"), ondelete="SET NULL"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_tool_feedback")),
    )
    op.create_index(op.f("ix_tool_feedback_created_at"), "tool_feedback", ["created_at"], unique=False)
    op.create_index(op.f("ix_tool_feedback_user_id"), "tool_feedback", ["user_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_tool_feedback_user_id"), table_name="tool_feedback")
    op.drop_index(op.f("ix_tool_feedback_created_at"), table_name="tool_feedback")
    op.drop_table("tool_feedback")
    op.drop_table("pilot_members")
    op.drop_table("pilots")
