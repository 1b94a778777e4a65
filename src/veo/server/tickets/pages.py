"""Ticket pages: list, new-ticket form, and the detail page with its sessions and audit trail."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy.orm import Session

from veo.server.audit.models import AuditEvent
from veo.server.auth.deps import CurrentUser, verify_csrf
from veo.server.db.deps import DatabaseDep
from veo.server.errors import InvalidInput
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import service
from veo.server.tickets.models import Ticket
from veo.server.tickets.schemas import TicketId
from veo.server.web.templating import render

router = APIRouter(include_in_schema=False)


@router.get("/")
async def home() -> Response:
    return RedirectResponse("/tickets", status_code=303)


@router.get("/tickets")
async def ticket_list(
    request: Request, user: CurrentUser, db: DatabaseDep, page: Annotated[int, Query(ge=1, le=100000)] = 1
) -> Response:
    result = await db.run(lambda s: service.list_tickets(s, page=page, per_page=25))
    return await render(request, "tickets/list.html", {"page": result})


@router.get("/tickets/new")
async def new_ticket_form(request: Request, user: CurrentUser) -> Response:
    return await render(request, "tickets/new.html", {"values": {}, "errors": {}})


@router.post("/tickets/new", dependencies=[Depends(verify_csrf)])
async def create_ticket(
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    title: Annotated[str, Form(max_length=10000)] = "",
    description: Annotated[str, Form(max_length=20000)] = "",
    requester_name: Annotated[str, Form(max_length=10000)] = "",
    requester_email: Annotated[str, Form(max_length=10000)] = "",
) -> Response:
    values = {
        "title": title,
        "description": description,
        "requester_name": requester_name,
        "requester_email": requester_email,
    }
    address = request.client.host if request.client else ""
    try:
        ticket = await db.run(lambda s: service.create_ticket(s, values, creator=user, address=address))
    except InvalidInput as exc:
        context = {"values": values, "errors": exc.fields}
        return await render(request, "tickets/new.html", context, status_code=422)
    return RedirectResponse(f"/tickets/{ticket.id}", status_code=303)


@dataclass(frozen=True)
class EventGroup:
    """Audit events of one remote session (``session`` None: about the ticket itself)."""

    session: RemoteSession | None
    events: list[AuditEvent]


@dataclass(frozen=True)
class TicketView:
    ticket: Ticket
    sessions: list[RemoteSession]
    groups: list[EventGroup]


def _load(db: Session, ticket_id: int) -> TicketView:
    ticket = service.get_ticket(db, ticket_id)
    sessions = service.ticket_sessions(db, ticket_id)
    events = service.ticket_events(db, ticket_id, [s.id for s in sessions])
    by_session: dict[str | None, list[AuditEvent]] = {}
    for event in events:
        by_session.setdefault(event.session_id, []).append(event)
    groups = [EventGroup(None, by_session.get(None, []))]
    groups += [EventGroup(s, by_session[s.id]) for s in sessions if s.id in by_session]
    return TicketView(ticket, sessions, groups)


@router.get("/tickets/{ticket_id}")
async def ticket_detail(
    request: Request, ticket_id: TicketId, user: CurrentUser, db: DatabaseDep
) -> Response:
    view = await db.run(lambda s: _load(s, ticket_id))
    return await render(
        request,
        "tickets/detail.html",
        {"ticket": view.ticket, "sessions": view.sessions, "groups": view.groups},
    )
