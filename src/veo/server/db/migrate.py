"""Schema migrations with Alembic, configured in code so that no ``alembic.ini`` has to be found.

The app, ``veo admin init`` and the tests all call :func:`migrate`; an operator never needs the
``alembic`` command. The database URL travels in the config's attributes rather than the ini
option so that a password containing ``%`` is not mangled by ConfigParser interpolation.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic configuration for the veo migrations against ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def migrate(url: str) -> None:
    """Bring the database at ``url`` to the newest schema (idempotent)."""
    if url.startswith("sqlite:///"):
        # A fresh data directory: SQLite creates the file but not the folder it lives in.
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    # "heads": branches made in parallel (one per feature) all apply; a merge revision joins them.
    command.upgrade(alembic_config(url), "heads")
