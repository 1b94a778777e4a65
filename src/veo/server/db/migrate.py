"""Schema migrations with Alembic, configured in code so that no ``alembic.ini`` has to be found.

The app, ``veo admin init`` and the tests all call :func:`migrate`; an operator never needs the
``alembic`` command. The database URL travels in the config's attributes rather than the ini
option so that a password containing ``%`` is not mangled by ConfigParser interpolation; so does
the data directory, for a revision that needs a key kept there (``0014_code_digests``).

Several nodes on one PostgreSQL database each migrate when they start, often at the same moment
(a rolling restart, a compose file bringing all up). Two upgrades at once would both read the
old version and both run the same revision, and the slower one fails on a table that now
exists. So on PostgreSQL the upgrade runs under a session-level advisory lock held on a
connection of its own: the second node waits, then finds the schema current and does nothing.
The lock goes with its connection, so a node that dies mid-migration does not leave it taken.
SQLite serves a single node and needs none.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
#: Arbitrary but fixed: "veo-migr" as a signed 64-bit number (the audit lock is "veo-audi").
ADVISORY_KEY = 0x7665_6F2D_6D69_6772


def alembic_config(url: str, data_dir: Path | None = None) -> Config:
    """An Alembic configuration for the veo migrations against ``url``.

    ``data_dir``: the server's data directory; None lets a revision that needs it read
    ``VEO_DATA_DIR`` (the settings), as the server itself would.
    """
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    config.attributes["data_dir"] = data_dir
    return config


@contextmanager
def one_migrator(url: str) -> Iterator[None]:
    """Hold the migration lock of the PostgreSQL database at ``url`` (nothing to hold elsewhere)."""
    if make_url(url).get_backend_name() != "postgresql":
        yield
        return
    engine = create_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
    finally:
        engine.dispose()


def migrate(url: str, data_dir: Path | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent, one node at a time)."""
    if url.startswith("sqlite:///"):
        # A fresh data directory: SQLite creates the file but not the folder it lives in.
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with one_migrator(url):
        # "heads": branches made in parallel (one per feature) all apply; a merge revision joins them.
        command.upgrade(alembic_config(url, data_dir), "heads")
