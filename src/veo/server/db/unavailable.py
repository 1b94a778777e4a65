"""Tell "the database is down or unreachable" apart from every other failure.

When PostgreSQL restarts (or its host, or the network to it, goes away), every request that
touches the database fails with the driver's connection error. That is no bug of veo and not the
client's fault: the answer is 503 ``database_unavailable`` ("try again shortly"), not 500 with a
logged trace (``veo.server.handlers``). The transaction of the failed request was rolled back
(``Database.session``), and SQLAlchemy drops the dead connections from its pool, so the first
request after the database is back simply works.

Only failures of the connection count. The DB-API's ``OperationalError`` also covers what is
veo's or the server's own problem with a working connection: in psycopg a deadlock, a
serialization failure, a statement timeout, a lock not granted, a full disk; in SQLite "database
is locked". Those stay 500 with their trace in the log, or they would look like brief outages
and their cause would never be seen.
"""

from __future__ import annotations

import logging

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: The classes that may mean it (:func:`is_unavailable` decides); handlers catch these.
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)

#: SQLSTATEs of a connection that failed or is being refused: class 08 (connection exception),
#: 57P01-57P03 (administrator/crash shutdown, cannot connect now: a restart), 53300 (too many
#: connections: no connection to be had at the moment).
UNAVAILABLE_STATES = frozenset({"57P01", "57P02", "57P03", "53300"})
#: SQLite's error when the database file cannot be opened (the only "unreachable" it has).
SQLITE_CANNOT_OPEN = "SQLITE_CANTOPEN"


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database could not be reached or dropped the connection.

    ``connection_invalidated`` is SQLAlchemy's own verdict that the error was a disconnect;
    ``PoolTimeout`` no connection free in time. Otherwise the driver's error decides: a
    connection-level SQLSTATE, or (psycopg) no SQLSTATE at all, which the driver gives only to
    failures on its side of the wire (refused, lost or closed connection); SQLite's "unable to
    open the database file".
    """
    if isinstance(exc, PoolTimeout):
        return True
    if not isinstance(exc, DBAPIError):
        return False
    if exc.connection_invalidated:  # whatever its class
        return True
    return isinstance(exc, UNAVAILABLE_ERRORS) and _driver_says_unavailable(exc.orig)


def _driver_says_unavailable(orig: BaseException | None) -> bool:
    sqlite_name = getattr(orig, "sqlite_errorname", None)
    if sqlite_name is not None:
        return bool(sqlite_name == SQLITE_CANNOT_OPEN)
    if not hasattr(orig, "sqlstate"):  # neither psycopg nor SQLite: no way to tell
        return False
    state = getattr(orig, "sqlstate", None)
    if state is None:  # psycopg: a client-side failure of the connection itself
        return True
    return str(state).startswith("08") or state in UNAVAILABLE_STATES


def log_failure(logger: logging.Logger, what: str, exc: Exception) -> None:
    """A background round that failed: one line while the database is down (a restart would
    otherwise print a trace every round), the whole trace for anything else."""
    if is_unavailable(exc):
        logger.warning("%s skipped: database unavailable: %s", what, first_line(exc))
    else:
        logger.error("%s failed", what, exc_info=exc)


def first_line(exc: BaseException) -> str:
    """The driver's one-line reason (``connection refused``), for a log line without a trace."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
