"""Throwaway databases for the bench: a SQLite file in a temporary folder, or a PostgreSQL
database created on the given server and dropped afterwards, so nothing real is ever touched."""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextmanager
def throwaway(server_url: str) -> Iterator[str]:
    """A URL of a new, empty database next to ``server_url``; removed when the block ends."""
    url = make_url(server_url)
    if url.get_backend_name() == "sqlite":
        with tempfile.TemporaryDirectory(prefix="veo-bench-") as folder:
            yield f"sqlite:///{Path(folder) / 'bench.db'}"
        return
    name = f"veo_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield url.set(database=name).render_as_string(hide_password=False)
        finally:
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


def label(server_url: str) -> str:
    return make_url(server_url).get_backend_name()
