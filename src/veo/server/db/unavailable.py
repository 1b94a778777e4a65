"""Tell "the database is down or unreachable" apart from every other failure.

When PostgreSQL restarts (or its host, or the network to it, goes away), every request that
touches the database fails with the driver's connection error. That is no bug of veo and not the
client's fault: the answer is 503 ``database_unavailable`` ("try again shortly"), not 500 with a
logged trace (``veo.server.handlers``). The transaction of the failed request was rolled back
(``Database.session``), and SQLAlchemy drops the dead connections from its pool, so the first
request after the database is back simply works.
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

#: The classes that always mean it (a disconnect of another class is told by its flag).
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` says the database could not be reached or dropped the connection.

    ``OperationalError`` is the DB-API's class for failures of the database's operation rather
    than of the statement (refused or lost connection, server shutting down, a SQLite file
    locked past its busy timeout); ``InterfaceError`` a connection that is no longer usable;
    ``PoolTimeout`` no connection free in time; ``connection_invalidated`` SQLAlchemy's own
    verdict that the error was a disconnect, whatever its class.
    """
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, UNAVAILABLE_ERRORS)


def first_line(exc: BaseException) -> str:
    """The driver's one-line reason (``connection refused``), for a log line without a trace."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__
