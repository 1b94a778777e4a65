"""Files attached to a ticket from the console (real app, SQLite and PostgreSQL).

The upload is the raw body, streamed to the data directory and cut off at the role policy's
``max_file_bytes``; what is on disk afterwards (the file, or nothing at all) is the outcome.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import PASSWORD, api_token, csrf_from, login, make_user, ticket_body

from veo.server.audit.models import AuditEvent
from veo.server.auth import service as users
from veo.server.auth import totp
from veo.server.db.base import utcnow
from veo.server.policies import service as policies
from veo.server.policies.capabilities import Capability
from veo.server.policies.service import policy_for_user

OCTET = {"Content-Type": "application/octet-stream"}


async def _session(client: httpx.AsyncClient, auth: dict[str, str]) -> tuple[int, str]:
    ticket = await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)
    assert ticket.status_code == 201, ticket.text
    ticket_id: int = ticket.json()["id"]
    created = await client.post(f"/api/v1/tickets/{ticket_id}/sessions", headers=auth)
    assert created.status_code == 201, created.text
    return ticket_id, str(created.json()["id"])


def _stored(app: FastAPI) -> list[str]:
    folder = Path(app.state.settings.data_dir) / "attachments"
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


def _limit(app: FastAPI, max_bytes: int) -> None:
    with app.state.db.session() as s:
        policies.set_policy(
            s,
            "technician",
            capabilities=set(Capability) - {Capability.UNATTENDED, Capability.RECORDING},
            totp_required=False,
            identity_before_control=False,
            max_file_bytes=max_bytes,
            actor="test",
        )
        s.commit()


async def test_upload_download_list_and_audit(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    csrf = await login(client, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket_id, session_id = await _session(client, auth)
    data = os.urandom(3 * 1024 * 1024)  # over the server's generic 1 MiB body limit
    url = f"/api/v1/tickets/{ticket_id}/attachments"

    created = await client.post(
        url,
        params={"name": "../../etc/passwd", "session_id": session_id},
        content=data,
        headers={**OCTET, "X-CSRF-Token": csrf},
    )
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["name"] == "passwd" and body["size"] == len(data)
    assert body["sha256"] == hashlib.sha256(data).hexdigest()
    # stored under a random key, never under the user's name; no temporary file left
    (key,) = _stored(app)
    assert len(key) == 32 and "passwd" not in key

    download = await client.get(body["url"])
    assert download.status_code == 200
    assert download.content == data
    assert download.headers["content-disposition"].startswith("attachment;")
    assert 'filename="passwd"' in download.headers["content-disposition"]
    assert download.headers["content-type"] == "application/octet-stream"
    assert download.headers["x-content-type-options"] == "nosniff"

    listed = await client.get(url, headers=auth)
    assert [(a["id"], a["name"]) for a in listed.json()] == [(body["id"], "passwd")]
    page = await client.get(f"/tickets/{ticket_id}")
    assert body["url"] in page.text

    with app.state.db.session() as s:
        (event,) = s.scalars(select(AuditEvent).where(AuditEvent.action == "ticket.attachment_added"))
    assert event.ticket_id == ticket_id and event.session_id == session_id
    assert event.details["sha256"] == body["sha256"]

    # another ticket's number in the path finds nothing
    other, _ = await _session(client, auth)
    missing = await client.get(f"/api/v1/tickets/{other}/attachments/{body['id']}")
    assert missing.status_code == 404 and missing.json()["code"] == "attachment_not_found"


async def test_policy_limit_cuts_the_upload_and_keeps_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db)
    csrf = await login(client, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket_id, session_id = await _session(client, auth)
    _limit(app, 100_000)
    url = f"/api/v1/tickets/{ticket_id}/attachments"
    params = {"name": "big.bin", "session_id": session_id}
    headers = {**OCTET, "X-CSRF-Token": csrf}

    declared = await client.post(url, params=params, content=b"x" * 100_001, headers=headers)
    assert declared.status_code == 413 and declared.json()["code"] == "file_too_large"

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted as it streams
        for _ in range(20):
            yield b"y" * 10_000

    streamed = await client.post(url, params=params, content=chunks(), headers=headers)
    assert streamed.status_code == 413 and streamed.json()["code"] == "file_too_large"
    assert _stored(app) == []
    assert (await client.get(url, headers=auth)).json() == []

    exact = await client.post(url, params=params, content=b"z" * 100_000, headers=headers)
    assert exact.status_code == 201, exact.text


async def test_refused_without_csrf_or_for_someone_elses_session(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db)
    make_user(app.state.db, "other@example.org", name="Otto Other")
    csrf = await login(client, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket_id, session_id = await _session(client, auth)
    url = f"/api/v1/tickets/{ticket_id}/attachments"

    forged = await client.post(url, params={"name": "a.txt"}, content=b"hello", headers=OCTET)
    assert forged.status_code == 403 and forged.json()["code"] == "csrf_failed"
    # only a raw body may pass the generic 1 MiB limit: a form is never parsed unbounded
    form = await client.post(url, params={"name": "a.txt"}, files={"f": ("a.txt", b"x" * (2 * 1024 * 1024))})
    assert form.status_code == 413 and form.json()["code"] == "request_too_large"

    other = await api_token(client, "other@example.org")
    theirs = await client.post(
        url, params={"name": "a.txt", "session_id": session_id}, content=b"hello", headers={**OCTET, **other}
    )
    assert theirs.status_code in (403, 404)
    wrong_ticket, _ = await _session(client, auth)
    mismatched = await client.post(
        f"/api/v1/tickets/{wrong_ticket}/attachments",
        params={"name": "a.txt", "session_id": session_id},
        content=b"hello",
        headers={**OCTET, "X-CSRF-Token": csrf},
    )
    assert mismatched.status_code == 422
    assert _stored(app) == []

    anonymous = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with anonymous:
        assert (await anonymous.get(url)).status_code == 401


async def test_admin_sets_the_largest_file_and_the_console_page_carries_it(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db, "root@example.org", role="admin")
    with app.state.db.session() as s:
        user = users.get_by_email(s, "root@example.org")
        assert user is not None
        secret = totp.start_enrolment(s, user).secret
        earlier = utcnow() - timedelta(seconds=30)
        assert totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
    await client.post("/login", data={"email": "root@example.org", "password": PASSWORD})
    assert (await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})).status_code == 303
    page = await client.get("/admin/roles")
    assert 'name="max_file_mb"' in page.text and 'value="100"' in page.text
    csrf = csrf_from(page.text)
    form = {"csrf_token": csrf, "capability": ["view", "control", "files"], "max_file_mb": "2.5"}
    assert (await client.post("/admin/roles/technician", data=form)).status_code == 303
    tech = make_user(app.state.db).user
    with app.state.db.session() as s:
        assert policy_for_user(s, tech).max_file_bytes == 2_500_000
    bad = await client.post("/admin/roles/technician", data={**form, "max_file_mb": "lots"})
    assert bad.status_code == 422 and "number of MB" in bad.text

    tech_client = httpx.AsyncClient(transport=client._transport, base_url=str(client.base_url))
    async with tech_client:
        await login(tech_client, "tech@example.org")
        auth = await api_token(tech_client, "tech@example.org")
        _ticket, session_id = await _session(tech_client, auth)
        console = await tech_client.get(f"/sessions/{session_id}/console")
        assert 'data-max-file-bytes="2500000"' in console.text
