"""Company devices (issue 17): device groups, enrolment tokens, devices, and a session's device.

``remote_sessions.device_id`` (no foreign key: a session row outlives nothing it names, and the
audit log keeps the device's name), ``device_policy`` (the group's policy that applied) and
``access_reason`` (why the technician connected; required for a device) and
``device_secret_digest`` (SHA-256 of the secret only the device's service receives: the session's
code is redeemed only with it).

Revision ID: 0018_devices
Revises: 0017_session_resume
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import veo.server.db.base

revision: str = "0018_devices"
down_revision: str | Sequence[str] | None = "0017_session_resume"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_WHEN = veo.server.db.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "device_groups",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(length=80), nullable=False, unique=True),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("policy", sa.String(length=12), nullable=False, server_default="ask"),
        sa.Column("roles", sa.JSON(), nullable=False),
        sa.Column("created_at", _WHEN, nullable=False),
    )
    op.create_table(
        "enrolment_tokens",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("digest", sa.String(length=64), nullable=False, unique=True),
        sa.Column(
            "group_id", sa.Integer(), sa.ForeignKey("device_groups.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("label", sa.String(length=120), nullable=False, server_default=""),
        sa.Column("unattended", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column(
            "created_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("created_at", _WHEN, nullable=False),
        sa.Column("expires_at", _WHEN, nullable=False),
        sa.Column("used_at", _WHEN, nullable=True),
        sa.Column("used_by_device_id", sa.String(length=32), nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
    )
    op.create_index("ix_enrolment_tokens_group_id", "enrolment_tokens", ["group_id"])
    op.create_table(
        "devices",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("group_id", sa.Integer(), sa.ForeignKey("device_groups.id"), nullable=False),
        sa.Column("name", sa.String(length=80), nullable=False),
        sa.Column("hostname", sa.String(length=120), nullable=False, server_default=""),
        sa.Column("os_name", sa.String(length=120), nullable=False, server_default=""),
        sa.Column("os_user", sa.String(length=120), nullable=False, server_default=""),
        sa.Column("agent_version", sa.String(length=40), nullable=False, server_default=""),
        sa.Column("public_key", sa.String(length=44), nullable=False, unique=True),
        sa.Column("unattended", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("token_id", sa.String(length=32), nullable=True),
        sa.Column("enrolled_at", _WHEN, nullable=False),
        sa.Column(
            "enrolled_by_id", sa.Integer(), sa.ForeignKey("users.id", ondelete="SET NULL"), nullable=True
        ),
        sa.Column("last_seen_at", _WHEN, nullable=True),
        sa.Column("connected_node", sa.String(length=64), nullable=True),
        sa.Column("revoked_at", _WHEN, nullable=True),
        sa.Column("revoked_by", sa.String(length=20), nullable=False, server_default=""),
    )
    op.create_index("ix_devices_group_id", "devices", ["group_id"])
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(sa.Column("device_id", sa.String(length=32), nullable=True))
        batch.add_column(sa.Column("device_policy", sa.String(length=12), nullable=True))
        batch.add_column(sa.Column("access_reason", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("device_secret_digest", sa.String(length=64), nullable=True))
        batch.create_index("ix_remote_sessions_device_id", ["device_id"])


def downgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_index("ix_remote_sessions_device_id")
        batch.drop_column("device_secret_digest")
        batch.drop_column("access_reason")
        batch.drop_column("device_policy")
        batch.drop_column("device_id")
    op.drop_index("ix_devices_group_id", table_name="devices")
    op.drop_table("devices")
    op.drop_index("ix_enrolment_tokens_group_id", table_name="enrolment_tokens")
    op.drop_table("enrolment_tokens")
    op.drop_table("device_groups")
