"""TOTP secrets at rest sealed: no authenticator key in the database as it is.

Before: ``totp_credentials.secret`` held each account's TOTP key in base32, so anyone reading the
database (a DBA, a leaked backup) could generate every enrolled account's codes. After: it holds
the key AES-256-GCM-sealed under ``VEO_DATA_DIR/keys/totp.key``, bound to the account's id
(``veo.server.auth.totp_seal``); the column widens to fit. Existing rows are sealed here, so
enrolled accounts keep their authenticator apps.

The key is read from (or made in) the data directory the migration is given
(``migrate(url, data_dir)``), else ``VEO_DATA_DIR``; it is touched only when a row needs it.
Downgrade opens the secrets again (a row the key cannot open is dropped: that account enrols
again) and narrows the column.

Revision ID: 0015_totp_sealed
Revises: 0014_code_digests
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from veo.server.auth import totp_seal

revision: str = "0015_totp_sealed"
down_revision: str | Sequence[str] | None = "0014_code_digests"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_credentials = sa.table("totp_credentials", sa.column("user_id", sa.Integer), sa.column("secret", sa.String))


def _key() -> totp_seal.TotpKey:
    config = op.get_context().config
    data_dir: Path | None = config.attributes.get("data_dir") if config is not None else None
    if data_dir is None:
        from veo.config import Settings

        data_dir = Settings().data_dir
    return totp_seal.load_or_create(data_dir)


def upgrade() -> None:
    with op.batch_alter_table("totp_credentials") as batch:
        batch.alter_column(
            "secret",
            existing_type=sa.String(length=64),
            type_=sa.String(length=totp_seal.SEALED_CHARS),
            existing_nullable=False,
        )
    conn = op.get_bind()
    rows = conn.execute(sa.select(_credentials.c.user_id, _credentials.c.secret)).all()
    plain = [r for r in rows if not r.secret.startswith(totp_seal.PREFIX)]
    key = _key() if plain else None
    for row in plain:
        assert key is not None
        sealed = key.seal(row.secret, row.user_id)
        conn.execute(
            sa.update(_credentials).where(_credentials.c.user_id == row.user_id).values(secret=sealed)
        )


def downgrade() -> None:
    conn = op.get_bind()
    rows = conn.execute(sa.select(_credentials.c.user_id, _credentials.c.secret)).all()
    key = _key() if rows else None
    for row in rows:
        assert key is not None
        secret = key.open(row.secret, row.user_id)
        where = _credentials.c.user_id == row.user_id
        if secret is None:
            conn.execute(sa.delete(_credentials).where(where))
        else:
            conn.execute(sa.update(_credentials).where(where).values(secret=secret))
    with op.batch_alter_table("totp_credentials") as batch:
        batch.alter_column(
            "secret",
            existing_type=sa.String(length=totp_seal.SEALED_CHARS),
            type_=sa.String(length=64),
            existing_nullable=False,
        )
