"""TOTP secrets are sealed at rest, on SQLite and PostgreSQL; migration 0015 seals earlier rows.

The database-only insider of the threat model (a DBA, a leaked backup) must not be able to
generate an account's codes: no row holds the authenticator key as it is, and a sealed secret
copied into another account's row does not open there.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pyotp
from alembic import command
from fastapi import FastAPI
from sqlalchemy import select, update
from tests.support import PASSWORD, enrol_totp, make_user

from veo.server.auth import service, totp, totp_seal
from veo.server.auth.models import TotpCredential
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.db.migrate import alembic_config, migrate


async def test_the_database_holds_no_totp_secret_and_sign_in_still_works(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    make_user(app.state.db)
    secret = enrol_totp(app.state.db, "tech@example.org")
    with app.state.db.session() as s:
        stored = s.scalar(select(TotpCredential.secret))
    assert stored is not None and stored.startswith(totp_seal.PREFIX)
    assert secret not in stored and secret.lower() not in stored.lower()
    if database_url.startswith("sqlite:///"):
        raw = Path(database_url.removeprefix("sqlite:///"))
        files = [raw, raw.with_name(raw.name + "-wal")]
        assert not any(secret.encode() in f.read_bytes() for f in files if f.exists())
    key = app.state.settings.data_dir / "keys" / "totp.key"
    assert key.stat().st_mode & 0o777 == 0o600
    first = await client.post("/login", data={"email": "tech@example.org", "password": PASSWORD})
    assert first.status_code == 303 and first.headers["location"].startswith("/login/totp")
    second = await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert second.status_code == 303 and second.headers["location"] == "/tickets"


async def test_a_sealed_secret_copied_to_another_account_does_not_open(app: FastAPI) -> None:
    make_user(app.state.db)
    make_user(app.state.db, "insider@example.org")
    enrol_totp(app.state.db, "tech@example.org")
    known = enrol_totp(app.state.db, "insider@example.org")
    with app.state.db.session() as s:
        victim = service.get_by_email(s, "tech@example.org")
        insider = service.get_by_email(s, "insider@example.org")
        assert victim is not None and insider is not None
        theirs = s.scalar(select(TotpCredential.secret).where(TotpCredential.user_id == insider.id))
        row = TotpCredential.user_id == victim.id
        s.execute(update(TotpCredential).where(row).values(secret=theirs, last_step=0))
    with app.state.db.session() as s:
        victim = service.get_by_email(s, "tech@example.org")
        assert victim is not None
        assert not totp.verify(s, victim, pyotp.TOTP(known).now())


def test_migration_seals_earlier_secrets_and_downgrade_opens_them(
    blank_database_url: str, tmp_path: Path
) -> None:
    data_dir = tmp_path / "data"
    config = alembic_config(blank_database_url, data_dir)
    command.upgrade(config, "0014_code_digests")
    db = Database(blank_database_url)
    try:
        user_id = make_user(db).user.id
        plain = pyotp.random_base32()
        with db.session() as s:
            s.add(TotpCredential(user_id=user_id, secret=plain, confirmed_at=utcnow()))
        migrate(blank_database_url, data_dir)
        with db.session() as s:
            sealed = s.scalar(select(TotpCredential.secret))
        assert sealed is not None and plain not in sealed
        key = totp_seal.load_or_create(data_dir)
        assert key.open(sealed, user_id) == plain
        assert key.open(sealed, user_id + 1) is None
        command.downgrade(config, "0014_code_digests")
        with db.session() as s:
            assert s.scalar(select(TotpCredential.secret)) == plain
    finally:
        db.dispose()
