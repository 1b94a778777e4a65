"""Tickets through the pages and the REST API: create, list, read, change, and bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.support import api_token, make_user, signed_in, ticket_body

from veo.server.audit.models import AuditEvent
from veo.server.audit.service import record
from veo.server.auth.models import User
from veo.server.sessions.models import RemoteSession


async def _auth(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    make_user(app.state.db)
    return await api_token(client, "tech@example.org")


async def test_create_list_get_patch(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    first = await client.post("/api/v1/tickets", json=ticket_body(title="First"), headers=auth)
    second = await client.post("/api/v1/tickets", json=ticket_body(title="Second"), headers=auth)
    assert first.status_code == second.status_code == 201
    created = second.json()
    assert created["status"] == "new" and created["requester_email"] == "bob@example.org"

    listed = (await client.get("/api/v1/tickets?page=1&per_page=1", headers=auth)).json()
    assert listed["total"] == 2 and [t["title"] for t in listed["items"]] == ["Second"]
    page2 = (await client.get("/api/v1/tickets?page=2&per_page=1", headers=auth)).json()
    assert [t["title"] for t in page2["items"]] == ["First"]

    got = await client.get(f"/api/v1/tickets/{created['id']}", headers=auth)
    assert got.json()["title"] == "Second"

    patched = await client.patch(
        f"/api/v1/tickets/{created['id']}",
        json={"status": "resolved", "title": "Second, fixed"},
        headers=auth,
    )
    body = patched.json()
    assert patched.status_code == 200 and body["status"] == "resolved" and body["resolved_at"]
    with app.state.db.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == created["id"])))
    assert actions == ["ticket.created", "ticket.updated"]


async def test_bad_input_gets_code_and_message(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    missing = await client.post("/api/v1/tickets", json={"title": "x"}, headers=auth)
    assert missing.status_code == 422
    assert missing.json()["code"] == "invalid_request" and "requester_name" in missing.json()["message"]
    bad_email = await client.post("/api/v1/tickets", json=ticket_body(requester_email="bob@"), headers=auth)
    assert bad_email.status_code == 422 and "requester_email" in bad_email.json()["message"]
    bad_status = await client.patch("/api/v1/tickets/1", json={"status": "bogus"}, headers=auth)
    assert bad_status.status_code == 422 and "status" in bad_status.json()["message"]
    not_json = await client.post(
        "/api/v1/tickets", content=b"{oops", headers={**auth, "content-type": "application/json"}
    )
    assert not_json.status_code == 422 and not_json.json()["code"] == "invalid_request"
    assert (await client.get("/api/v1/tickets", headers=auth)).json()["total"] == 0


async def test_unknown_ticket_is_404_json(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    response = await client.get("/api/v1/tickets/424242", headers=auth)
    assert response.status_code == 404
    assert response.json() == {"code": "not_found", "message": "Ticket 424242 does not exist."}
    patched = await client.patch("/api/v1/tickets/424242", json={"title": "x"}, headers=auth)
    assert patched.status_code == 404


async def test_new_ticket_form_keeps_input_and_shows_errors(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    form = {**ticket_body(title="", requester_email="not-an-address"), "csrf_token": csrf}
    response = await client.post("/tickets/new", data=form)
    assert response.status_code == 422
    assert 'id="title-error"' in response.text and 'id="requester_email-error"' in response.text
    assert 'value="not-an-address"' in response.text and 'value="Bob User"' in response.text


async def test_ticket_pages(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    assert (await client.get("/")).headers["location"] == "/tickets"
    for title in ("Older ticket", "Newer ticket"):
        created = await client.post("/tickets/new", data={**ticket_body(title=title), "csrf_token": csrf})
        assert created.status_code == 303
    location = created.headers["location"]
    detail = await client.get(location)
    assert detail.status_code == 200
    assert 'id="start-session"' in detail.text
    assert f'action="{location}/sessions"' in detail.text
    assert 'value="view" checked' in detail.text and 'value="control" checked' in detail.text
    assert "ticket.created" in detail.text
    listing = (await client.get("/tickets")).text
    assert listing.index("Newer ticket") < listing.index("Older ticket")


async def test_pages_follow_the_language(app: FastAPI, client: httpx.AsyncClient) -> None:
    page = await client.get("/login", headers={"accept-language": "es-ES,es;q=0.9"})
    assert '<html lang="es">' in page.text
    chosen = await client.get("/login?lang=en", headers={"accept-language": "es"})
    assert '<html lang="en">' in chosen.text and "veo_lang=en" in chosen.headers["set-cookie"]


async def test_ticket_page_shows_sessions_and_their_audit(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    created = await client.post("/tickets/new", data={**ticket_body(), "csrf_token": csrf})
    ticket_id = int(created.headers["location"].rsplit("/", 1)[1])
    start = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    with app.state.db.session() as s:
        tech = s.scalar(select(User).where(User.email == "tech@example.org"))
        assert tech is not None
        s.add(
            RemoteSession(
                id="0f3c2a9e-1111-4222-8333-444455556666",
                ticket_id=ticket_id,
                technician_id=tech.id,
                code_expires_at=start,
                status="ended",
                granted_permissions=["view", "control"],
                started_at=start,
                ended_at=start + timedelta(seconds=95),
                ended_by="user",
                end_reason="stopped",
                resolution_note="Driver reinstalled.",
            )
        )
        s.flush()
        record(s, "session.ended", actor=tech.email, session_id="0f3c2a9e-1111-4222-8333-444455556666")
    page = (await client.get(f"/tickets/{ticket_id}")).text
    assert 'href="/sessions/0f3c2a9e-1111-4222-8333-444455556666/console"' in page
    assert 'data-seconds="95"' in page and 'data-ended-by="user"' in page
    assert 'data-granted="view,control"' in page and "Driver reinstalled." in page and "Ana Tech" in page
    assert page.index("ticket.created") < page.index("session.ended")
    assert 'data-session-id="0f3c2a9e-1111-4222-8333-444455556666"' in page


async def test_out_of_range_ticket_number_is_a_clean_422(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    response = await client.get(f"/api/v1/tickets/{2**40}", headers=auth)
    assert response.status_code == 422 and "ticket_id" in response.json()["message"]


async def test_audit_api_filters_by_ticket(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    ids = []
    for _ in range(2):
        ids.append((await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)).json()["id"])
    await client.patch(f"/api/v1/tickets/{ids[1]}", json={"status": "open"}, headers=auth)
    events = (await client.get(f"/api/v1/audit?ticket_id={ids[1]}", headers=auth)).json()
    assert events["total"] == 2
    assert [e["action"] for e in events["items"]] == ["ticket.created", "ticket.updated"]
    assert events["items"][1]["details"] == {"status": {"from": "new", "to": "open"}}
