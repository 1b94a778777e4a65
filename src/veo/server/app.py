"""The ASGI application: ``create_app(settings)`` wires settings, database, routes and safeguards.

Start-up migrates the database to the newest schema (creating the data directory first), so
``veo server`` on an empty machine just works. Other parts hook in through
``veo.server.sessions.routes.install(app)`` and, for work at start or stop, by appending
coroutine functions to ``app.state.startup_hooks`` / ``app.state.shutdown_hooks``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import anyio.to_thread
from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from veo import __version__
from veo.config import Settings
from veo.server import accesslog, handlers
from veo.server.api import audit as api_audit
from veo.server.api import auth as api_auth
from veo.server.api import health
from veo.server.api import tickets as api_tickets
from veo.server.audit import keys as audit_keys
from veo.server.audit import pages as audit_pages
from veo.server.auth import account_pages, admin_pages, housekeeping, totp_seal
from veo.server.auth import api as api_accounts
from veo.server.auth import pages as auth_pages
from veo.server.auth.cookies import cookie_secure
from veo.server.categories import api as api_categories
from veo.server.categories import pages as category_pages
from veo.server.db.engine import Database
from veo.server.db.migrate import migrate
from veo.server.devices import api as device_api
from veo.server.devices import pages as device_pages
from veo.server.devices import routes as device_routes
from veo.server.downloads import pages as download_pages
from veo.server.files import api as api_files
from veo.server.middleware import VeoMiddleware
from veo.server.notify import routes as notify_routes
from veo.server.proxies import TrustedProxies
from veo.server.reports import api as api_reports
from veo.server.reports import pages as report_pages
from veo.server.sessions import routes as session_routes
from veo.server.tickets import pages as ticket_pages

log = logging.getLogger(__name__)
STATIC_DIR = Path(__file__).parent / "web" / "static"
Hook = Callable[[], Awaitable[None]]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    db: Database = app.state.db
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    await anyio.to_thread.run_sync(migrate, db.url, settings.data_dir)
    log.info("database ready at %s", db.engine.url.render_as_string(hide_password=True))
    if settings.public_url.startswith("http://") and cookie_secure(settings):
        log.warning(
            "VEO_PUBLIC_URL %s is plain http: browsers will drop the Secure session cookie, so nobody "
            "can sign in. Serve https, or set VEO_SECURE_COOKIES=false on a trusted network.",
            settings.public_url,
        )
    hooks: list[Hook] = app.state.startup_hooks
    for hook in hooks:
        await hook()
    try:
        yield
    finally:
        stop_hooks: list[Hook] = app.state.shutdown_hooks
        for hook in reversed(stop_hooks):
            try:
                await hook()
            except Exception:
                log.exception("shutdown hook failed")
        db.dispose()


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    app = FastAPI(
        title="veo",
        version=__version__,
        description="Self-hosted remote technical support: tickets, remote sessions, audit log.",
        openapi_url="/api/v1/openapi.json",
        docs_url=None,  # Swagger UI would load scripts from a CDN: the schema is enough
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.db = Database(settings.effective_database_url)
    app.state.startup_hooks = []
    app.state.shutdown_hooks = []
    totp_seal.use(settings.data_dir)  # TOTP secrets are sealed with the data directory's key
    # the audit signing key too, at start like the other two key files (not at the first
    # checkpoint): a first node's data directory then holds all three when the operator copies
    # keys/ and audit/ to the other nodes (docs/deploy.md), so every node signs with one key
    audit_keys.load_or_create(audit_keys.key_dir(settings.data_dir))
    handlers.install(app)
    accesslog.install()  # join codes and tokens never reach Uvicorn's access log
    app.add_middleware(VeoMiddleware, settings=settings)
    # outermost: every later layer, route and Uvicorn's access log see the client it names
    app.add_middleware(
        TrustedProxies, networks=settings.trusted_networks, header=settings.trusted_proxy_header
    )
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(health.router)
    app.include_router(auth_pages.router)
    app.include_router(account_pages.router)
    app.include_router(admin_pages.router)
    app.include_router(api_accounts.account_router)
    app.include_router(api_accounts.admin_router)
    app.include_router(ticket_pages.router)
    app.include_router(api_auth.router)
    app.include_router(api_tickets.router)
    app.include_router(category_pages.router)
    app.include_router(api_categories.router)
    app.include_router(api_audit.router)
    app.include_router(report_pages.router)
    app.include_router(api_reports.router)
    app.include_router(api_files.router)
    app.include_router(download_pages.router)
    app.include_router(device_pages.router)
    app.add_exception_handler(download_pages.DownloadRefused, download_pages.refused)  # type: ignore[arg-type]
    audit_pages.install(app)
    housekeeping.install(app)
    session_routes.install(app)
    device_routes.install(app)  # rides on the session hub: after it
    notify_routes.install(app)
    device_api.install(app)
    return app
