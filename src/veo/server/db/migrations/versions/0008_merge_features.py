"""Join the schema branches that landed side by side (auth, audit, sessions, tickets, notify, reports).

Revision ID: 0008_merge_features
Revises: 0002_auth_policies, 0003_audit_checkpoints, 0004_session_trust, 0005_ticket_lifecycle,
    0006_notifications, 0007_reports_pilot
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0008_merge_features"
down_revision: str | Sequence[str] | None = (
    "0002_auth_policies",
    "0003_audit_checkpoints",
    "0004_session_trust",
    "0005_ticket_lifecycle",
    "0006_notifications",
    "0007_reports_pilot",
)
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches touch separate tables and columns."""


def downgrade() -> None:
    """Nothing to change."""
