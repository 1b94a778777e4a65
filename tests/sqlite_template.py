"""Migrated SQLite databases for tests, by copying one file migrated once per test process.

Running the Alembic migrations (0001 onwards, most of them batch table rebuilds on SQLite) took
about 0.5 s per test on the 2-core test machine, and hundreds of tests want a fresh database.
The schema is the same every time, so the migrations run once, into a template file, and each
test gets a byte copy (about a millisecond). The app still runs ``migrate`` at start-up; on a copy
that is the no-op it is on any up-to-date database. The tests of the migrations themselves start
from a blank database (``blank_database_url``), not from here.
"""

from __future__ import annotations

import shutil
import tempfile
from functools import cache
from pathlib import Path


@cache
def _template() -> tuple[tempfile.TemporaryDirectory[str], Path]:
    """The folder (removed when the process ends, by its finalizer) and the migrated file in it."""
    from veo.server.db.migrate import migrate

    folder = tempfile.TemporaryDirectory(prefix="veo-sqlite-template-")
    path = Path(folder.name) / "veo.db"
    migrate(f"sqlite:///{path}")
    return folder, path


def migrated_sqlite(path: Path) -> str:
    """A copy of the migrated template at ``path`` (its folder is created); returns its URL."""
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(_template()[1], path)
    return f"sqlite:///{path}"
