"""Reading the rows a report needs, in a handful of set-based queries (no query per ticket).

Queries run on the session's connection as plain Core statements: the ORM's result machinery
would cost more than the query itself for tens of thousands of rows.

Every query is bounded by the period's creation dates, which the ``tickets.created_at`` index
serves; the per-ticket extras (sessions, "waiting on user", ratings) come as separate grouped
queries joined in Python, which is cheaper than one wide outer join on both databases.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import and_, func, select
from sqlalchemy.orm import Session, aliased

from veo.server.auth.models import User
from veo.server.notify.models import RatingRequest
from veo.server.reports.rows import SessionRow, TicketRow
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange


def ticket_rows(db: Session, start: datetime, end: datetime) -> list[TicketRow]:
    """One row per ticket created in [start, end), with its sessions, waits and ratings."""
    assignee = aliased(User)
    ids = select(Ticket.id).where(Ticket.created_at >= start, Ticket.created_at < end).scalar_subquery()
    started = (
        select(RemoteSession.ticket_id, func.count())
        .where(RemoteSession.ticket_id.in_(ids), RemoteSession.started_at.is_not(None))
        .group_by(RemoteSession.ticket_id)
    )
    sessions: dict[int, int] = {ticket_id: count for ticket_id, count in db.connection().execute(started)}
    waited = set(
        db.connection().scalars(
            select(TicketChange.ticket_id)
            .where(
                TicketChange.ticket_id.in_(ids), TicketChange.field == "status", TicketChange.new == "waiting"
            )
            .distinct()
        )
    )
    ratings: dict[int, list[int]] = defaultdict(list)
    for ticket_id, score in db.connection().execute(
        select(RatingRequest.ticket_id, RatingRequest.score).where(
            RatingRequest.ticket_id.in_(ids), RatingRequest.score.is_not(None)
        )
    ):
        if score is not None:
            ratings[ticket_id].append(score)
    statement = (
        select(
            Ticket.id,
            Ticket.title,
            Ticket.description,
            Ticket.created_at,
            Ticket.first_response_at,
            Ticket.resolved_at,
            Category.name,
            Ticket.priority,
            Ticket.assignee_id,
            assignee.name,
            Ticket.channel,
            Ticket.reopened_count,
        )
        .outerjoin(Category, Category.id == Ticket.category_id)
        .outerjoin(assignee, assignee.id == Ticket.assignee_id)
        .where(and_(Ticket.created_at >= start, Ticket.created_at < end))
    )
    return [
        TicketRow(
            id=row[0],
            title=row[1],
            description=row[2],
            created_at=row[3],
            first_response_at=row[4],
            resolved_at=row[5],
            category=row[6],
            priority=row[7],
            assignee_id=row[8],
            assignee=row[9],
            channel=row[10],
            reopened_count=row[11],
            waited=row[0] in waited,
            sessions=sessions.get(row[0], 0),
            ratings=tuple(ratings.get(row[0], ())),
        )
        for row in db.connection().execute(statement)
    ]


def session_rows(db: Session, start: datetime, end: datetime) -> list[SessionRow]:
    """Remote sessions that started in [start, end), with their technician's name."""
    statement = (
        select(
            RemoteSession.ticket_id,
            RemoteSession.technician_id,
            User.name,
            RemoteSession.started_at,
            RemoteSession.ended_at,
        )
        .outerjoin(User, User.id == RemoteSession.technician_id)
        .where(RemoteSession.started_at >= start, RemoteSession.started_at < end)
    )
    return [
        SessionRow(ticket_id, technician_id, name or "", started, ended)
        for ticket_id, technician_id, name, started, ended in db.connection().execute(statement)
        if started is not None
    ]


def fingerprint(db: Session) -> tuple[object, ...]:
    """Changes whenever a ticket or a session is added or changed: the report cache's key.

    ``updated_at`` moves on every ticket change; sessions and ratings are counted and their
    newest times taken, so a rating or a session's end shows up too.
    """
    tickets = (
        db.connection().execute(select(func.count(), func.max(Ticket.updated_at)).select_from(Ticket)).one()
    )
    sessions = (
        db.connection()
        .execute(select(func.count(), func.max(RemoteSession.ended_at), func.max(RemoteSession.started_at)))
        .one()
    )
    rated = db.connection().execute(select(func.count(), func.max(RatingRequest.rated_at))).one()
    return (*tickets, *sessions, *rated)
