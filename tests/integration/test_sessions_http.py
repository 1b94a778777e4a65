"""Session pages and REST routes on the real app (real sign-in, CSRF, SQLite and PostgreSQL)."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import BASE_URL, api_token, login, make_user, ticket_body

from veo.server.audit.models import AuditEvent
from veo.server.sessions.models import RemoteSession


async def _ticket(client: httpx.AsyncClient, auth: dict[str, str]) -> int:
    response = await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)
    assert response.status_code == 201, response.text
    ticket_id: int = response.json()["id"]
    return ticket_id


def _row(app: FastAPI, session_id: str) -> RemoteSession:
    with app.state.db.session() as s:
        row: RemoteSession | None = s.get(RemoteSession, session_id)
        assert row is not None
        return row


def _actions(app: FastAPI, session_id: str) -> list[str]:
    with app.state.db.session() as s:
        stmt = select(AuditEvent.action).where(AuditEvent.session_id == session_id).order_by(AuditEvent.seq)
        return list(s.scalars(stmt))


async def test_api_create_and_read(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    make_user(app.state.db, "other@example.org", name="Otto")
    make_user(app.state.db, "lead@example.org", name="Leo", role="lead")
    auth = await api_token(client, "tech@example.org")
    ticket_id = await _ticket(client, auth)

    created = await client.post(f"/api/v1/tickets/{ticket_id}/sessions", headers=auth)
    assert created.status_code == 201, created.text
    body = created.json()
    code = body["code"]
    assert len(code) == 9 and code.isdigit()
    assert body["code_display"] == f"{code[:3]} {code[3:6]} {code[6:]}"
    assert body["join_url"] == f"{BASE_URL}/join?code={code}"
    assert body["status"] == "waiting" and body["requested"] == ["view", "control"]
    assert body["expires_at"]

    chosen = await client.post(
        f"/api/v1/tickets/{ticket_id}/sessions", json={"permissions": ["view"]}, headers=auth
    )
    assert chosen.status_code == 201 and chosen.json()["requested"] == ["view"]

    got = await client.get(f"/api/v1/sessions/{body['id']}", headers=auth)
    assert got.status_code == 200
    data = got.json()
    assert data["ticket_id"] == ticket_id and data["technician"]["name"] == "Ana Tech"
    assert data["status"] == "waiting" and data["granted"] == [] and data["sas_confirmed"] is False
    assert data["duration_seconds"] is None and data["ended_by"] is None and data["resolution_note"] == ""
    assert "code" not in data

    other = await api_token(client, "other@example.org")
    assert (await client.get(f"/api/v1/sessions/{body['id']}", headers=other)).status_code == 404
    lead = await api_token(client, "lead@example.org")
    assert (await client.get(f"/api/v1/sessions/{body['id']}", headers=lead)).status_code == 200
    missing = await client.get("/api/v1/sessions/nope", headers=auth)
    assert missing.status_code == 404 and missing.json()["code"] == "session_not_found"
    assert _actions(app, body["id"]) == ["session.requested"]


async def test_api_refuses_bad_requests_clearly(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    auth = await api_token(client, "tech@example.org")
    ticket_id = await _ticket(client, auth)
    url = f"/api/v1/tickets/{ticket_id}/sessions"
    cases = [
        ({"permissions": ["root"]}, 422, "invalid_permission"),
        ({"permissions": []}, 422, "no_permission"),
        ({"permissions": ["control"]}, 422, "permission_needs_view"),
        ({"permissions": "view"}, 422, "invalid_request"),
        ({"extra": 1}, 422, "invalid_request"),
    ]
    for body, status, code in cases:
        response = await client.post(url, json=body, headers=auth)
        assert (response.status_code, response.json()["code"]) == (status, code), body
        assert response.json()["message"]
    unknown = await client.post("/api/v1/tickets/9999/sessions", headers=auth)
    assert unknown.status_code == 404 and unknown.json()["code"] == "ticket_not_found"
    anonymous = await client.post(url)
    assert anonymous.status_code == 401


async def test_protocol_schema_is_public(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/protocol.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["version"] == 1 and "agent_to_server" in schema["signaling"]


async def test_pages_start_console_end_and_note(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    csrf = await login(client, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket_id = await _ticket(client, auth)

    refused = await client.post(f"/tickets/{ticket_id}/sessions", data={"permissions": ["view"]})
    assert refused.status_code == 403

    started = await client.post(
        f"/tickets/{ticket_id}/sessions",
        data={"csrf_token": csrf, "permissions": ["view", "control", "clipboard"]},
    )
    assert started.status_code == 303
    location = started.headers["location"]
    assert location.startswith("/sessions/") and location.endswith("/console")
    session_id = location.split("/")[2]
    row = _row(app, session_id)
    assert row.requested_permissions == ["view", "control", "clipboard"]
    assert row.code is not None

    page = await client.get(location)
    assert page.status_code == 200, page.text
    code = row.code
    assert f"{code[:3]} {code[3:6]} {code[6:]}" in page.text
    assert f"{BASE_URL}/join?code={code}" in page.text
    assert f"veo agent --server {BASE_URL} --code {code}" in page.text
    assert f"/ws/console?session={session_id}" in page.text

    none_ticked = await client.post(
        f"/tickets/{ticket_id}/sessions", data={"csrf_token": csrf, "permissions_shown": "1"}
    )
    assert none_ticked.status_code == 422

    ended = await client.post(f"/sessions/{session_id}/end", data={"csrf_token": csrf})
    assert ended.status_code == 303
    row = _row(app, session_id)
    assert (row.status, row.ended_by, row.code) == ("ended", "technician", None)
    after = await client.get(location)
    assert after.status_code == 200 and code not in after.text

    empty = await client.post(f"/sessions/{session_id}/note", data={"csrf_token": csrf, "note": "  "})
    assert empty.status_code == 422
    noted = await client.post(
        f"/sessions/{session_id}/note", data={"csrf_token": csrf, "note": "Reinstalled the driver."}
    )
    assert noted.status_code == 303 and noted.headers["location"] == f"/tickets/{ticket_id}"
    assert _row(app, session_id).resolution_note == "Reinstalled the driver."
    assert _actions(app, session_id) == ["session.requested", "session.ended", "session.note"]


async def test_console_of_another_technician_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    make_user(app.state.db)
    make_user(app.state.db, "other@example.org", name="Otto")
    auth = await api_token(client, "tech@example.org")
    ticket_id = await _ticket(client, auth)
    created = (await client.post(f"/api/v1/tickets/{ticket_id}/sessions", headers=auth)).json()
    csrf = await login(client, "other@example.org")
    page = await client.get(f"/sessions/{created['id']}/console")
    assert page.status_code == 404
    note = await client.post(f"/sessions/{created['id']}/note", data={"csrf_token": csrf, "note": "x"})
    assert note.status_code == 404
    assert _row(app, created["id"]).resolution_note == ""


async def test_join_page_is_public_and_prefills_the_code(client: httpx.AsyncClient) -> None:
    page = await client.get("/join?code=123456789")
    assert page.status_code == 200
    assert "123 456 789" in page.text
    assert f"veo agent --server {BASE_URL} --code 123456789" in page.text
    bad = await client.get("/join?code=12x")
    assert bad.status_code == 200 and 'id="code-error"' in bad.text
    spanish = await client.get("/join", headers={"accept-language": "es-ES,es;q=0.9"})
    assert spanish.status_code == 200 and 'lang="es"' in spanish.text


async def test_save_and_resolve_on_a_ticket_closed_meanwhile_keeps_the_note(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """The console's *Save and resolve the ticket* was rendered while the ticket was open; a
    colleague closed it since. The note is saved on the session and the ticket left as the
    colleague left it, instead of an error page (a closed ticket cannot move to resolved) and the
    note lost with the rolled-back transaction."""
    make_user(app.state.db)
    csrf = await login(client, "tech@example.org")
    auth = await api_token(client, "tech@example.org")
    ticket_id = await _ticket(client, auth)
    started = await client.post(
        f"/tickets/{ticket_id}/sessions", data={"csrf_token": csrf, "permissions": ["view"]}
    )
    session_id = started.headers["location"].split("/")[2]
    assert (await client.post(f"/sessions/{session_id}/end", data={"csrf_token": csrf})).status_code == 303
    closed = await client.patch(
        f"/api/v1/tickets/{ticket_id}",
        json={"status": "closed", "resolution_note": "Closed by a colleague."},
        headers=auth,
    )
    assert closed.status_code == 200, closed.text

    noted = await client.post(
        f"/sessions/{session_id}/note",
        data={"csrf_token": csrf, "note": "Reinstalled the driver.", "resolve": "1"},
    )
    assert noted.status_code == 303, noted.text
    assert noted.headers["location"] == f"/tickets/{ticket_id}"
    assert _row(app, session_id).resolution_note == "Reinstalled the driver."
    ticket = (await client.get(f"/api/v1/tickets/{ticket_id}", headers=auth)).json()
    assert (ticket["status"], ticket["resolution_note"]) == ("closed", "Closed by a colleague.")
