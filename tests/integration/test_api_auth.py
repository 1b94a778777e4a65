"""Sign-in, cookies, CSRF, forced password change, bearer tokens, and auth on every API route."""

from __future__ import annotations

import re

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import PASSWORD, api_token, csrf_from, login, make_user, signed_in

from veo.config import Settings
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.auth.cookies import cookie_name, cookie_secure

#: Routes under /api/v1 that are public on purpose: how to get a token, descriptions of the API, and
#: the user's rating, which carries a single-use token of its own (issued to the agent at join).
PUBLIC_API = {
    "/api/v1/auth/token",
    "/api/v1/openapi.json",
    "/api/v1/protocol.json",
    "/api/v1/sessions/{session_id}/rating",
    "/api/v1/enrol",  # authorised by its single-use enrolment token (tests/integration/devices)
}


def _actions(app: FastAPI) -> list[str]:
    with app.state.db.session() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


async def test_pages_redirect_to_login_with_next(client: httpx.AsyncClient) -> None:
    response = await client.get("/tickets/new")
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=%2Ftickets%2Fnew"


async def test_login_form_has_fields(client: httpx.AsyncClient) -> None:
    page = await client.get("/login")
    assert page.status_code == 200
    for marker in ('name="email"', 'name="password"', 'type="submit"'):
        assert marker in page.text


async def test_login_success_sets_a_strict_httponly_cookie(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    response = await client.post(
        "/login", data={"email": "Tech@Example.org ", "password": PASSWORD, "next": "/tickets/new"}
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/tickets/new"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("veo_session=")
    assert "HttpOnly" in cookie and "samesite=strict" in cookie.lower() and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on 127.0.0.1: a Secure cookie would never come back
    assert (await client.get("/tickets")).status_code == 200
    assert _actions(app)[-1] == "auth.login"


async def test_login_failure_is_generic_and_audited(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    wrong = await client.post("/login", data={"email": "tech@example.org", "password": "not the password"})
    unknown = await client.post("/login", data={"email": "nobody@example.org", "password": "whatever pass"})
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong e-mail or password." in wrong.text and "Wrong e-mail or password." in unknown.text
    assert "set-cookie" not in wrong.headers or "veo_session" not in wrong.headers["set-cookie"]
    assert _actions(app)[-2:] == ["auth.login_failed", "auth.login_failed"]


def test_cookie_is_host_prefixed_and_secure_behind_https() -> None:
    settings = Settings(public_url="https://support.example.org")
    assert cookie_name(settings) == "__Host-veo_session"
    assert cookie_secure(settings)
    assert cookie_secure(Settings(public_url="http://127.0.0.1:8000", secure_cookies=True))
    assert not cookie_secure(Settings(public_url="http://localhost:8000"))
    assert cookie_secure(Settings(public_url="http://support.example.org"))
    assert not cookie_secure(Settings(public_url="http://10.0.0.2:8000", secure_cookies=False))


async def test_form_post_without_csrf_is_rejected(app: FastAPI, client: httpx.AsyncClient) -> None:
    await signed_in(app, client)
    response = await client.post("/tickets/new", data={"title": "x", "requester_name": "b"})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
    bad = await client.post("/tickets/new", data={"title": "x", "csrf_token": "forged"})
    assert bad.status_code == 403


async def test_logout_ends_the_session(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    response = await client.post("/logout", data={"csrf_token": csrf})
    assert response.status_code == 303
    assert (await client.get("/tickets")).status_code == 303
    assert "auth.logout" in _actions(app)


async def test_one_time_password_must_be_changed(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db, "new@example.org", password="one-time password 1", must_change_password=True)
    response = await client.post(
        "/login", data={"email": "new@example.org", "password": "one-time password 1"}
    )
    assert response.headers["location"].startswith("/account/password")
    blocked = await client.get("/tickets")
    assert blocked.status_code == 303 and blocked.headers["location"].startswith("/account/password")
    form = await client.get("/account/password")
    csrf = csrf_from(form.text)
    short = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": "one-time password 1",
            "new_password": "short",
            "confirm_password": "short",
        },
    )
    assert short.status_code == 422 and "at least 12 characters" in short.text
    done = await client.post(
        "/account/password",
        data={
            "csrf_token": csrf,
            "current_password": "one-time password 1",
            "new_password": "my own long password",
            "confirm_password": "my own long password",
        },
    )
    assert done.status_code == 303
    assert (await client.get("/tickets")).status_code == 200
    client.cookies.clear()
    await login(client, "new@example.org", "my own long password")


async def test_api_token_flow(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    bad = await client.post("/api/v1/auth/token", json={"email": "tech@example.org", "password": "nope"})
    assert bad.status_code == 401 and bad.json()["code"] == "invalid_credentials"
    response = await client.post(
        "/api/v1/auth/token", json={"email": "tech@example.org", "password": PASSWORD}
    )
    body = response.json()
    assert response.status_code == 200 and body["token_type"] == "bearer" and body["expires_at"]
    listed = await client.get("/api/v1/tickets", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert listed.status_code == 200
    forged = await client.get("/api/v1/tickets", headers={"Authorization": "Bearer forged"})
    assert forged.status_code == 401 and forged.json()["code"] == "not_authenticated"


async def test_every_api_route_needs_auth(app: FastAPI, client: httpx.AsyncClient) -> None:
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if not path.startswith("/api/v1") or path in PUBLIC_API:
            continue
        concrete = re.sub(r"\{[^}]+\}", "1", path)  # any value: authentication comes first
        for method in operations:
            response = await client.request(method.upper(), concrete, json={})
            assert response.status_code == 401, (method, path, response.text)
            assert response.json()["code"] == "not_authenticated"
            checked += 1
    assert checked >= 4


@pytest.mark.parametrize("public_url", ["https://support.example.org"])
async def test_https_deployment_uses_host_cookie(
    public_url: str, database_url: str, tmp_path: object
) -> None:
    app = create_app(Settings(data_dir=f"{tmp_path}/d", database_url=database_url, public_url=public_url))
    async with app.router.lifespan_context(app):
        make_user(app.state.db)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url=public_url) as client:
            response = await client.post("/login", data={"email": "tech@example.org", "password": PASSWORD})
            cookie = response.headers["set-cookie"]
            assert cookie.startswith("__Host-veo_session=") and "Secure" in cookie
            headers = await api_token(client, "tech@example.org")
            assert (await client.get("/api/v1/tickets", headers=headers)).status_code == 200


async def test_login_from_another_site_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    form = {"email": "tech@example.org", "password": PASSWORD}
    forged = await client.post("/login", data=form, headers={"origin": "https://evil.example"})
    assert forged.status_code == 403 and "veo_session" not in forged.headers.get("set-cookie", "")
    same = await client.post("/login", data=form, headers={"origin": "http://127.0.0.1:8000"})
    assert same.status_code == 303
