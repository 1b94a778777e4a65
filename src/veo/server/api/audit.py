"""``GET /api/v1/audit``: read the audit log, filtered by ticket, session or action (newest last)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from veo.server.api.schemas import error_responses
from veo.server.audit.models import AuditEvent
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
    ticket_id: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
    session_id: Annotated[str | None, Query(max_length=36)] = None,
    action: Annotated[str | None, Query(max_length=80)] = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AuditPageOut:
    def work(s: Session) -> AuditPageOut:
        query = select(AuditEvent)
        if ticket_id is not None:
            query = query.where(AuditEvent.ticket_id == ticket_id)
        if session_id is not None:
            query = query.where(AuditEvent.session_id == session_id)
        if action is not None:
            query = query.where(AuditEvent.action == action)
        total = s.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = s.scalars(query.order_by(AuditEvent.seq).offset((page - 1) * per_page).limit(per_page))
        items = [AuditEventOut.model_validate(row) for row in rows]
        return AuditPageOut(items=items, total=total, page=page, per_page=per_page)

    return await db.run(work)
