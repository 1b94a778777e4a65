"""A real veo server on a free loopback port, for the tests that drive it with a browser.

The browser tests of the ticket pages, the join page and the reports each started uvicorn on a
socket of their own with the same dozen lines; this is that one place. The caller still waits for
the first page (the app migrates its database on startup) before it writes to the database.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import uvicorn
from fastapi import FastAPI
from playwright.async_api import Page
from tests.sqlite_template import migrated_sqlite

from veo.config import Settings
from veo.server.app import create_app
from veo.tasks import spawn


@asynccontextmanager
async def serving(tmp_path: Path, name: str, **settings: Any) -> AsyncIterator[tuple[str, FastAPI]]:
    """``(base_url, app)`` of a server on SQLite under ``tmp_path`` (a copy of the migrated template,
    ``tests/sqlite_template.py``); ``settings`` add to its Settings.

    The app exists before the server answers, so a test may still swap a part of it (a limiter).
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
    app = create_app(
        Settings(
            data_dir=tmp_path / "data",
            database_url=migrated_sqlite(tmp_path / "veo.db"),
            public_url=base_url,
            **settings,
        )
    )
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    task = spawn(server.serve(sockets=[sock]), name=name)
    try:
        yield base_url, app
    finally:
        server.should_exit = True
        await task
        sock.close()


async def sign_in(page: Page, email: str, password: str) -> None:
    """Fill and send the sign-in form on the page showing it; wait until a page names the account."""
    await page.fill("input[name=email]", email)
    await page.fill("input[name=password]", password)
    await page.click("form[action='/login'] [type=submit]")
    await page.wait_for_selector("#user-name")
