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

During a rolling upgrade the first new node migrates; an old node that restarts after that finds
a revision it does not know. Alembic would fail with "Can't locate revision" on every restart;
instead :class:`DatabaseNewer` says in one sentence what to do (upgrade this node), and
``veo server`` checks it before it starts (:func:`refuse_newer_database`) and exits with it.
Every connection made here gives up after the same ``connect_timeout`` as the app's, so a node
whose database host is unreachable exits within seconds instead of hanging on TCP retries.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from veo.server.db.engine import connect_args
from veo.server.lang import _

log = logging.getLogger(__name__)

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
    engine = create_engine(
        url, poolclass=NullPool, isolation_level="AUTOCOMMIT", connect_args=connect_args(url)
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": ADVISORY_KEY})
            try:
                yield
            finally:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY})
    finally:
        engine.dispose()


class DatabaseNewer(RuntimeError):
    """The database was migrated by a newer veo: this one does not know its revision."""

    def __init__(self, revisions: list[str]) -> None:
        self.revisions = revisions
        super().__init__(
            _("The database is newer than this veo (revision %(revision)s): upgrade this node.")
            % {"revision": ", ".join(revisions)}
        )


def unknown_revisions(url: str) -> list[str]:
    """The database's current revisions that this veo's migrations do not contain ([]: none)."""
    script = ScriptDirectory.from_config(alembic_config(url))
    known = {revision.revision for revision in script.walk_revisions()}
    engine = create_engine(url, poolclass=NullPool, connect_args=connect_args(url))
    try:
        with engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_heads()
    finally:
        engine.dispose()
    return sorted(revision for revision in current if revision not in known)


def refuse_newer_database(url: str) -> None:
    """Raise :class:`DatabaseNewer` when a newer veo migrated the database at ``url``.

    Only that: a database that cannot be reached now is left to :func:`migrate` at start, which
    reports it as it always does.
    """
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return  # a first start: nothing to compare (and no empty file made here)
    try:
        newer = unknown_revisions(url)
    except Exception as exc:  # unreachable, no table yet: not this check's business
        log.debug("could not compare the database's revision: %s", exc)
        return
    if newer:
        raise DatabaseNewer(newer)


def migrate(url: str, data_dir: Path | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent, one node at a time).

    Raises :class:`DatabaseNewer`, before changing anything, when a newer veo migrated it.
    """
    if url.startswith("sqlite:///"):
        # A fresh data directory: SQLite creates the file but not the folder it lives in.
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    with one_migrator(url):
        newer = unknown_revisions(url)
        if newer:
            raise DatabaseNewer(newer)
        # "heads": branches made in parallel (one per feature) all apply; a merge revision joins them.
        command.upgrade(alembic_config(url, data_dir), "heads")
