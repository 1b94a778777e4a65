"""``GET /api/v1/audit``: read the audit log with the page's filters (oldest first).

Admins and leads read everything; any other technician must name a ticket or a remote session
(the trail the ticket page already shows them), else 403.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy.orm import Session

from veo.server.api.params import Printable, RowId
from veo.server.api.schemas import error_responses
from veo.server.audit import query as audit_query
from veo.server.audit.deps import as_utc, forbidden
from veo.server.auth.deps import CurrentUser
from veo.server.db.deps import DatabaseDep

router = APIRouter(prefix="/api/v1/audit", tags=["audit"], responses=error_responses(401, 403, 422))


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    seq: int
    at: datetime
    actor: str
    action: str
    ticket_id: int | None
    session_id: str | None
    address: str
    details: dict[str, Any]
    hash: str


class AuditPageOut(BaseModel):
    items: list[AuditEventOut]
    total: int
    page: int
    per_page: int


@router.get("", response_model=AuditPageOut)
async def list_events(
    user: CurrentUser,
    db: DatabaseDep,
    ticket_id: RowId | None = None,
    session_id: Annotated[Printable | None, Query(max_length=36)] = None,
    action: Annotated[Printable | None, Query(max_length=80)] = None,
    actor: Annotated[Printable | None, Query(max_length=320)] = None,
    since: Annotated[datetime | None, Query(description="From this time on (inclusive).")] = None,
    until: Annotated[datetime | None, Query(description="Before this time (exclusive).")] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPageOut:
    where = audit_query.AuditFilter(
        action=action or None,
        actor=actor or None,
        ticket_id=ticket_id,
        session_id=session_id or None,
        since=as_utc(since, "since"),
        until=as_utc(until, "until"),
    )
    if not audit_query.may_read_everything(user.role) and not where.scoped:
        raise forbidden()

    def work(s: Session) -> AuditPageOut:
        found = audit_query.find(s, where, page=page, per_page=per_page, newest_first=False)
        items = [AuditEventOut.model_validate(row) for row in found.items]
        return AuditPageOut(items=items, total=found.total, page=page, per_page=per_page)

    return await db.run(work)
