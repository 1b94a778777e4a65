"""Liveness, readiness and metrics for orchestrators and Prometheus.

``/healthz`` only says the process answers; ``/readyz`` checks what a request needs (the database
and, when present, the bus) and names the part that failed, so an operator knows where to look.
Both are open: they say nothing a stranger could use. ``/metrics`` is not: its counters show how
many sign-ins and joins fail, by route and status, which tells an attacker how their guessing
fares and when nobody watches. It answers the bearer token ``VEO_METRICS_TOKEN`` (what Prometheus'
``authorization`` setting sends) or a signed-in administrator, and 401 to anyone else.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy import func, select

from veo.config import Settings
from veo.server import metrics
from veo.server.auth.deps import admin_user, identify
from veo.server.db.engine import Database
from veo.server.db.unavailable import first_line, is_unavailable
from veo.server.errors import ApiError
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
    problems: dict[str, BaseException] = {}
    db: Database = request.app.state.db
    try:
        await db.run(lambda s: s.execute(select(1)).scalar_one())
    except Exception as exc:
        problems["database"] = exc
    bus = getattr(request.app.state, "bus", None)
    if bus is not None:
        try:
            await bus.ping()
        except Exception as exc:
            problems["bus"] = exc
    _log_changes(request.app.state, problems)
    failed = list(problems)
    if failed:
        names = {"database": _("the database"), "bus": _("the message bus (Redis)")}
        parts = ", ".join(names.get(part, part) for part in failed)  # ``failed`` stays the fixed codes
        message = _("Not ready: %(parts)s unreachable.") % {"parts": parts}
        return JSONResponse({"code": "not_ready", "message": message, "failed": failed}, status_code=503)
    return JSONResponse({"status": "ready"})


def _log_changes(state: Any, problems: dict[str, BaseException]) -> None:
    """One line when a part stops answering and one when it is back, not one per check.

    HAProxy asks every node every second and Docker every few seconds: a Redis outage would
    otherwise write a line (or a trace) per second per node. Only a database failure that is
    no outage (``is_unavailable`` says no: a bug) keeps its trace, once.
    """
    before: frozenset[str] = getattr(state, "readiness_failed", frozenset())
    for part, exc in problems.items():
        if part in before:
            continue
        if part == "database" and not is_unavailable(exc):
            log.error("readiness: the database check failed", exc_info=exc)
        else:
            log.warning("readiness: %s unreachable: %s", part, first_line(exc))
    for part in sorted(before - problems.keys()):
        log.info("readiness: %s answers again", part)
    state.readiness_failed = frozenset(problems)


def _bearer_is_metrics_token(request: Request, token: str | None) -> bool:
    if not token:
        return False
    scheme, _sep, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


async def metrics_reader(request: Request) -> None:
    """Prometheus with ``VEO_METRICS_TOKEN``, or an administrator (session cookie or API token)."""
    settings: Settings = request.app.state.settings
    if _bearer_is_metrics_token(request, settings.metrics_token):
        return
    if (await identify(request)).user is None:
        raise ApiError(401, "not_authenticated", _("Send the metrics token or sign in as an administrator."))
    await admin_user(request)


@router.get("/metrics", dependencies=[Depends(metrics_reader)])
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
