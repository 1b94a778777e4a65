"""Join and continuation codes are never in the database as they are, yet still work and show.

The threat model's database-only insider (a DBA, a leaked backup) must not learn a live code:
before, ``remote_sessions.code`` and ``continuation_code`` held them in plaintext and the digests
of used ones were a plain SHA-256 (10^9 codes: reversed in seconds). Each test scans the whole
database, every row of every table and, on SQLite, the database and WAL files byte for byte.
SQLite and PostgreSQL (``env`` from ``test_signaling``).
"""

from __future__ import annotations

import hashlib
import stat
from pathlib import Path

from sqlalchemy import MetaData, select
from tests.integration.test_browser_share import agent_join, shared, upgrade_code
from tests.integration.test_signaling import Env, env, join, recv

from veo.server.sessions import code_secret

_ = env  # the fixture, shared with test_signaling


def _database_text(env: Env) -> str:
    """Every value of every row of every table, and on SQLite the raw files too."""
    meta = MetaData()
    meta.reflect(env.db.engine)
    parts: list[str] = []
    with env.db.engine.connect() as conn:
        for table in meta.sorted_tables:
            parts.extend(repr(tuple(row)) for row in conn.execute(select(table)))
    url = env.db.url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                parts.append(file.read_bytes().decode("latin-1"))
    return "\n".join(parts)


def _assert_nowhere(env: Env, code: str) -> None:
    text = _database_text(env)
    assert len(text) > 1000, "the scan must see the database, not nothing"
    assert code not in text
    assert hashlib.sha256(code.encode()).hexdigest() not in text, "an unkeyed digest is reversible"


def test_a_join_code_is_kept_as_digests_and_redeemed_by_digest(env: Env, tmp_path: Path) -> None:
    created = env.create()
    sid, code = created["id"], created["code"]
    _assert_nowhere(env, code)
    row = env.row(sid)
    assert row.live_code_digest == row.code_digest == code_secret.active().digest(code)
    assert row.code == code, "the technician is still shown the code while it is live"
    console = env.client.get(f"/sessions/{sid}/console", headers={"x-test-user": "tech"})
    assert console.status_code == 200 and created["code_display"] in console.text
    # the secret lives in the data directory, not the database, readable by the server alone
    key = tmp_path / "keys" / "session_codes.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    other = code_secret.CodeSecret.from_secret(b"\x00" * code_secret.SECRET_BYTES)
    assert other.digest(code) != row.code_digest

    with env.agent() as agent:
        assert join(agent, created["code_display"])["type"] == "joined"
    row = env.row(sid)
    assert (row.live_code_digest, row.code_sealed, row.code) == (None, None, None)
    with env.agent() as again:
        assert join(again, code)["code"] == "code_used", "the kept digest still says used, not unknown"
    with env.agent() as wrong:
        assert join(wrong, f"{(int(code) + 1) % 10**9:09d}")["code"] == "code_unknown"
    _assert_nowhere(env, code)


def test_a_continuation_code_is_kept_as_digests_and_redeemed_by_digest(env: Env) -> None:
    created = env.create(permissions=["view", "control"])
    sid = created["id"]
    with env.console(sid) as console, env.agent() as browser:
        shared(env, console, browser, created["code"])
        issued = upgrade_code(browser)["code"]
        _assert_nowhere(env, issued)
        row = env.row(sid)
        assert row.live_continuation_digest == row.continuation_digest == code_secret.active().digest(issued)
        with env.agent() as agent:
            joined = agent_join(agent, issued)
            assert joined["type"] == "joined" and joined["session_id"] == sid
            recv(browser, "upgraded")
        assert env.row(sid).live_continuation_digest is None
        with env.agent() as again:
            assert agent_join(again, issued)["code"] == "code_used"
    _assert_nowhere(env, issued)
