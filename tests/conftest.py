"""Shared fixtures: a migrated database on SQLite and on PostgreSQL, the app and a client for it.

PostgreSQL gets one throwaway database per test session (created on 127.0.0.1:5432, dropped at
the end) whose tables are emptied before each test; SQLite a copy of a file migrated once per
test process (``tests/sqlite_template.py``). If the server is not reachable the
PostgreSQL variants are skipped with the reason, except under ``CI=true`` where that fails.

``make test`` runs unit and integration in pytest-xdist workers (``-n 2 --dist loadfile``): each
worker is a session of its own, so it has its own PostgreSQL database and SQLite template, and
(:func:`_per_worker_redis`) its own Redis database on the shared 127.0.0.1:6379.
"""

from __future__ import annotations

import functools
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool
from tests.sqlite_template import migrated_sqlite
from tests.support import BASE_URL, app_settings

from veo.config import Settings

if TYPE_CHECKING:
    from argon2 import PasswordHasher

# Server modules are imported inside the fixtures: an agent-only test run, or a half-edited
# server module, must not stop every other test from being collected.

PG_URL = os.environ.get("VEO_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

# Redis databases 1 to 13 for xdist workers gw0 to gw12; 0 stays the serial run's, 14 is `veo bench
# signaling`'s own (veo.bench.signaling.cli.DEFAULT_REDIS).
FIRST_WORKER_REDIS_DB = 1
WORKER_REDIS_DBS = 13


def _per_worker_redis() -> None:
    """Point ``VEO_TEST_REDIS_URL`` at a Redis database of this xdist worker's own.

    The Redis tests read that variable when their module is imported (after this conftest). Most
    of them already key everything under a random prefix; a database per worker also keeps apart
    what does not (a ``scan`` of the whole database, the bus's history streams). Pub/sub channels
    are server-wide whatever the database, so the bus tests give their buses a random prefix. Set
    by hand, the variable is left alone.
    """
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", ... in an xdist worker
    if not worker.startswith("gw") or "VEO_TEST_REDIS_URL" in os.environ:
        return
    db = FIRST_WORKER_REDIS_DB + int(worker[2:]) % WORKER_REDIS_DBS
    os.environ["VEO_TEST_REDIS_URL"] = f"redis://127.0.0.1:6379/{db}"


_per_worker_redis()


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"PostgreSQL is required in CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable at {make_url(PG_URL).render_as_string()}: {reason}")


def _create_database(prefix: str) -> tuple[str, str]:
    """A fresh, empty PostgreSQL database; returns (its URL, its name)."""
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:
        _unavailable(str(exc).splitlines()[0])
    finally:
        admin.dispose()
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


def _drop_database(name: str) -> None:
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(autouse=True)
def _quick_password_hashes(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test hashes passwords with argon2's cheapest parameters, unless marked ``real_argon2``.

    With the production parameters (19 MiB, 2 passes) each sign-in and each new account took 20 to
    45 ms on the 2-core test machine, a tenth of a second in a typical database test, and they
    measure nothing there. Only this fixture swaps the hasher, so a running server never can; the
    tests of the hashing itself, of the cap on hashes at once and of sign-in races (where the time
    a hash takes is part of the race) are marked and keep the real parameters.
    """
    if request.node.get_closest_marker("real_argon2"):
        return
    try:
        from veo.server.auth import passwords
    except ImportError:  # an agent-only install: nothing here hashes passwords
        return
    hasher, dummy = _quick_hasher()
    monkeypatch.setattr(passwords, "_hasher", hasher)
    monkeypatch.setattr(passwords, "_DUMMY_HASH", dummy)


@functools.cache
def _quick_hasher() -> tuple[PasswordHasher, str]:
    """argon2id at its floor (1 pass, 8 KiB) and a dummy hash made with it, for ``dummy_verify``."""
    from argon2 import PasswordHasher
    from argon2.low_level import Type

    hasher = PasswordHasher(time_cost=1, memory_cost=8, parallelism=1, type=Type.ID)
    return hasher, hasher.hash("not anybody's password")


@pytest.fixture(scope="session")
def postgres_session_url() -> Iterator[str]:
    """One migrated PostgreSQL database shared by the session's tests (emptied between them)."""
    from veo.server.db.migrate import migrate

    url, name = _create_database("veo_test")
    try:
        migrate(url)
        yield url
    finally:
        _drop_database(name)


def _empty_tables(url: str) -> None:
    """Delete every row and restart every sequence, as a fresh database would have them.

    DELETE rather than TRUNCATE: on the few rows a test leaves, TRUNCATE (new files for every table
    and index) took about 100 ms a test, these DELETEs about 10 ms.
    """
    from veo.server.db.models import Base

    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            sequences = conn.execute(
                text(
                    "SELECT sequence_name FROM information_schema.sequences"
                    " WHERE sequence_schema = current_schema()"
                )
            ).scalars()
            # children before parents, so that no foreign key is left pointing at a deleted row
            statements = [f'DELETE FROM "{t.name}"' for t in reversed(Base.metadata.sorted_tables)]
            statements += [f'ALTER SEQUENCE "{name}" RESTART' for name in sequences]
            conn.exec_driver_sql("; ".join(statements))
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A migrated, empty database: a copy of the migrated SQLite template, or the session's
    PostgreSQL database."""
    if request.param == "sqlite":
        return migrated_sqlite(tmp_path / "veo.db")
    url = str(request.getfixturevalue("postgres_session_url"))
    _empty_tables(url)
    return url


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def blank_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with no tables at all (for migration tests)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'blank.db'}"
        return
    url, name = _create_database("veo_blank")
    try:
        yield url
    finally:
        _drop_database(name)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return app_settings(database_url, tmp_path)


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    """The real app with its start-up (migrations, session hub) and shut-down run."""
    from veo.server.app import create_app

    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A cookie-keeping client talking to the app in-process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=BASE_URL) as c:
        yield c


@pytest.fixture(autouse=True)
def _xlib_event_table_restored() -> Iterator[None]:
    """Each test starts with python-xlib's extension-event table as the previous one found it.

    python-xlib keeps that table in a class attribute shared by every ``Display`` of the process,
    filled per server by the extensions it finds; XWayland numbers its extensions' events unlike
    Xvfb, so a test on one server after a test on the other failed to connect ("'type' object does
    not support item assignment" from an extension's init) or, reading the keyboard map through
    XWayland, typed nothing. The agent talks to one X server per process: only tests meet this.
    """
    try:
        from Xlib.protocol import display
    except ImportError:  # a server-only environment
        yield
        return
    table = display.Display.event_classes
    saved = {code: dict(v) if isinstance(v, dict) else v for code, v in table.items()}
    try:
        yield
    finally:
        table.clear()
        table.update(saved)


@pytest.fixture(autouse=True)
def _ssl_context_class_restored() -> Iterator[None]:
    """``truststore.inject_into_ssl()`` (the agent's ``main()`` calls it) is undone after each test.

    The process-wide ``ssl.SSLContext`` is put back, so no later test trusts the system's store by
    accident.
    """
    import ssl

    saved = ssl.SSLContext
    try:
        yield
    finally:
        ssl.SSLContext = saved  # type: ignore[misc]
