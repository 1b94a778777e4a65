"""Ticket attachments over HTTP (technicians only; cookie + ``X-CSRF-Token``, or a bearer token).

* ``POST /api/v1/tickets/{id}/attachments?name=...&session_id=...``: the raw file as the body
  (``application/octet-stream``), streamed to disk and cut off at the role policy's
  ``max_file_bytes`` (413 ``file_too_large``). This one route is exempt from the server's 1 MiB
  body limit (``veo.server.middleware``) because it enforces its own. With ``session_id``, only
  that session's technician (or an admin) may attach, and only to the session's ticket.
* ``GET /api/v1/tickets/{id}/attachments``: the list.
* ``GET /api/v1/tickets/{id}/attachments/{attachment_id}``: the file, always as a download
  (``Content-Disposition: attachment``, sanitized name, ``application/octet-stream``, ``nosniff``),
  so a stored HTML or SVG file is never rendered by the server's origin.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel
from sqlalchemy.orm import Session

from veo.config import Settings
from veo.server.addresses import client_address
from veo.server.api.params import RowId
from veo.server.api.schemas import error_responses
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep
from veo.server.errors import ApiError
from veo.server.files import service
from veo.server.files.models import TicketAttachment
from veo.server.lang import _
from veo.server.policies.service import policy_for_user
from veo.server.sessions.access import load_for

router = APIRouter(prefix="/api/v1", tags=["tickets"])


class AttachmentOut(BaseModel):
    id: int
    ticket_id: int
    session_id: str | None
    name: str
    size: int
    sha256: str
    uploaded_by: str | None
    created_at: datetime
    url: str


def _out(row: TicketAttachment) -> AttachmentOut:
    return AttachmentOut(
        id=row.id,
        ticket_id=row.ticket_id,
        session_id=row.session_id,
        name=row.name,
        size=row.size,
        sha256=row.sha256,
        uploaded_by=row.uploader.name if row.uploader else None,
        created_at=row.created_at,
        url=f"/api/v1/tickets/{row.ticket_id}/attachments/{row.id}",
    )


def _directory(request: Request) -> Path:
    settings: Settings = request.app.state.settings
    return service.attachments_dir(settings.data_dir)


def _declared_length(request: Request) -> int | None:
    value = request.headers.get("content-length")
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


@router.post(
    "/tickets/{ticket_id}/attachments",
    response_model=AttachmentOut,
    status_code=201,
    responses=error_responses(401, 403, 404, 413, 422),
)
async def upload(
    ticket_id: RowId,
    request: Request,
    user: CurrentUser,
    db: DatabaseDep,
    name: Annotated[str, Query(min_length=1, max_length=255)],
    session_id: Annotated[str | None, Query(max_length=36)] = None,
) -> AttachmentOut:
    """Attach the request body as a file to the ticket (the body is the file, nothing else)."""

    def check(s: Session) -> int:
        service.check_ticket(s, ticket_id)
        if session_id is not None:
            session = load_for(s, session_id, user, write=True)
            if session.ticket_id != ticket_id:
                raise ApiError(422, "invalid_request", _("This session belongs to another ticket."))
        return policy_for_user(s, user).max_file_bytes

    limit = await db.run(check)
    declared = _declared_length(request)
    if declared is not None and declared > limit:
        raise service.too_large(limit)
    stored = await service.store_stream(request.stream(), _directory(request), limit)
    address = client_address(request)

    def work(s: Session) -> AttachmentOut:
        row = service.add(s, ticket_id, stored, name, user=user, session_id=session_id, address=address)
        return _out(row)

    try:
        return await db.run(work)
    except BaseException:
        await anyio.Path(stored.path).unlink(missing_ok=True)
        raise


@router.get(
    "/tickets/{ticket_id}/attachments",
    response_model=list[AttachmentOut],
    responses=error_responses(401, 403, 404),
)
async def list_attachments(ticket_id: RowId, user: CurrentUser, db: DatabaseDep) -> list[AttachmentOut]:
    def work(s: Session) -> list[AttachmentOut]:
        service.check_ticket(s, ticket_id)
        return [_out(row) for row in service.list_for(s, ticket_id)]

    return await db.run(work)


@router.get(
    "/tickets/{ticket_id}/attachments/{attachment_id}",
    response_class=FileResponse,
    responses=error_responses(401, 403, 404),
)
async def download(
    ticket_id: RowId, attachment_id: RowId, request: Request, user: CurrentUser, db: DatabaseDep
) -> FileResponse:
    """The file as a download, under its sanitized name."""
    row = await db.run(lambda s: service.get(s, ticket_id, attachment_id))
    path = _directory(request) / row.storage_key
    if not await anyio.Path(path).is_file():
        raise ApiError(404, "attachment_missing", _("The attachment's file is missing on the server."))
    return FileResponse(
        path,
        media_type="application/octet-stream",
        filename=row.name,
        content_disposition_type="attachment",
    )
