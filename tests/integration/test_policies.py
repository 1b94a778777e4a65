"""Role policies: edited by API, page and CLI, audited, read by ``policy_for_user``, and enforced."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pyotp
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import PASSWORD, csrf_from, login, make_user

from veo.protocol.permissions import Permission
from veo.server import admin as admin_cli
from veo.server.audit.models import AuditEvent
from veo.server.auth import service, totp
from veo.server.db.base import utcnow
from veo.server.policies.service import RolePolicy, policy_for_user


def _policy(app: FastAPI, email: str) -> RolePolicy:
    with app.state.db.session() as s:
        user = service.get_by_email(s, email)
        assert user is not None
        return policy_for_user(s, user)


def _changes(app: FastAPI) -> list[AuditEvent]:
    with app.state.db.session() as s:
        return list(
            s.scalars(
                select(AuditEvent).where(AuditEvent.action == "policy.changed").order_by(AuditEvent.seq)
            )
        )


async def _admin(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    make_user(app.state.db, "root@example.org", role="admin")
    with app.state.db.session() as s:
        user = service.get_by_email(s, "root@example.org")
        assert user is not None
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
    body = {"email": "root@example.org", "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
    response = await client.post("/api/v1/auth/token", json=body)
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def test_defaults_until_edited(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await _admin(app, client)
    roles = (await client.get("/api/v1/admin/roles", headers=headers)).json()
    assert [r["role"] for r in roles] == ["admin", "lead", "technician"]
    assert [r["totp_required"] for r in roles] == [True, False, False]
    assert all(r["capabilities"] == ["view", "control", "clipboard", "files"] for r in roles)


async def test_api_edit_is_stored_audited_and_read_by_policy_for_user(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await _admin(app, client)
    make_user(app.state.db)
    body = {"capabilities": ["view", "recording"], "totp_required": True, "identity_before_control": True}
    response = await client.put("/api/v1/admin/roles/technician", headers=headers, json=body)
    assert response.status_code == 200, response.text
    assert response.json()["capabilities"] == ["view", "recording"]
    policy = _policy(app, "tech@example.org")
    assert policy == RolePolicy(
        role="technician",
        max_permissions=frozenset({Permission.VIEW}),
        totp_required=True,
        identity_before_control=True,
        unattended=False,
        recording=True,
    )
    [event] = _changes(app)
    assert event.actor == "root@example.org"
    assert event.details["role"] == "technician"
    assert event.details["before"]["capabilities"] == ["view", "control", "clipboard", "files"]
    assert event.details["after"] == {
        "capabilities": ["view", "recording"],
        "totp_required": True,
        "identity_before_control": True,
        "max_file_bytes": 100_000_000,  # unchanged: the body did not say
        "resume_grace_seconds": 120,  # unchanged too
    }
    body = {**body, "resume_grace_seconds": 30}
    response = await client.put("/api/v1/admin/roles/technician", headers=headers, json=body)
    assert response.status_code == 200 and response.json()["resume_grace_seconds"] == 30
    assert _policy(app, "tech@example.org").resume_grace_seconds == 30
    assert _changes(app)[-1].details["after"]["resume_grace_seconds"] == 30
    too_long = {**body, "resume_grace_seconds": 601}
    response = await client.put("/api/v1/admin/roles/technician", headers=headers, json=too_long)
    assert response.status_code == 422 and _policy(app, "tech@example.org").resume_grace_seconds == 30


@pytest.mark.parametrize(
    ("role", "body", "field"),
    [
        ("owner", {"capabilities": [], "totp_required": False, "identity_before_control": False}, "role"),
        (
            "admin",
            {"capabilities": ["view"], "totp_required": False, "identity_before_control": False},
            "totp",
        ),
        (
            "lead",
            {"capabilities": ["control"], "totp_required": False, "identity_before_control": False},
            "view",
        ),
        (
            "lead",
            {"capabilities": ["root"], "totp_required": False, "identity_before_control": False},
            "capab",
        ),
    ],
)
async def test_bad_edits_are_refused_and_change_nothing(
    app: FastAPI, client: httpx.AsyncClient, role: str, body: dict[str, object], field: str
) -> None:
    headers = await _admin(app, client)
    response = await client.put(f"/api/v1/admin/roles/{role}", headers=headers, json=body)
    assert response.status_code == 422 and response.json()["code"] == "invalid_request"
    assert field in response.json()["message"]
    assert _changes(app) == []


async def test_policy_requiring_totp_sends_technicians_to_enrolment(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await _admin(app, client)
    make_user(app.state.db)
    other = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=str(client.base_url))
    async with other:
        await login(other, "tech@example.org")
        tech_token = await other.post(
            "/api/v1/auth/token", json={"email": "tech@example.org", "password": PASSWORD}
        )
        tech_headers = {"Authorization": f"Bearer {tech_token.json()['access_token']}"}
        body = {"capabilities": ["view"], "totp_required": True, "identity_before_control": False}
        assert (
            await client.put("/api/v1/admin/roles/technician", headers=headers, json=body)
        ).status_code == 200
        page = await other.get("/tickets")
        assert page.status_code == 303 and page.headers["location"].startswith("/account/totp")
        api = await other.get("/api/v1/tickets", headers=tech_headers)
        assert api.status_code == 403 and api.json()["code"] == "totp_required"


async def test_roles_page_edits_a_policy(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db, "root@example.org", role="admin")
    with app.state.db.session() as s:
        user = service.get_by_email(s, "root@example.org")
        assert user is not None
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
    await client.post("/login", data={"email": "root@example.org", "password": PASSWORD})
    assert (await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})).status_code == 303
    page = await client.get("/admin/roles")
    assert page.status_code == 200 and 'id="policy-lead"' in page.text
    csrf = csrf_from(page.text)
    assert 'name="resume_grace_seconds"' in page.text and 'value="120"' in page.text
    form = {
        "csrf_token": csrf,
        "capability": ["view", "control"],
        "identity_before_control": "yes",
        "resume_grace_seconds": "45",
    }
    saved = await client.post("/admin/roles/lead", data=form)
    assert saved.status_code == 303
    lead = make_user(app.state.db, "lead@example.org", role="lead").user
    with app.state.db.session() as s:
        policy = policy_for_user(s, lead)
    assert policy.max_permissions == {Permission.VIEW, Permission.CONTROL}
    assert policy.identity_before_control and not policy.totp_required
    assert policy.resume_grace_seconds == 45
    bad = await client.post("/admin/roles/lead", data={"csrf_token": csrf, "capability": ["control"]})
    assert bad.status_code == 422 and "view screen" in bad.text
    late = {"csrf_token": csrf, "capability": ["view"], "resume_grace_seconds": "700"}
    bad = await client.post("/admin/roles/lead", data=late)
    assert bad.status_code == 422 and "between 0 and 600 seconds" in bad.text
    assert len(_changes(app)) == 1


def test_cli_policy_changes_only_what_it_names(database_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--database-url", database_url, "policy", "lead"]
    assert admin_cli.main([*argv, "--max-permissions", "view,control", "--totp-required", "yes"]) == 0
    out = capsys.readouterr().out
    assert "view,control" in out
    assert admin_cli.main([*argv, "--identity-before-control", "yes"]) == 0
    out = capsys.readouterr().out
    assert "view,control" in out and out.count("yes") == 2
    assert "waits for a lost connection: 2 minutes" in out
    assert admin_cli.main([*argv, "--resume-grace", "0"]) == 0
    out = capsys.readouterr().out
    assert "view,control" in out and out.count("yes") == 2 and "lost connection: 0 seconds" in out
    with pytest.raises(SystemExit):
        admin_cli.main([*argv, "--resume-grace", "601"])
    assert "600" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        admin_cli.main([*argv, "--max-permissions", "view,root"])
    assert "root" in capsys.readouterr().err
