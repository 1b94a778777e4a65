"""Sign-in housekeeping, off the sign-in path: stale counters and refusal summaries, every 30 s.

Two chores keep the sign-in limits' state small: counters that neither block nor count any more
are dropped (``limits.forget_stale``: unknown e-mails would pile up), and the refused sign-ins
counted in windows that closed are written as their summary rows (``sign_in_refusals.write_due``).
Neither needs to happen inside a sign-in attempt, whose transaction holds the SQLite write gate
(``login._counters``): so one task per server process does both every :data:`INTERVAL_SECONDS`,
and writes every open summary at shutdown. A summary therefore appears up to one interval after
its window closed.
"""

from __future__ import annotations

import asyncio
import logging

import anyio
from fastapi import FastAPI
from sqlalchemy.orm import Session

from veo.server.auth import limits, sign_in_refusals
from veo.server.db.base import utcnow
from veo.server.db.engine import Database
from veo.server.db.unavailable import log_failure
from veo.tasks import spawn

log = logging.getLogger(__name__)
INTERVAL_SECONDS = 30.0


async def tidy(database: Database, *, everything: bool = False) -> None:
    """One pass: drop stale counters, write the due summaries (all of them with ``everything``)."""

    def forget(s: Session) -> None:
        limits.forget_stale(s, utcnow())

    try:
        await database.run(forget)
    except Exception as exc:
        log_failure(log, "dropping stale sign-in counters", exc)
    try:
        await database.run(lambda s: sign_in_refusals.write_due(s, database, everything=everything))
    except Exception as exc:
        log_failure(log, "writing the summary of refused sign-ins", exc)


def install(app: FastAPI) -> None:
    """Run :func:`tidy` for the app's database while it serves, and once more at shutdown."""
    database: Database = app.state.db
    running: list[asyncio.Task[None]] = []

    async def every_interval() -> None:
        while True:
            await anyio.sleep(INTERVAL_SECONDS)
            await tidy(database)

    async def start() -> None:
        running.append(spawn(every_interval(), name="veo-sign-in-housekeeping"))

    async def stop() -> None:
        for task in running:
            task.cancel()
        await asyncio.gather(*running, return_exceptions=True)
        running.clear()
        await tidy(database, everything=True)

    app.state.startup_hooks.append(start)
    app.state.shutdown_hooks.append(stop)
