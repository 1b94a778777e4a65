"""The audit page (``/audit``) and its CSV download (``/audit.csv``), for admins and leads.

Both read the same filters from the query string, so the "Download CSV" link is the page's own
address with ``.csv``: what you see filtered is what you get. ``install(app)`` also starts the
checkpoint signer for the app's database (``checkpoints.py``): configured at start-up, a quiet
tail signed once a minute, stopped at shut-down.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from functools import partial
from typing import Annotated, Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import Response, StreamingResponse

from veo.config import Settings
from veo.server.api.params import Printable, RowId
from veo.server.audit import checkpoints, keys
from veo.server.audit import query as audit_query
from veo.server.audit.deps import Auditor
from veo.server.db.deps import DatabaseDep
from veo.server.db.engine import Database
from veo.server.db.unavailable import first_line, is_unavailable
from veo.server.web.templating import render
from veo.tasks import spawn

router = APIRouter(include_in_schema=False)
log = logging.getLogger(__name__)
PER_PAGE = 50
SIGN_INTERVAL_SECONDS = 60.0

Text = Annotated[Printable, Query(max_length=320)]


def _filter(
    action: str, actor: str, ticket: int | None, session: str, since: date | None, until: date | None
) -> audit_query.AuditFilter:
    """Dates are whole UTC days: ``until`` includes its day."""
    return audit_query.AuditFilter(
        action=action.strip() or None,
        actor=actor.strip() or None,
        ticket_id=ticket,
        session_id=session.strip() or None,
        since=datetime.combine(since, time.min, UTC) if since else None,
        until=datetime.combine(until, time.min, UTC) + timedelta(days=1) if until else None,
    )


def _query_string(values: dict[str, Any]) -> str:
    return urlencode({k: v for k, v in values.items() if v not in (None, "")})


@router.get("/audit")
async def audit_page(
    request: Request,
    user: Auditor,
    db: DatabaseDep,
    action: Annotated[Printable, Query(max_length=80)] = "",
    actor: Text = "",
    ticket: RowId | None = None,
    session: Annotated[Printable, Query(max_length=36)] = "",
    since: date | None = None,
    until: date | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
) -> Response:
    where = _filter(action, actor, ticket, session, since, until)
    found, names = await db.run(
        lambda s: (
            audit_query.find(s, where, page=page, per_page=PER_PAGE, newest_first=True),
            audit_query.actions(s),
        )
    )
    values = {
        "action": action,
        "actor": actor,
        "ticket": ticket,
        "session": session,
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    base = _query_string(values)
    context = {
        "found": found,
        "values": values,
        "actions": names,
        "csv_url": "/audit.csv" + ("?" + base if base else ""),
        "page_url": "/audit?" + (base + "&" if base else "") + "page=",
    }
    return await render(request, "audit/list.html", context)


@router.get("/audit.csv")
async def audit_csv(
    user: Auditor,
    db: DatabaseDep,
    action: Annotated[Printable, Query(max_length=80)] = "",
    actor: Text = "",
    ticket: RowId | None = None,
    session: Annotated[Printable, Query(max_length=36)] = "",
    since: date | None = None,
    until: date | None = None,
) -> Response:
    where = _filter(action, actor, ticket, session, since, until)

    async def rows() -> AsyncIterator[str]:
        yield audit_query.csv_header()
        after = 0
        while True:
            batch = await db.run(partial(audit_query.batch_after, where=where, after_seq=after))
            if not batch:
                return
            yield audit_query.csv_rows(batch)
            after = batch[-1].seq

    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    headers = {"content-disposition": f'attachment; filename="veo-audit-{stamp}.csv"'}
    return StreamingResponse(rows(), media_type="text/csv; charset=utf-8", headers=headers)


def install(app: FastAPI) -> None:
    """Mount the pages and sign checkpoints for the app's database while it runs."""
    app.include_router(router)
    settings: Settings = app.state.settings
    db: Database = app.state.db
    tuning = checkpoints.CheckpointSettings()
    signer = checkpoints.Signer(
        key_directory=keys.key_dir(settings.data_dir),
        every_entries=tuning.checkpoint_entries,
        every_minutes=tuning.checkpoint_minutes,
    )
    running: list[asyncio.Task[None]] = []

    async def sign_quiet_tail() -> None:
        while True:
            await anyio.sleep(SIGN_INTERVAL_SECONDS)
            try:
                await db.run(lambda s: checkpoints.checkpoint_if_due(s, signer))
            except Exception as exc:
                if is_unavailable(exc):  # a database restart: one line a minute, not a trace
                    log.warning("audit checkpoint skipped: database unavailable: %s", first_line(exc))
                else:
                    log.exception("audit checkpoint failed; retrying in a minute")

    async def start() -> None:
        checkpoints.configure(db, signer)
        running.append(spawn(sign_quiet_tail(), name="audit-checkpoints"))

    async def stop() -> None:
        for task in running:
            task.cancel()
        running.clear()
        checkpoints.configure(db, None)

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
