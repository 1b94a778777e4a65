"""Join the two branches that landed side by side: file transfer (0010) and browser share (0011).

Revision ID: 0012_merge_share_files
Revises: 0010_file_transfer, 0011_browser_share
"""

from __future__ import annotations

from collections.abc import Sequence

revision: str = "0012_merge_share_files"
down_revision: str | Sequence[str] | None = ("0010_file_transfer", "0011_browser_share")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Nothing to change: the branches touch separate tables and columns."""


def downgrade() -> None:
    """Nothing to change."""
