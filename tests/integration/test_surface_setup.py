"""First-run set-up cannot be reached again, and no route makes an administrator without one.

There is no web set-up wizard (the classic hole: a wizard still reachable after installation).
``veo admin init`` creates the first administrator only on a database without any account; any
later run, whoever runs it, creates nothing. Over HTTP, only a signed-in administrator reaches
the routes that create accounts or change roles.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support import make_user

from veo.server import admin
from veo.server.auth import service
from veo.server.auth.cookies import cookie_name
from veo.server.auth.models import User
from veo.server.db.engine import Database


def _count(db: Database, role: str | None = None) -> int:
    with db.session() as s:
        query = select(func.count()).select_from(User)
        if role is not None:
            query = query.where(User.role == role)
        return s.scalar(query) or 0


def _init(database_url: str, capsys: pytest.CaptureFixture[str]) -> str:
    assert admin.main(["--database-url", database_url, "init"]) == 0
    out, _err = capsys.readouterr()
    return out


def test_init_creates_the_first_admin_once_only(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _init(database_url, capsys)
    assert "admin@localhost" in first
    second = _init(database_url, capsys)
    assert "nothing changed" in second and "password" not in second.split("\n", 1)[0].lower()
    db = Database(database_url)
    try:
        assert _count(db) == _count(db, "admin") == 1
    finally:
        db.dispose()


def test_init_on_a_database_with_any_account_creates_nothing(
    database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    db = Database(database_url)
    try:
        make_user(db, "tech@example.org")  # e.g. the admin was deleted or demoted: no back door
        out = _init(database_url, capsys)
        assert "nothing changed" in out
        assert _count(db) == 1 and _count(db, "admin") == 0
    finally:
        db.dispose()


async def test_an_empty_server_creates_no_account_over_http(app: FastAPI, client: httpx.AsyncClient) -> None:
    body = {"email": "me@example.org", "name": "Me", "role": "admin"}
    assert (await client.post("/api/v1/admin/users", json=body)).status_code == 401
    form = await client.post("/admin/users", data=body)
    assert form.status_code in (303, 401, 403)
    assert form.status_code != 303 or form.headers["location"].startswith("/login")
    assert _count(app.state.db) == 0


@pytest.mark.parametrize("role", ["technician", "lead"])
async def test_no_route_lets_a_non_admin_make_an_admin(
    app: FastAPI, client: httpx.AsyncClient, role: str
) -> None:
    db: Database = app.state.db
    me = make_user(db, "me@example.org", role=role).user
    with db.session() as s:
        token, _expires = service.issue_api_token(s, me)
        cookie, web = service.start_web_session(s, me)
        csrf = web.csrf_token
    bearer = {"authorization": f"Bearer {token}"}
    client.cookies.set(cookie_name(app.state.settings), cookie)
    answers = [
        await client.post(
            "/api/v1/admin/users",
            json={"email": "x@example.org", "name": "X", "role": "admin"},
            headers=bearer,
        ),
        await client.patch(f"/api/v1/admin/users/{me.id}", json={"role": "admin"}, headers=bearer),
        await client.put(
            "/api/v1/admin/roles/technician",
            json={"capabilities": [], "totp_required": False, "identity_before_control": False},
            headers=bearer,
        ),
        await client.post(
            "/admin/users", data={"email": "y@example.org", "name": "Y", "role": "admin", "csrf_token": csrf}
        ),
        await client.post(f"/admin/users/{me.id}/role", data={"role": "admin", "csrf_token": csrf}),
    ]
    assert [a.status_code for a in answers] == [403] * len(answers), [a.text[:200] for a in answers]
    assert _count(db) == 1 and _count(db, "admin") == 0
