"""``/api/v1/tickets``: the same operations as the ticket pages, as JSON."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from sqlalchemy.orm import Session

from veo.server.api.schemas import error_responses
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.tickets import service
from veo.server.tickets.schemas import TicketCreate, TicketId, TicketOut, TicketPageOut, TicketPatch

router = APIRouter(
    prefix="/api/v1/tickets", tags=["tickets"], responses=error_responses(401, 403, 404, 413, 422)
)


def _address(request: Request) -> str:
    return request.client.host if request.client else ""


@router.get("", response_model=TicketPageOut)
async def list_tickets(
    user: CurrentUser,
    db: DatabaseDep,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)] = 25,
) -> TicketPageOut:
    def work(s: Session) -> TicketPageOut:
        result = service.list_tickets(s, page=page, per_page=per_page)
        return TicketPageOut(
            items=[TicketOut.model_validate(t) for t in result.items],
            total=result.total,
            page=result.page,
            per_page=result.per_page,
        )

    return await db.run(work)


@router.post("", response_model=TicketOut, status_code=201)
async def create_ticket(
    body: TicketCreate, request: Request, user: CurrentUser, db: DatabaseDep
) -> TicketOut:
    address = _address(request)
    ticket = await db.run(
        lambda s: service.create_ticket(s, body.model_dump(), creator=user, address=address)
    )
    return TicketOut.model_validate(ticket)


@router.get("/{ticket_id}", response_model=TicketOut)
async def get_ticket(ticket_id: TicketId, user: CurrentUser, db: DatabaseDep) -> TicketOut:
    return TicketOut.model_validate(await db.run(lambda s: service.get_ticket(s, ticket_id)))


@router.patch("/{ticket_id}", response_model=TicketOut)
async def patch_ticket(
    ticket_id: TicketId, body: TicketPatch, request: Request, user: CurrentUser, db: DatabaseDep
) -> TicketOut:
    address = _address(request)
    changes = body.model_dump(exclude_unset=True)
    ticket = await db.run(lambda s: service.update_ticket(s, ticket_id, changes, actor=user, address=address))
    return TicketOut.model_validate(ticket)
