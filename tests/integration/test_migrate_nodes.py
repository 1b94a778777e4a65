"""Two nodes starting at once on one PostgreSQL database migrate one after the other.

Each ``veo server`` migrates at start; a rolling restart or a compose file starts several at
the same moment. The test holds the migration lock itself, starts two migrating processes (two
nodes), sees both queue on the lock in ``pg_locks`` (without it they would both be upgrading),
releases it, and then both must succeed and leave exactly one, complete schema.
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from veo.server.db.migrate import ADVISORY_KEY, migrate
from veo.server.db.models import Base

pytestmark = pytest.mark.postgres

MIGRATE = "import sys; from veo.server.db.migrate import migrate; migrate(sys.argv[1])"


def _waiting_on_the_lock(url: str) -> int:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            waiting: int = conn.execute(
                text(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
                )
            ).scalar_one()
            return waiting
    finally:
        engine.dispose()


@pytest.mark.parametrize("blank_database_url", ["postgresql"], indirect=True)  # SQLite: one node
def test_two_nodes_migrating_one_fresh_database_at_once_queue_and_both_succeed(
    blank_database_url: str,
) -> None:
    holder = create_engine(blank_database_url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    nodes: list[subprocess.Popen[bytes]] = []
    try:
        with holder.connect() as lock:
            lock.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            nodes = [
                subprocess.Popen([sys.executable, "-c", MIGRATE, blank_database_url], stderr=subprocess.PIPE)
                for _ in range(2)
            ]
            deadline = time.monotonic() + 60
            while _waiting_on_the_lock(blank_database_url) < 2:  # both nodes queue on the lock
                assert all(node.poll() is None for node in nodes), "a node finished without waiting"
                assert time.monotonic() < deadline, "the nodes never waited for the migration lock"
                time.sleep(0.05)
            with holder.connect() as probe:  # nothing was migrated while the lock was held
                assert probe.execute(text("SELECT to_regclass('alembic_version')")).scalar() is None
            lock.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
        for node in nodes:
            _out, err = node.communicate(timeout=120)
            assert node.returncode == 0, err.decode(errors="replace")[-2000:]
        with holder.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
            tables = set(
                conn.execute(
                    text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")
                ).scalars()
            )
        assert len(versions) == len(set(versions)) >= 1  # one row per head, no duplicate
        assert set(Base.metadata.tables) <= tables
        migrate(blank_database_url)  # a third node later: the schema is current, nothing to do
    finally:
        for node in nodes:
            if node.poll() is None:
                node.kill()
                node.wait()
        holder.dispose()
