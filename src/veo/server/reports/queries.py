"""Reading what a report needs, in a handful of set-based queries (no query per ticket).

Queries run on the session's connection as plain Core statements and hand over columns
(:mod:`~veo.server.reports.frame`), not objects: at 100,000 tickets a period holds tens of
thousands, and one Python object (with three datetimes) per ticket cost more than the figures.

Every query is bounded by the period's creation dates; ``ix_tickets_report`` and
``ix_remote_sessions_report`` hold every column read, so the rows come from the index alone. The
per-ticket extras (sessions, "waiting on user", ratings) come as separate grouped queries matched
by id in NumPy, which is cheaper than one wide outer join on both databases; names of categories
and technicians come from their small tables. Only the newest tickets' texts are read, for the
recurring-problem clusters.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sqlalchemy import (
    BigInteger,
    ColumnElement,
    String,
    cast,
    func,
    select,
    type_coerce,
)
from sqlalchemy.orm import Session

from veo.server.auth.models import User
from veo.server.notify.models import RatingRequest
from veo.server.reports.frame import Keys, SessionFrame, TicketFrame
from veo.server.reports.rows import TicketRow
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange


def _time(column: Any, dialect: str) -> ColumnElement[Any]:
    """``column`` (a UTC time) as the database can hand it over cheapest; see :func:`_micros`.

    PostgreSQL computes microseconds since 1970 itself (``extract(epoch ...)`` is an exact
    numeric); SQLite's own date functions round to milliseconds, so its stored
    ``YYYY-MM-DD HH:MM:SS.ffffff`` text comes as it is and NumPy reads it.
    """
    if dialect == "postgresql":
        return type_coerce(cast(func.extract("epoch", column) * 1_000_000, BigInteger), BigInteger)
    return type_coerce(column, String)


def _micros(values: Sequence[Any], dialect: str) -> NDArray[np.float64]:
    """What :func:`_time` gave, as exact microseconds since 1970 in floats; NaN for NULL."""
    if dialect == "postgresql":
        return np.asarray(values, dtype=np.float64)  # None becomes NaN
    moments = np.asarray(values, dtype="datetime64[us]")
    micros = moments.astype(np.int64).astype(np.float64)
    micros[np.isnat(moments)] = np.nan
    return micros


def _index_of(ids: NDArray[np.int64], wanted: Sequence[int]) -> tuple[NDArray[np.int64], NDArray[np.bool_]]:
    """Position in ``ids`` of each of ``wanted`` that is there, and which of ``wanted`` are.

    (On PostgreSQL each statement sees the data of its own start: a ticket created between two
    of them is in one and not the other.)
    """
    sought = np.asarray(wanted, dtype=np.int64)
    order = np.argsort(ids, kind="stable")
    ordered = ids[order]
    at = np.minimum(np.searchsorted(ordered, sought), max(len(ids) - 1, 0))
    found = ordered[at] == sought if len(ids) else np.zeros(len(sought), dtype=np.bool_)
    return order[at[found]].astype(np.int64), found


@contextmanager
def no_collection_pauses() -> Iterator[None]:
    """Hold off the cyclic garbage collector while tens of thousands of rows arrive.

    Each row is a new container object; at 100,000 tickets that many allocations set off
    several full collections, each walking every object of the process (the NumPy, scikit-learn
    and SQLAlchemy modules): measured, they took 90 ms of a 200 ms fetch. Rows hold no cycles,
    so nothing is lost by waiting; collection resumes (if it was on) when the block ends.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


@dataclass(frozen=True)
class TicketExtras:
    """What each ticket of a period has elsewhere: started sessions, waits on the user, ratings."""

    #: (ticket id, sessions on it that started)
    sessions: list[tuple[int, int]]
    #: tickets ever set to "waiting on user"
    waited: list[int]
    #: (ticket id, score) for every rating given
    ratings: list[tuple[int, int]]


def ticket_extras(db: Session, start: datetime, end: datetime) -> TicketExtras:
    """:class:`TicketExtras` of the tickets created in [start, end): three grouped queries.

    Separate from :func:`ticket_frame` so that they may run on another connection meanwhile.
    """
    conn = db.connection()
    ids = select(Ticket.id).where(Ticket.created_at >= start, Ticket.created_at < end).scalar_subquery()
    with no_collection_pauses():
        started = conn.execute(
            select(RemoteSession.ticket_id, func.count())
            .where(RemoteSession.ticket_id.in_(ids), RemoteSession.started_at.is_not(None))
            .group_by(RemoteSession.ticket_id)
        )
        waiting = conn.scalars(
            select(TicketChange.ticket_id)
            .where(
                TicketChange.ticket_id.in_(ids),
                TicketChange.field == "status",
                TicketChange.new == "waiting",
            )
            .distinct()
        )
        rated = conn.execute(
            select(RatingRequest.ticket_id, RatingRequest.score).where(
                RatingRequest.ticket_id.in_(ids), RatingRequest.score.is_not(None)
            )
        )
        return TicketExtras(
            sessions=list(started), waited=list(waiting), ratings=[(t, s) for t, s in rated if s is not None]
        )


def ticket_frame(
    db: Session, start: datetime, end: datetime, extras: Callable[[], TicketExtras] | None = None
) -> TicketFrame:
    """The tickets created in [start, end) as columns: a few narrow, set-based queries.

    Only numbers and short names travel (no texts, no datetime objects). ``extras`` gives the
    period's :class:`TicketExtras` (by default :func:`ticket_extras` on the same session).
    """
    with no_collection_pauses():
        return _ticket_frame(db, start, end, extras or (lambda: ticket_extras(db, start, end)))


def _ticket_frame(
    db: Session, start: datetime, end: datetime, extras: Callable[[], TicketExtras]
) -> TicketFrame:
    conn = db.connection()
    dialect = conn.dialect.name
    statement = select(
        Ticket.id,
        _time(Ticket.created_at, dialect),
        _time(Ticket.first_response_at, dialect),
        _time(Ticket.resolved_at, dialect),
        Ticket.category_id,
        Ticket.priority,
        Ticket.assignee_id,
        Ticket.reopened_count,
    ).where(Ticket.created_at >= start, Ticket.created_at < end)
    rows = conn.execute(statement).all()
    columns: list[Sequence[Any]] = list(zip(*rows, strict=True)) if rows else [()] * 8
    # Names of the few categories and technicians, rather than joined onto every row.
    categories = dict(conn.execute(select(Category.id, Category.name)).all())
    users = {
        user_id: name
        for user_id, name in conn.execute(
            select(User.id, User.name).where(User.id.in_(set(columns[6]) - {None}))
        )
    }
    ids = np.asarray(columns[0], dtype=np.int64)
    more = extras()
    sessions = np.zeros(len(ids), dtype=np.int64)
    where, found = _index_of(ids, [t for t, _n in more.sessions])
    sessions[where] = np.asarray([n for _t, n in more.sessions], dtype=np.int64)[found]
    waited = np.zeros(len(ids), dtype=np.bool_)
    waited[_index_of(ids, more.waited)[0]] = True
    rating_ticket, rated = _index_of(ids, [t for t, _s in more.ratings])
    return TicketFrame.build(
        ids=ids,
        created_us=_micros(columns[1], dialect),
        first_response_us=_micros(columns[2], dialect),
        resolved_us=_micros(columns[3], dialect),
        category=Keys.of_ids(columns[4], categories),
        priority=Keys.of(p or "" for p in columns[5]),
        assignee=Keys.of_ids(columns[6], users),
        assignee_id=[-1 if a is None else a for a in columns[6]],
        reopened=columns[7],
        waited=waited,
        sessions=sessions,
        rating_ticket=rating_ticket,
        rating_score=np.asarray([s for _t, s in more.ratings], dtype=np.int64)[rated],
    )


def session_frame(db: Session, start: datetime, end: datetime) -> SessionFrame:
    """Remote sessions that started in [start, end) as columns, with their technician's name."""
    conn = db.connection()
    dialect = conn.dialect.name
    statement = (
        select(
            User.name,
            _time(RemoteSession.started_at, dialect),
            _time(RemoteSession.ended_at, dialect),
        )
        .outerjoin(User, User.id == RemoteSession.technician_id)
        .where(RemoteSession.started_at >= start, RemoteSession.started_at < end)
    )
    with no_collection_pauses():
        rows = conn.execute(statement).all()
    return SessionFrame.build(
        [r[0] or "" for r in rows],
        _micros([r[1] for r in rows], dialect),
        _micros([r[2] for r in rows], dialect),
    )


def recent_texts(db: Session, start: datetime, end: datetime, limit: int) -> list[TicketRow]:
    """The ``limit`` most recent tickets created in [start, end), newest first, with their texts
    (what the recurring-problem clusters read; the index on the creation time serves it)."""
    statement = (
        select(Ticket.id, Ticket.title, Ticket.description, Ticket.created_at)
        .where(Ticket.created_at >= start, Ticket.created_at < end)
        .order_by(Ticket.created_at.desc(), Ticket.id.desc())
        .limit(limit)
    )
    return [
        TicketRow(id=i, title=title, description=description, created_at=created)
        for i, title, description, created in db.connection().execute(statement)
    ]


def fingerprint(db: Session) -> tuple[object, ...]:
    """Changes whenever a ticket or a session is added or changed: the report cache's key.

    ``updated_at`` moves on every ticket change; sessions and ratings are counted and their
    newest times taken, so a rating or a session's end shows up too. Each figure is its own
    scalar subquery of one statement (one round trip): SQLite then counts from its narrowest
    index and finds each maximum with one index lookup, where ``count(*), max(...)`` together
    made it walk every row (~20 ms at 100,000 tickets, on every report request).
    """

    def count(model: Any) -> Any:
        return select(func.count()).select_from(model).scalar_subquery()

    def newest(column: Any) -> Any:
        return select(func.max(column)).scalar_subquery()

    figures = select(
        count(Ticket),
        newest(Ticket.updated_at),
        count(RemoteSession),
        newest(RemoteSession.ended_at),
        newest(RemoteSession.started_at),
        count(RatingRequest),
        newest(RatingRequest.rated_at),
    )
    return tuple(db.connection().execute(figures).one())
