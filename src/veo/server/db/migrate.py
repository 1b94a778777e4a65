"""Schema migrations with Alembic, configured in code so that no ``alembic.ini`` has to be found.

The app, ``veo admin init`` and the tests all call :func:`migrate`; an operator never needs the
``alembic`` command. The database URL travels in the config's attributes rather than the ini
option so that a password containing ``%`` is not mangled by ConfigParser interpolation; so does
the data directory, for a revision that needs a key kept there (``0014_code_digests``).
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


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


def migrate(url: str, data_dir: Path | None = None) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent)."""
    if url.startswith("sqlite:///"):
        # A fresh data directory: SQLite creates the file but not the folder it lives in.
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # "heads": branches made in parallel (one per feature) all apply; a merge revision joins them.
    command.upgrade(alembic_config(url, data_dir), "heads")
