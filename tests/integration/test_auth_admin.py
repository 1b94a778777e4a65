"""Admin-only pages and API, account changes (audited), and tokens held to their creator's rights."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import PASSWORD, api_token, csrf_from, login, make_user

from veo.server.audit.models import AuditEvent
from veo.server.auth import service, totp
from veo.server.auth.models import User
from veo.server.db.base import utcnow

ADMIN_GETS = ["/admin/users", "/admin/roles"]
ADMIN_POSTS = [
    "/admin/users",
    "/admin/users/1/role",
    "/admin/users/1/active",
    "/admin/users/1/reset-totp",
    "/admin/roles/technician",
]
ADMIN_API = [
    ("GET", "/api/v1/admin/users"),
    ("POST", "/api/v1/admin/users"),
    ("PATCH", "/api/v1/admin/users/1"),
    ("POST", "/api/v1/admin/users/1/reset-totp"),
    ("GET", "/api/v1/admin/roles"),
    ("PUT", "/api/v1/admin/roles/technician"),
]


def _events(app: FastAPI, action: str) -> list[AuditEvent]:
    with app.state.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def _user_id(app: FastAPI, email: str) -> int:
    with app.state.db.session() as s:
        found: int | None = s.scalar(select(User.id).where(User.email == email))
    assert found is not None
    return found


async def admin_headers(
    app: FastAPI, client: httpx.AsyncClient, email: str = "root@example.org"
) -> dict[str, str]:
    """An enrolled administrator's bearer token."""
    make_user(app.state.db, email, name="Ada Admin", role="admin")
    with app.state.db.session() as s:
        user = service.get_by_email(s, email)
        assert user is not None
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
    response = await client.post(
        "/api/v1/auth/token", json={"email": email, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@pytest.mark.parametrize("role", ["technician", "lead"])
async def test_non_admins_get_403_forbidden_on_admin_pages_and_api(
    app: FastAPI, client: httpx.AsyncClient, role: str
) -> None:
    make_user(app.state.db, role=role)
    csrf = await login(client, "tech@example.org")
    for path in ADMIN_GETS:
        page = await client.get(path)
        assert page.status_code == 403 and page.json()["code"] == "forbidden", path
    for path in ADMIN_POSTS:
        post = await client.post(path, data={"csrf_token": csrf, "role": "admin", "active": "no"})
        assert post.status_code == 403 and post.json()["code"] == "forbidden", path
    headers = await api_token(client, "tech@example.org")
    for method, path in ADMIN_API:
        response = await client.request(method, path, headers=headers, json={})
        assert response.status_code == 403, (method, path, response.text)
        assert response.json()["code"] == "forbidden"
    assert 'href="/admin/users"' not in (await client.get("/tickets")).text


async def test_admin_api_without_credentials_is_401(client: httpx.AsyncClient) -> None:
    for method, path in ADMIN_API:
        response = await client.request(method, path, json={})
        assert response.status_code == 401, (method, path)


async def test_admin_creates_changes_and_deactivates_users_audited(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await admin_headers(app, client)
    created = await client.post(
        "/api/v1/admin/users",
        headers=headers,
        json={"email": "Lea@Example.org", "name": "Lea", "role": "lead"},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["user"]["email"] == "lea@example.org" and len(body["one_time_password"]) >= 12
    duplicate = await client.post(
        "/api/v1/admin/users", headers=headers, json={"email": "lea@example.org", "name": "L", "role": "lead"}
    )
    assert duplicate.status_code == 422 and "email" in duplicate.json()["message"]
    bad_role = await client.post(
        "/api/v1/admin/users", headers=headers, json={"email": "x@example.org", "name": "X", "role": "owner"}
    )
    assert bad_role.status_code == 422 and "role" in bad_role.json()["message"]
    lea = body["user"]["id"]
    changed = await client.patch(f"/api/v1/admin/users/{lea}", headers=headers, json={"role": "technician"})
    assert changed.status_code == 200 and changed.json()["role"] == "technician"
    off = await client.patch(f"/api/v1/admin/users/{lea}", headers=headers, json={"is_active": False})
    assert off.status_code == 200 and off.json()["is_active"] is False
    missing = await client.patch("/api/v1/admin/users/999999", headers=headers, json={"role": "lead"})
    assert missing.status_code == 404 and missing.json()["code"] == "not_found"
    listed = await client.get("/api/v1/admin/users", headers=headers)
    assert [u["email"] for u in listed.json()] == ["lea@example.org", "root@example.org"]
    assert _events(app, "user.created")[-1].actor == "root@example.org"
    role_event = _events(app, "user.role_changed")[0]
    assert role_event.details == {"user": "lea@example.org", "before": "lead", "after": "technician"}
    assert _events(app, "user.deactivated")[0].details == {"user": "lea@example.org"}


async def test_the_last_admin_cannot_be_removed(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await admin_headers(app, client)
    me = _user_id(app, "root@example.org")
    for change in ({"role": "lead"}, {"is_active": False}):
        response = await client.patch(f"/api/v1/admin/users/{me}", headers=headers, json=change)
        assert response.status_code == 409 and response.json()["code"] == "last_admin"
    with app.state.db.session() as s:
        user = s.get(User, me)
        assert user is not None and user.role == "admin" and user.is_active


async def test_tokens_follow_their_creator_now(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await admin_headers(app, client)
    second = await admin_headers(app, client, "boss@example.org")
    boss = _user_id(app, "boss@example.org")
    assert (await client.get("/api/v1/admin/users", headers=second)).status_code == 200
    demoted = await client.patch(f"/api/v1/admin/users/{boss}", headers=admin, json={"role": "lead"})
    assert demoted.status_code == 200
    after = await client.get("/api/v1/admin/users", headers=second)
    assert after.status_code == 403 and after.json()["code"] == "forbidden"
    assert (await client.get("/api/v1/tickets", headers=second)).status_code == 200, "still a lead"
    await client.patch(f"/api/v1/admin/users/{boss}", headers=admin, json={"is_active": False})
    dead = await client.get("/api/v1/tickets", headers=second)
    assert dead.status_code == 401
    await client.patch(f"/api/v1/admin/users/{boss}", headers=admin, json={"is_active": True})
    assert (await client.get("/api/v1/tickets", headers=second)).status_code == 401, "deactivation ended it"


async def test_deactivated_user_cannot_sign_in(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = await admin_headers(app, client)
    make_user(app.state.db)
    await client.patch(
        f"/api/v1/admin/users/{_user_id(app, 'tech@example.org')}", headers=admin, json={"is_active": False}
    )
    response = await client.post("/login", data={"email": "tech@example.org", "password": PASSWORD})
    assert response.status_code == 401


async def test_admin_users_page_forms(app: FastAPI, client: httpx.AsyncClient) -> None:
    await admin_headers(app, client)
    make_user(app.state.db)
    # Sign the admin in through the browser: password, then a fresh code (the token used the current one).
    with app.state.db.session() as s:
        user = service.get_by_email(s, "root@example.org")
        assert user is not None
        totp.reset(s, user, actor="test")
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
    await client.post("/login", data={"email": "root@example.org", "password": PASSWORD})
    signed = await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert signed.status_code == 303
    page = await client.get("/admin/users")
    assert page.status_code == 200 and "tech@example.org" in page.text and 'href="/admin/users"' in page.text
    csrf = csrf_from(page.text)
    tech = _user_id(app, "tech@example.org")
    no_csrf = await client.post(f"/admin/users/{tech}/role", data={"role": "lead"})
    assert no_csrf.status_code == 403 and no_csrf.json()["code"] == "csrf_failed"
    moved = await client.post(f"/admin/users/{tech}/role", data={"csrf_token": csrf, "role": "lead"})
    assert moved.status_code == 303
    wrong = await client.post(f"/admin/users/{tech}/role", data={"csrf_token": csrf, "role": "owner"})
    assert wrong.status_code == 422 and 'id="admin-error"' in wrong.text
    created = await client.post(
        "/admin/users",
        data={"csrf_token": csrf, "email": "new@example.org", "name": "New", "role": "technician"},
    )
    assert created.status_code == 200 and 'id="one-time-password"' in created.text
    with app.state.db.session() as s:
        tech_user = s.get(User, tech)
        assert tech_user is not None
        totp.start_enrolment(s, tech_user)
        s.flush()
        earlier = utcnow() - timedelta(seconds=30)
        secret_row = totp.credential(s, tech_user)
        assert secret_row is not None
        code = pyotp.TOTP(totp.secret_of(secret_row) or "").at(earlier)
        assert totp.confirm_enrolment(s, tech_user, code, now=earlier)
    listed = await client.get("/admin/users")
    assert f'action="/admin/users/{tech}/reset-totp"' in listed.text
    reset = await client.post(f"/admin/users/{tech}/reset-totp", data={"csrf_token": csrf})
    assert reset.status_code == 303
    with app.state.db.session() as s:
        tech_user = s.get(User, tech)
        assert tech_user is not None and not totp.is_enrolled(s, tech_user)
    off = await client.post(f"/admin/users/{tech}/active", data={"csrf_token": csrf, "active": "no"})
    assert off.status_code == 303
    with app.state.db.session() as s:
        account = s.get(User, tech)
        assert account is not None and account.role == "lead" and not account.is_active
