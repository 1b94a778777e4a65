"""``/api/v1/tickets``: the same operations as the ticket pages, as JSON.

Lists take the filters of :class:`~veo.server.tickets.schemas.TicketFilters`; comments and the
field history of a ticket hang under it. Writes retry when a concurrent audit append won the
race (see ``veo.server.sessions.txn``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from veo.server.addresses import client_address
from veo.server.api.schemas import ErrorOut, error_responses
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.sessions import txn
from veo.server.tickets import history, service
from veo.server.tickets.schemas import (
    ChangeOut,
    CommentIn,
    CommentOut,
    TicketCreate,
    TicketFilters,
    TicketId,
    TicketOut,
    TicketPageOut,
    TicketPatch,
)
from veo.server.tickets.search import TicketQuery

router = APIRouter(
    prefix="/api/v1/tickets", tags=["tickets"], responses=error_responses(401, 403, 404, 413, 422)
)
CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorOut, "description": "The workflow forbids this status change (`invalid_transition`)."}
}


@router.get("", response_model=TicketPageOut)
async def list_tickets(
    user: CurrentUser, db: DatabaseDep, filters: Annotated[TicketFilters, Query()]
) -> TicketPageOut:
    """Search, filter, sort and page tickets (newest first by default)."""
    query = TicketQuery(**filters.model_dump())

    def work(s: Session) -> TicketPageOut:
        result = service.search(s, query)
        return TicketPageOut(
            items=[TicketOut.model_validate(t) for t in result.items],
            total=result.total,
            total_exact=result.total_exact,
            page=result.page,
            per_page=result.per_page,
        )

    return await db.run(work)


@router.post("", response_model=TicketOut, status_code=201)
async def create_ticket(
    body: TicketCreate, request: Request, user: CurrentUser, db: DatabaseDep
) -> TicketOut:
    address = client_address(request)
    ticket = await txn.run(
        db, lambda s: service.create_ticket(s, body.model_dump(), creator=user, address=address)
    )
    return TicketOut.model_validate(ticket)


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: TicketId, user: CurrentUser, db: DatabaseDep) -> TicketOut:
    return TicketOut.model_validate(await db.run(lambda s: service.get_ticket(s, ticket_id)))


@router.patch("/{ticket_id}", response_model=TicketOut, responses=CONFLICT)
async def patch_ticket(
    ticket_id: TicketId, body: TicketPatch, request: Request, user: CurrentUser, db: DatabaseDep
) -> TicketOut:
    """Change fields; a status change must follow the workflow, all or nothing is stored."""
    address = client_address(request)
    changes = body.model_dump(exclude_unset=True)
    ticket = await txn.run(
        db, lambda s: service.update_ticket(s, ticket_id, changes, actor=user, address=address)
    )
    return TicketOut.model_validate(ticket)


@router.get("/{ticket_id}/comments", response_model=list[CommentOut])
async def list_comments(ticket_id: TicketId, user: CurrentUser, db: DatabaseDep) -> list[CommentOut]:
    """Public replies and internal notes, oldest first."""

    def work(s: Session) -> list[CommentOut]:
        service.get_ticket(s, ticket_id)
        return [CommentOut.model_validate(c) for c in service.comments(s, ticket_id)]

    return await db.run(work)


@router.post("/{ticket_id}/comments", response_model=CommentOut, status_code=201)
async def add_comment(
    ticket_id: TicketId, body: CommentIn, request: Request, user: CurrentUser, db: DatabaseDep
) -> CommentOut:
    """A public reply (the first one is the ticket's first response) or an internal note."""
    address = client_address(request)

    def work(s: Session) -> CommentOut:
        ticket = service.get_ticket(s, ticket_id, for_update=True)
        comment = service.add_comment(s, ticket, user, body.body, body.public, address=address)
        return CommentOut.model_validate(comment)

    return await txn.run(db, work)


@router.get("/{ticket_id}/history", response_model=list[ChangeOut])
async def ticket_history(ticket_id: TicketId, user: CurrentUser, db: DatabaseDep) -> list[ChangeOut]:
    """Every field change, oldest first: who, when, old and new value."""

    def work(s: Session) -> list[ChangeOut]:
        service.get_ticket(s, ticket_id)
        return [ChangeOut.model_validate(c) for c in history.of_ticket(s, ticket_id)]

    return await db.run(work)
