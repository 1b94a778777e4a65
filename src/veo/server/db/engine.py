"""The database handle: one engine and session factory per app, SQLite or PostgreSQL by URL.

Work runs in short synchronous transactions (SQLAlchemy's sync API) on a worker thread where a
request or WebSocket handler needs it (``Database.run``), so the event loop never blocks on I/O.

A restart of the database must not need a restart of veo. ``pool_pre_ping`` tests each pooled
connection as it is taken out, so connections that died with the old server are replaced
instead of failing the next request; a connection lost mid-transaction makes SQLAlchemy
discard the whole pool's older connections. PostgreSQL connections give up after
``CONNECT_TIMEOUT`` seconds (unless the URL sets ``connect_timeout``), so while the database
host is unreachable a request is answered 503 within seconds (``veo.server.handlers``) rather
than hanging on the operating system's minutes-long TCP timeout.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import anyio.to_thread
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

T = TypeVar("T")
#: Seconds a new PostgreSQL connection may take before the attempt counts as failed.
CONNECT_TIMEOUT = 5


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def connect_args(url: str) -> dict[str, Any]:
    """The driver arguments every engine of veo uses: PostgreSQL gives up connecting after
    ``CONNECT_TIMEOUT`` (unless the URL says otherwise); SQLite is shared across threads."""
    if url.startswith("sqlite"):
        return {"check_same_thread": False}
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and "connect_timeout" not in parsed.query:
        return {"connect_timeout": CONNECT_TIMEOUT}
    return {}


class Database:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args(url))
        if url.startswith("sqlite"):
            event.listen(self.engine, "connect", _sqlite_pragmas)
        self.sessionmaker = sessionmaker(self.engine, expire_on_commit=False)

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed when the block ends normally, rolled back on any error."""
        with self.sessionmaker() as db, db.begin():
            yield db

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run ``work`` in one transaction on a worker thread."""

        def in_transaction() -> T:
            with self.session() as db:
                return work(db)

        return await anyio.to_thread.run_sync(in_transaction)

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(text("SELECT 1"))

    def dispose(self) -> None:
        self.engine.dispose()
