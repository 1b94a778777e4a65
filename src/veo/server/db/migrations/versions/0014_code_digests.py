"""Session codes at rest as keyed digests: no plaintext join or continuation code in the database.

Before: the live join code (``code``) and continuation code (``continuation_code``) were stored
as they are, and used or expired ones as a plain SHA-256 (``code_digest``,
``continuation_digest``), which 10^9 possible codes make easy to reverse. After: every digest is
an HMAC-SHA256 under the secret in ``VEO_DATA_DIR/keys/session_codes.key``
(``veo.server.sessions.code_secret``), looked up through ``live_code_digest`` /
``live_continuation_digest`` while the code is live; the live join code is also kept encrypted
(``code_sealed``) so that the technician can still be shown it. Existing rows are converted:
live codes to digests and a sealed copy, stored SHA-256 digests to keyed ones (the keyed digest
is taken over the code's SHA-256 for exactly this).

The secret is read from (or made in) the data directory the migration is given
(``migrate(url, data_dir)``), else ``VEO_DATA_DIR``; it is touched only when a row needs it.

Downgrade puts live join codes back in plaintext (unsealed) and their SHA-256 back; keyed
digests of used or expired codes cannot be reversed, so such a code tried again after a
downgrade is answered "unknown" instead of "used"; live continuation codes are voided.

Revision ID: 0014_code_digests
Revises: 0013_comment_origin
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from alembic import op

from veo.server.sessions import code_secret

revision: str = "0014_code_digests"
down_revision: str | Sequence[str] | None = "0013_comment_origin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _secret() -> code_secret.CodeSecret:
    config = op.get_context().config
    data_dir: Path | None = config.attributes.get("data_dir") if config is not None else None
    if data_dir is None:
        from veo.config import Settings

        data_dir = Settings().data_dir
    return code_secret.load_or_create(data_dir)


def _sessions(*columns: str) -> sa.TableClause:
    return sa.table("remote_sessions", *(sa.column(c, sa.String) for c in ("id", *columns)))


def upgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(sa.Column("live_code_digest", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("code_sealed", sa.String(length=code_secret.SEALED_CHARS), nullable=True))
        batch.add_column(sa.Column("live_continuation_digest", sa.String(length=64), nullable=True))
        batch.create_unique_constraint(batch.f("uq_remote_sessions_live_code_digest"), ["live_code_digest"])
        batch.create_unique_constraint(
            batch.f("uq_remote_sessions_live_continuation_digest"), ["live_continuation_digest"]
        )
    old = _sessions("code", "code_digest", "continuation_code", "continuation_digest")
    new = _sessions(
        "code_digest", "live_code_digest", "code_sealed", "continuation_digest", "live_continuation_digest"
    )
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(old.c.id, old.c.code, old.c.code_digest, old.c.continuation_code, old.c.continuation_digest)
    ).all()
    secret = (
        _secret()
        if any(r.code or r.code_digest or r.continuation_code or r.continuation_digest for r in rows)
        else None
    )
    for row in rows:
        assert secret is not None
        values: dict[str, str | None] = {}
        if row.code:
            values["live_code_digest"] = values["code_digest"] = secret.digest(row.code)
            values["code_sealed"] = secret.seal(row.code)
        elif row.code_digest:
            values["code_digest"] = secret.digest_of_sha256(row.code_digest)
        if row.continuation_code:
            values["live_continuation_digest"] = values["continuation_digest"] = secret.digest(
                row.continuation_code
            )
        elif row.continuation_digest:
            values["continuation_digest"] = secret.digest_of_sha256(row.continuation_digest)
        if values:
            conn.execute(sa.update(new).where(new.c.id == row.id).values(**values))
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_constraint("uq_remote_sessions_code", type_="unique")
        batch.drop_constraint("uq_remote_sessions_continuation_code", type_="unique")
        batch.drop_column("code")
        batch.drop_column("continuation_code")


def downgrade() -> None:
    with op.batch_alter_table("remote_sessions") as batch:
        batch.add_column(sa.Column("code", sa.String(length=9), nullable=True))
        batch.add_column(sa.Column("continuation_code", sa.String(length=9), nullable=True))
        batch.create_unique_constraint(batch.f("uq_remote_sessions_code"), ["code"])
        batch.create_unique_constraint(batch.f("uq_remote_sessions_continuation_code"), ["continuation_code"])
    table = _sessions("code", "code_digest", "code_sealed")
    conn = op.get_bind()
    rows = conn.execute(
        sa.select(table.c.id, table.c.code_sealed).where(table.c.code_sealed.is_not(None))
    ).all()
    secret = _secret() if rows else None
    for row in rows:
        assert secret is not None
        code = secret.unseal(row.code_sealed)
        if code is not None:
            digest = hashlib.sha256(code.encode()).hexdigest()
            conn.execute(sa.update(table).where(table.c.id == row.id).values(code=code, code_digest=digest))
    with op.batch_alter_table("remote_sessions") as batch:
        batch.drop_constraint("uq_remote_sessions_live_continuation_digest", type_="unique")
        batch.drop_constraint("uq_remote_sessions_live_code_digest", type_="unique")
        batch.drop_column("live_continuation_digest")
        batch.drop_column("code_sealed")
        batch.drop_column("live_code_digest")
