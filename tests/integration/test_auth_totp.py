"""Two-factor sign-in end to end on SQLite and PostgreSQL: enrol, sign in, replay, recovery, reset."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import PASSWORD, csrf_from, login, make_user

from veo.config import Settings
from veo.server import admin as admin_cli
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.auth import service, totp
from veo.server.auth.models import RecoveryCode, TotpCredential, User
from veo.server.db.base import utcnow

_SECRET = re.compile(r'id="totp-secret" data-secret="([A-Z2-7]+)"')


def _actions(app: FastAPI) -> list[str]:
    with app.state.db.session() as s:
        return list(s.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)))


def enrol(app: FastAPI, email: str) -> tuple[str, list[str]]:
    """Enrol ``email`` directly, one step in the past, so the current code is still unused."""
    with app.state.db.session() as s:
        user = service.get_by_email(s, email)
        assert user is not None
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        codes = totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
    assert codes is not None
    return secret, codes


async def password_step(client: httpx.AsyncClient, email: str) -> httpx.Response:
    return await client.post("/login", data={"email": email, "password": PASSWORD, "next": "/tickets"})


async def test_enrolment_page_shows_a_qr_code_and_confirms_with_a_code(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db)
    await login(client, "tech@example.org")
    page = await client.get("/account/totp")
    assert page.status_code == 200
    # A standalone SVG (with its namespace), else Chromium cannot decode the data: URI at all.
    assert (
        'src="data:image/svg+xml;charset=utf-8,%3Csvg%20xmlns%3D%27http%3A%2F%2Fwww.w3.org%2F2000%2Fsvg%27'
        in page.text
    )
    match = _SECRET.search(page.text)
    assert match is not None
    secret = match.group(1)
    assert _SECRET.search((await client.get("/account/totp")).text).group(1) == secret  # type: ignore[union-attr]
    csrf = csrf_from(page.text)
    wrong = await client.post("/account/totp", data={"csrf_token": csrf, "code": "000000"})
    assert wrong.status_code == 422 and 'id="totp-error"' in wrong.text
    done = await client.post("/account/totp", data={"csrf_token": csrf, "code": pyotp.TOTP(secret).now()})
    assert done.status_code == 200
    codes = re.findall(r"<li><code>([a-z2-7]{5}-[a-z2-7]{5})</code></li>", done.text)
    assert len(set(codes)) == 10
    with app.state.db.session() as s:
        stored = list(s.scalars(select(RecoveryCode.code_hash)))
        assert len(stored) == 10 and not set(codes) & set(stored)  # only digests are stored
        row = s.scalar(select(TotpCredential))
        assert row is not None and row.confirmed_at is not None
    assert "auth.totp_enrolled" in _actions(app)
    again = await client.get("/account/totp")
    assert 'id="totp-enrolled"' in again.text and "totp-qr" not in again.text


async def test_sign_in_asks_for_the_code_and_refuses_a_replay(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db)
    secret, _codes = enrol(app, "tech@example.org")
    first = await password_step(client, "tech@example.org")
    assert first.status_code == 303 and first.headers["location"].startswith("/login/totp")
    assert "veo_login=" in first.headers["set-cookie"] and "veo_session" not in first.headers["set-cookie"]
    assert (await client.get("/tickets")).status_code == 303, "no session before the second factor"
    form = await client.get(first.headers["location"])
    assert form.status_code == 200 and 'name="code"' in form.text
    code = pyotp.TOTP(secret).now()
    bad = await client.post("/login/totp", data={"code": "123456" if code != "123456" else "654321"})
    assert bad.status_code == 401 and 'id="totp-error"' in bad.text
    ok = await client.post("/login/totp", data={"code": code, "next": "/tickets"})
    assert ok.status_code == 303 and ok.headers["location"] == "/tickets"
    assert (await client.get("/tickets")).status_code == 200
    # The same code again, from another browser, within its window: refused.
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=str(client.base_url)) as other:
        await password_step(other, "tech@example.org")
        replay = await other.post("/login/totp", data={"code": code})
        assert replay.status_code == 401
        assert (await other.get("/tickets")).status_code == 303
    assert _actions(app).count("auth.totp_failed") == 2


async def test_totp_step_without_a_pending_sign_in_goes_back_to_login(client: httpx.AsyncClient) -> None:
    response = await client.post("/login/totp", data={"code": "123456"})
    assert response.status_code == 303 and response.headers["location"].startswith("/login")


async def test_recovery_code_works_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    _secret, codes = enrol(app, "tech@example.org")
    await password_step(client, "tech@example.org")
    ok = await client.post("/login/totp", data={"code": codes[0].upper()})
    assert ok.status_code == 303
    await client.post("/logout", data={"csrf_token": csrf_from((await client.get("/tickets/new")).text)})
    await password_step(client, "tech@example.org")
    spent = await client.post("/login/totp", data={"code": codes[0]})
    assert spent.status_code == 401
    assert "auth.recovery_code_used" in _actions(app)


async def test_api_token_needs_the_code_when_enrolled(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    secret, _codes = enrol(app, "tech@example.org")
    body = {"email": "tech@example.org", "password": PASSWORD}
    missing = await client.post("/api/v1/auth/token", json=body)
    assert missing.status_code == 401 and missing.json()["code"] == "totp_required"
    wrong = await client.post("/api/v1/auth/token", json={**body, "totp": "000000"})
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_totp"
    code = pyotp.TOTP(secret).now()
    ok = await client.post("/api/v1/auth/token", json={**body, "totp": code})
    assert ok.status_code == 200, ok.text
    replay = await client.post("/api/v1/auth/token", json={**body, "totp": code})
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_totp"


async def test_admin_must_enrol_before_anything_else(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db, "root@example.org", role="admin")
    response = await password_step(client, "root@example.org")
    assert response.status_code == 303
    blocked = await client.get("/tickets")
    assert blocked.status_code == 303 and blocked.headers["location"].startswith("/account/totp?next=")
    page = await client.get(blocked.headers["location"])
    assert page.status_code == 200 and 'id="totp-required"' in page.text
    api = await client.get("/api/v1/tickets")
    assert api.status_code == 403 and api.json()["code"] == "totp_required"
    token = await client.post("/api/v1/auth/token", json={"email": "root@example.org", "password": PASSWORD})
    assert token.status_code == 403 and token.json()["code"] == "totp_required"
    secret = _SECRET.search(page.text).group(1)  # type: ignore[union-attr]
    csrf = csrf_from(page.text)
    done = await client.post(
        "/account/totp", data={"csrf_token": csrf, "code": pyotp.TOTP(secret).now(), "next": "/tickets"}
    )
    assert done.status_code == 200 and 'href="/tickets"' in done.text
    assert (await client.get("/tickets")).status_code == 200


async def test_admin_resets_totp_from_the_api_and_the_cli(
    app: FastAPI, client: httpx.AsyncClient, database_url: str
) -> None:
    make_user(app.state.db, "root@example.org", role="admin")
    make_user(app.state.db)
    admin_secret, _ = enrol(app, "root@example.org")
    enrol(app, "tech@example.org")
    token = await client.post(
        "/api/v1/auth/token",
        json={"email": "root@example.org", "password": PASSWORD, "totp": pyotp.TOTP(admin_secret).now()},
    )
    headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
    with app.state.db.session() as s:
        tech_id = s.scalar(select(User.id).where(User.email == "tech@example.org"))
    reset = await client.post(f"/api/v1/admin/users/{tech_id}/reset-totp", headers=headers)
    assert reset.status_code == 200 and reset.json()["totp_enrolled"] is False
    with app.state.db.session() as s:
        assert s.scalar(select(TotpCredential).where(TotpCredential.user_id == tech_id)) is None
        assert not list(s.scalars(select(RecoveryCode).where(RecoveryCode.user_id == tech_id)))
    signed_in = await password_step(client, "tech@example.org")
    assert signed_in.headers["location"] == "/tickets", "no code asked after the reset"
    enrol(app, "tech@example.org")
    code = admin_cli.main(["--database-url", database_url, "reset-totp", "TECH@example.org"])
    assert code == 0
    with app.state.db.session() as s:
        assert s.scalar(select(TotpCredential).where(TotpCredential.user_id == tech_id)) is None
    assert _actions(app).count("auth.totp_reset") == 2


async def test_behind_https_both_cookies_are_host_prefixed_secure_strict(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data", database_url=database_url, public_url="https://support.example.org"
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        make_user(application.state.db)
        secret, _codes = enrol(application, "tech@example.org")
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="https://support.example.org") as client:
            first = await password_step(client, "tech@example.org")
            challenge = first.headers["set-cookie"]
            assert challenge.startswith("__Host-veo_login=")
            for flag in ("Secure", "HttpOnly", "Path=/"):
                assert flag in challenge
            assert "samesite=strict" in challenge.lower() and "domain" not in challenge.lower()
            done = await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
            assert done.status_code == 303
            cookies = done.headers.get_list("set-cookie")
            session = next(c for c in cookies if c.startswith("__Host-veo_session="))
            assert "Secure" in session and "HttpOnly" in session and "samesite=strict" in session.lower()
            assert any(c.startswith("__Host-veo_login=") and "Max-Age=0" in c for c in cookies), (
                "challenge cleared"
            )
            assert (await client.get("/tickets")).status_code == 200
