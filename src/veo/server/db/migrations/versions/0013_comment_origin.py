"""Ticket comments say where they came from: a person, or the technician's console.

The chat transcript and the system information of a session are posted by the technician's
console (the server never sees them on the way, so it cannot vouch that the user sent them); the
ticket page labels such comments "Sent by the technician's console". Comments attached before
this revision are found through their audit events (``session.chat_attached``,
``session.sysinfo_attached`` name the comment) and labelled too.

Revision ID: 0013_comment_origin
Revises: 0012_merge_share_files
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_comment_origin"
down_revision: str | Sequence[str] | None = "0012_merge_share_files"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CONSOLE = "technician_console"


def upgrade() -> None:
    with op.batch_alter_table("ticket_comments") as batch:
        batch.add_column(sa.Column("origin", sa.String(length=20), nullable=False, server_default=""))
    events = sa.table("audit_events", sa.column("action", sa.String), sa.column("details", sa.JSON))
    comments = sa.table("ticket_comments", sa.column("id", sa.Integer), sa.column("origin", sa.String))
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(events.c.details).where(
            events.c.action.in_(("session.chat_attached", "session.sysinfo_attached"))
        )
    )
    ids = sorted(
        {d["comment_id"] for (d,) in rows if isinstance(d, dict) and isinstance(d.get("comment_id"), int)}
    )
    if ids:
        conn.execute(sa.update(comments).where(comments.c.id.in_(ids)).values(origin=CONSOLE))


def downgrade() -> None:
    with op.batch_alter_table("ticket_comments") as batch:
        batch.drop_column("origin")
