"""``/api/v1``: start a session on a ticket, read one, and the wire contract as JSON Schema."""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from veo.config import Settings
from veo.protocol.schema import protocol_schema
from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.api.schemas import error_responses
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.sessions import service
from veo.server.sessions.access import api_error, load_for
from veo.server.sessions.schemas import SessionCreate, SessionCreated, SessionOut, created
from veo.server.sessions.starting import start_session

router = APIRouter(prefix="/api/v1", tags=["sessions"])


@cache
def _schema() -> dict[str, Any]:
    return protocol_schema()


@router.post(
    "/tickets/{ticket_id}/sessions",
    response_model=SessionCreated,
    status_code=201,
    responses=error_responses(401, 403, 404, 422),
)
async def create_session(
    ticket_id: RowId,
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    body: SessionCreate | None = None,
) -> SessionCreated:
    settings: Settings = request.app.state.settings
    address = client_address(request)
    permissions = body.permissions if body is not None else None
    try:
        session = await start_session(
            db,
            ticket_id=ticket_id,
            technician=user,
            permissions=permissions,
            ttl_seconds=settings.session_code_ttl_seconds,
            address=address,
        )
    except service.SessionError as exc:
        raise api_error(exc) from None
    return created(session, settings.public_url)


@router.get(
    "/sessions/{session_id}", response_model=SessionOut, responses=error_responses(401, 403, 404, 422)
)
async def get_session(session_id: str, user: CurrentUser, db: DatabaseDep) -> SessionOut:
    return await db.run(lambda s: SessionOut.of(load_for(s, session_id, user, write=False)))


@router.get("/protocol.json")
async def protocol() -> JSONResponse:
    """Public: the console (and any other implementation) validates messages against it."""
    return JSONResponse(_schema())
