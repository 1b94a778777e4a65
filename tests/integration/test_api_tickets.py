"""Tickets through the pages and the REST API: create, list, read, change, and bad input."""

from __future__ import annotations

import asyncio
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


async def test_full_fields_filters_and_sorting(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    make_user(app.state.db, "lead@example.org", name="Lea Lead", role="lead")
    lead = await api_token(client, "lead@example.org")
    category = await client.post("/api/v1/categories", json={"name": "Network"}, headers=lead)
    assert category.status_code == 201
    cat_id = category.json()["id"]
    body = ticket_body(title="VPN down", priority="urgent", channel="walk_in", requester_department="Sales")
    created = await client.post("/api/v1/tickets", json={**body, "category_id": cat_id}, headers=auth)
    assert created.status_code == 201, created.text
    got = created.json()
    assert (got["priority"], got["channel"], got["category_id"]) == ("urgent", "walk_in", cat_id)
    assert got["requester_department"] == "Sales" and got["reopened_count"] == 0
    await client.post("/api/v1/tickets", json=ticket_body(title="Printer", priority="low"), headers=auth)

    async def titles(query: str) -> list[str]:
        response = await client.get(f"/api/v1/tickets?{query}", headers=auth)
        assert response.status_code == 200, response.text
        return [t["title"] for t in response.json()["items"]]

    assert await titles("q=vpn") == ["VPN down"]
    assert await titles(f"category_id={cat_id}") == ["VPN down"]
    assert await titles("priority=low") == ["Printer"]
    assert await titles("sort=-priority") == ["VPN down", "Printer"]
    assert await titles("sort=priority") == ["Printer", "VPN down"]
    assert await titles("assignee_id=0&status=new") == ["Printer", "VPN down"]
    assert await titles("created_to=2000-01-01") == []
    listed = (await client.get("/api/v1/tickets", headers=auth)).json()
    assert listed["total"] == 2 and listed["total_exact"] is True


async def test_status_workflow_through_the_api(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    ticket = (await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)).json()
    url = f"/api/v1/tickets/{ticket['id']}"
    resolved = await client.patch(url, json={"status": "resolved", "resolution_note": "Toner"}, headers=auth)
    assert resolved.status_code == 200 and resolved.json()["resolution_note"] == "Toner"
    refused = await client.patch(url, json={"status": "waiting", "title": "Changed"}, headers=auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "invalid_transition" and "open" in refused.json()["message"]
    assert (await client.get(url, headers=auth)).json()["title"] == "Printer does not print"
    reopened = (await client.patch(url, json={"status": "open"}, headers=auth)).json()
    assert reopened["reopened_count"] == 1 and reopened["resolved_at"] is None
    changes = (await client.get(f"{url}/history", headers=auth)).json()
    assert [(c["field"], c["old"], c["new"]) for c in changes] == [
        ("resolution_note", "", "Toner"),
        ("status", "new", "resolved"),
        ("status", "resolved", "open"),
    ]
    assert all(c["actor_id"] is not None and c["at"] for c in changes)


async def test_comments_api(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    ticket = (await client.post("/api/v1/tickets", json=ticket_body(), headers=auth)).json()
    url = f"/api/v1/tickets/{ticket['id']}/comments"
    note = await client.post(url, json={"body": "Checked the logs"}, headers=auth)
    assert note.status_code == 201 and note.json()["public"] is False
    assert (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=auth)).json()[
        "first_response_at"
    ] is None
    reply = await client.post(url, json={"body": "Fixed, please try", "public": True}, headers=auth)
    assert reply.status_code == 201
    got = (await client.get(f"/api/v1/tickets/{ticket['id']}", headers=auth)).json()
    assert got["first_response_at"] == reply.json()["created_at"]
    listed = (await client.get(url, headers=auth)).json()
    assert [(c["body"], c["public"]) for c in listed] == [
        ("Checked the logs", False),
        ("Fixed, please try", True),
    ]
    for bad in (
        {"body": ""},
        {"body": "   "},
        {"body": "x", "public": "maybe"},
        {"body": "x", "extra": 1},
        {},
    ):
        response = await client.post(url, json=bad, headers=auth)
        assert response.status_code == 422 and response.json()["code"] == "invalid_request", bad
    assert len((await client.get(url, headers=auth)).json()) == 2
    missing = await client.post("/api/v1/tickets/999/comments", json={"body": "x"}, headers=auth)
    assert missing.status_code == 404
    assert (await client.get("/api/v1/tickets/999/history", headers=auth)).status_code == 404
    assert (await client.get("/api/v1/tickets/999/comments", headers=auth)).status_code == 404


async def test_categories_api(app: FastAPI, client: httpx.AsyncClient) -> None:
    tech = await _auth(app, client)
    make_user(
        app.state.db, "lead@example.org", role="lead"
    )  # leads manage categories too (admins must enrol TOTP first)
    admin = await api_token(client, "lead@example.org")
    forbidden = await client.post("/api/v1/categories", json={"name": "Printers"}, headers=tech)
    assert forbidden.status_code == 403 and forbidden.json()["code"] == "forbidden"
    created = (await client.post("/api/v1/categories", json={"name": "Printers"}, headers=admin)).json()
    duplicate = await client.post("/api/v1/categories", json={"name": " printers "}, headers=admin)
    assert duplicate.status_code == 422 and "name" in duplicate.json()["message"]
    for bad in ({"name": ""}, {"name": "x" * 101}, {"title": "x"}):
        assert (await client.post("/api/v1/categories", json=bad, headers=admin)).status_code == 422
    renamed = await client.patch(
        f"/api/v1/categories/{created['id']}", json={"name": "Printing"}, headers=admin
    )
    assert renamed.json() == {"id": created["id"], "name": "Printing"}
    assert (await client.get("/api/v1/categories", headers=tech)).json() == [renamed.json()]
    assert (await client.delete(f"/api/v1/categories/{created['id']}", headers=tech)).status_code == 403
    assert (await client.delete(f"/api/v1/categories/{created['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"/api/v1/categories/{created['id']}", headers=admin)).status_code == 404
    assert (await client.get("/api/v1/categories", headers=tech)).json() == []


async def test_every_ticket_endpoint_needs_a_token(app: FastAPI, client: httpx.AsyncClient) -> None:
    calls = [
        ("GET", "/api/v1/tickets"),
        ("POST", "/api/v1/tickets"),
        ("GET", "/api/v1/tickets/1"),
        ("PATCH", "/api/v1/tickets/1"),
        ("GET", "/api/v1/tickets/1/comments"),
        ("POST", "/api/v1/tickets/1/comments"),
        ("GET", "/api/v1/tickets/1/history"),
        ("GET", "/api/v1/categories"),
        ("POST", "/api/v1/categories"),
        ("PATCH", "/api/v1/categories/1"),
        ("DELETE", "/api/v1/categories/1"),
    ]
    for method, path in calls:
        for headers in ({}, {"Authorization": "Bearer not-a-token"}):
            response = await client.request(method, path, json={}, headers=headers)
            assert response.status_code == 401, (method, path)
            assert response.json()["code"] == "not_authenticated"


async def test_openapi_documents_the_ticket_resources(app: FastAPI, client: httpx.AsyncClient) -> None:
    spec = (await client.get("/api/v1/openapi.json")).json()
    paths = spec["paths"]
    for path in (
        "/api/v1/tickets/{ticket_id}/comments",
        "/api/v1/tickets/{ticket_id}/history",
        "/api/v1/categories",
    ):
        assert path in paths
    patch = paths["/api/v1/tickets/{ticket_id}"]["patch"]["responses"]
    assert {"200", "401", "404", "409", "422"} <= set(patch)
    params = {p["name"] for p in paths["/api/v1/tickets"]["get"]["parameters"]}
    assert {
        "q",
        "status",
        "priority",
        "category_id",
        "assignee_id",
        "created_from",
        "created_to",
        "sort",
    } <= params


async def test_bad_input_gets_code_and_message(app: FastAPI, client: httpx.AsyncClient) -> None:
    auth = await _auth(app, client)
    missing = await client.post("/api/v1/tickets", json={"title": "x"}, headers=auth)
    assert missing.status_code == 422
    assert missing.json()["code"] == "invalid_request" and "requester_name" in missing.json()["message"]
    bad_email = await client.post("/api/v1/tickets", json=ticket_body(requester_email="bob@"), headers=auth)
    assert bad_email.status_code == 422 and "requester_email" in bad_email.json()["message"]
    bad_status = await client.patch("/api/v1/tickets/1", json={"status": "bogus"}, headers=auth)
    assert bad_status.status_code == 422 and "status" in bad_status.json()["message"]
    for field, value in (("priority", "asap"), ("channel", "fax"), ("category_id", 0), ("assignee_id", "me")):
        bad = await client.post("/api/v1/tickets", json={**ticket_body(), field: value}, headers=auth)
        assert bad.status_code == 422 and field in bad.json()["message"], field
    unknown = await client.post("/api/v1/tickets", json={**ticket_body(), "category_id": 77}, headers=auth)
    assert unknown.status_code == 422 and "category_id" in unknown.json()["message"]
    for query in (
        "status=finished",
        "sort=title",
        "created_from=yesterday",
        "per_page=101",
        "assignee_id=-1",
    ):
        bad_filter = await client.get(f"/api/v1/tickets?{query}", headers=auth)
        assert bad_filter.status_code == 422 and bad_filter.json()["code"] == "invalid_request", query
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


async def test_category_names_clash_in_any_case_and_any_script(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """SQLite's lower() folds only ASCII: "Ölfilter" twice was an IntegrityError (500) there.
    Names are compared casefolded in Python on both databases; a burst of the same name stores
    one and answers the others with the sentence, never a 5xx."""
    make_user(app.state.db, "lead@example.org", role="lead")
    lead = await api_token(client, "lead@example.org")

    async def create(name: str) -> httpx.Response:
        return await client.post("/api/v1/categories", json={"name": name}, headers=lead)

    assert (await create("Ölfilter")).status_code == 201
    for same in ("Ölfilter", "ölfilter", "ÖLFILTER", "O\u0308lfilter", " ölfilter "):
        again = await create(same)
        assert again.status_code == 422, (same, again.status_code, again.text)
        assert again.json()["code"] == "invalid_request"
        assert "already exists" in again.json()["message"]
    assert (await create("Straße")).status_code == 201
    assert (await create("STRASSE")).status_code == 422
    other = (await create("Öl")).json()
    clash = await client.patch(f"/api/v1/categories/{other['id']}", json={"name": "öLFILTER"}, headers=lead)
    assert clash.status_code == 422 and "already exists" in clash.json()["message"]

    burst = await asyncio.gather(*(create("Ärger") for _ in range(8)))
    assert sorted(r.status_code for r in burst) == [201] + [422] * 7
    names = [c["name"] for c in (await client.get("/api/v1/categories", headers=lead)).json()]
    assert names == ["Ärger", "Öl", "Ölfilter", "Straße"]
