"""Wire notifications into the app: ``install(app)`` mounts the routes and runs the worker."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI

from veo.config import Settings
from veo.server.db.engine import Database
from veo.server.notify import api, pages
from veo.server.notify.status import delivery_label, error_text
from veo.server.notify.worker import OutboxWorker
from veo.server.web.templating import environment

router = APIRouter()
router.include_router(api.router)
router.include_router(pages.router)


def install(app: FastAPI) -> None:
    """Create ``app.state.outbox_worker`` (started and stopped with the app) and mount the routes."""
    settings: Settings = app.state.settings
    db: Database = app.state.db
    worker = OutboxWorker(db, settings)
    app.state.outbox_worker = worker
    app.state.startup_hooks.append(worker.start)
    app.state.shutdown_hooks.append(worker.stop)
    environment.globals["delivery_label"] = delivery_label
    environment.globals["delivery_error"] = error_text
    app.include_router(router)
