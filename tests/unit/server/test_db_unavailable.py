"""Only a failed or refused connection is "database unavailable" (503); other database errors
with a working connection (deadlock, statement timeout, full disk, SQLite locked) stay 500 with
their trace in the log, so that their cause is seen."""

from __future__ import annotations

import logging
import sqlite3
import warnings
from pathlib import Path

import psycopg
import psycopg.errors
import pytest
from fastapi import FastAPI
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import StarletteDeprecationWarning

from veo.server import handlers
from veo.server.db.unavailable import is_unavailable

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient


def wrapped(orig: Exception, kind: type[DBAPIError] = OperationalError) -> DBAPIError:
    return kind("SELECT 1", {}, orig)


def sqlite_error(tmp_path: Path, locked: bool) -> sqlite3.OperationalError:
    """A real SQLite error: the file cannot be opened, or another connection holds the lock."""
    try:
        if locked:
            holder = sqlite3.connect(tmp_path / "x.db", isolation_level=None)
            holder.execute("BEGIN EXCLUSIVE")
            sqlite3.connect(tmp_path / "x.db", timeout=0).execute("SELECT * FROM sqlite_master")
        else:
            sqlite3.connect(tmp_path / "missing" / "x.db").execute("SELECT 1")
    except sqlite3.OperationalError as exc:
        return exc
    raise AssertionError("no error")


@pytest.mark.parametrize(
    "orig",
    [
        psycopg.OperationalError("connection refused"),  # no SQLSTATE: the client's side
        psycopg.errors.AdminShutdown("terminating connection due to administrator command"),
        psycopg.errors.CannotConnectNow("the database system is starting up"),
        psycopg.errors.CrashShutdown("crash"),
        psycopg.errors.ConnectionFailure("connection failure"),  # class 08
        psycopg.errors.TooManyConnections("too many clients"),
    ],
)
def test_connection_failures_are_unavailable(orig: Exception) -> None:
    assert is_unavailable(wrapped(orig))


@pytest.mark.parametrize(
    "orig",
    [
        psycopg.errors.DeadlockDetected("deadlock detected"),
        psycopg.errors.SerializationFailure("could not serialize"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        psycopg.errors.LockNotAvailable("could not obtain lock"),
        psycopg.errors.DiskFull("could not extend file"),
        Exception("a driver veo does not know"),
    ],
)
def test_failures_with_a_working_connection_are_not(orig: Exception) -> None:
    assert not is_unavailable(wrapped(orig))


def test_sqlite_cannot_open_is_unavailable_locked_is_not(tmp_path: Path) -> None:
    assert is_unavailable(wrapped(sqlite_error(tmp_path, locked=False)))
    assert not is_unavailable(wrapped(sqlite_error(tmp_path, locked=True)))


def test_a_closed_connection_a_disconnect_verdict_and_the_pool_timeout_are_unavailable() -> None:
    assert is_unavailable(wrapped(psycopg.InterfaceError("the connection is closed"), InterfaceError))
    disconnect = DBAPIError("SELECT 1", {}, psycopg.errors.DeadlockDetected("x"), connection_invalidated=True)
    assert is_unavailable(disconnect)
    assert is_unavailable(PoolTimeout("QueuePool limit reached"))
    assert not is_unavailable(ValueError("not a database error"))


def test_the_answer_503_for_a_lost_connection_500_with_a_trace_for_a_deadlock(
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = FastAPI()
    handlers.install(app)

    @app.get("/api/v1/down")
    def down() -> None:
        raise wrapped(psycopg.errors.AdminShutdown("terminating connection"))

    @app.get("/api/v1/deadlock")
    def deadlock() -> None:
        raise wrapped(psycopg.errors.DeadlockDetected("deadlock detected"))

    with TestClient(app, raise_server_exceptions=False) as client, caplog.at_level(logging.WARNING):
        unavailable = client.get("/api/v1/down")
        failed = client.get("/api/v1/deadlock")
    assert unavailable.status_code == 503 and unavailable.json()["code"] == "database_unavailable"
    assert unavailable.headers["retry-after"] == str(handlers.RETRY_AFTER_SECONDS)
    assert failed.status_code == 500 and failed.json()["code"] == "internal_error"
    assert "deadlock" not in failed.text  # nothing of the cause reaches the client
    traced = [r for r in caplog.records if r.exc_info and "deadlock" in str(r.exc_info[1])]
    assert len(traced) == 1 and traced[0].levelno == logging.ERROR
