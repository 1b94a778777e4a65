"""Liveness, readiness and metrics for orchestrators and Prometheus (no authentication, no secrets).

``/healthz`` only says the process answers; ``/readyz`` checks what a request needs (the database
and, when present, the bus) and names the part that failed, so an operator knows where to look.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from veo.server import metrics
from veo.server.db.engine import Database
from veo.server.lang import _
from veo.server.sessions.models import RemoteSession

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
LIVE_STATUSES = ("joined", "connecting", "active")


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> Response:
    failed: list[str] = []
    db: Database = request.app.state.db
    try:
        await db.run(lambda s: s.execute(select(1)).scalar_one())
    except Exception:
        log.exception("readiness: database check failed")
        failed.append("database")
    bus = getattr(request.app.state, "bus", None)
    if bus is not None:
        try:
            await bus.ping()
        except Exception:
            log.exception("readiness: bus check failed")
            failed.append("bus")
    if failed:
        message = _("Not ready: %(parts)s unreachable.") % {"parts": ", ".join(failed)}
        return JSONResponse({"code": "not_ready", "message": message, "failed": failed}, status_code=503)
    return JSONResponse({"status": "ready"})


@router.get("/metrics")
async def metrics_page(request: Request) -> Response:
    db: Database = request.app.state.db
    try:
        live = await db.run(
            lambda s: s.scalar(
                select(func.count()).select_from(RemoteSession).where(RemoteSession.status.in_(LIVE_STATUSES))
            )
        )
        metrics.ACTIVE_SESSIONS.set(live or 0)
    except Exception:
        log.exception("metrics: could not count active sessions")
    return Response(metrics.exposition(), media_type=metrics.CONTENT_TYPE)
