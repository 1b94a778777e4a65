"""Ticket pages: filter bar, forms with CSRF, refusals that store nothing, categories page, locale."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support import csrf_from, login, make_user, signed_in, ticket_body

from veo.server.auth.models import User
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Category, Ticket, TicketChange, TicketComment


async def _ticket(client: httpx.AsyncClient, csrf: str, **fields: str) -> str:
    response = await client.post("/tickets/new", data={**ticket_body(**fields), "csrf_token": csrf})
    assert response.status_code == 303, response.text
    return str(response.headers["location"])


def _count(app: FastAPI, model: type[object]) -> int:
    with app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def test_new_ticket_form_takes_every_field(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    with app.state.db.session() as s:
        s.add(Category(name="Network"))
    form = (await client.get("/tickets/new")).text
    category_id = re.search(r'<option value="(\d+)">Network</option>', form)
    assert category_id is not None and 'name="requester_department"' in form and 'value="walk_in"' in form
    location = await _ticket(
        client,
        csrf,
        requester_department="Sales",
        priority="high",
        channel="walk_in",
        category_id=category_id.group(1),
    )
    page = (await client.get(location)).text
    assert 'data-priority="high"' in page and "Sales" in page and "Walk-in" in page
    assert '<dd id="ticket-category">Network</dd>' in page


async def test_new_ticket_form_refuses_bad_choices_and_stores_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf = await signed_in(app, client)
    data = {
        **ticket_body(priority="soon", channel="fax", category_id="42", assignee_id="x"),
        "csrf_token": csrf,
    }
    response = await client.post("/tickets/new", data=data)
    assert response.status_code == 422
    for field in ("priority", "channel", "category_id", "assignee_id"):
        assert f'id="{field}-error"' in response.text, field
    assert 'value="Bob User"' in response.text
    assert _count(app, Ticket) == 0
    no_csrf = await client.post("/tickets/new", data=ticket_body())
    assert no_csrf.status_code == 403 and _count(app, Ticket) == 0


async def test_list_filters_search_and_pages(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    await _ticket(client, csrf, title="VPN drops", priority="urgent")
    for i in range(3):
        await _ticket(client, csrf, title=f"Printer {i}", priority="low")
    found = (await client.get("/tickets?q=vpn&status=&priority=")).text
    assert "VPN drops" in found and "Printer 0" not in found and 'value="vpn"' in found
    low = (await client.get("/tickets?priority=low&per_page=2")).text
    assert "VPN drops" not in low and 'data-total="3"' in low
    next_link = re.search(r'href="(/tickets\?[^"]*)" rel="next"', low)
    assert next_link is not None and "priority=low" in next_link.group(1) and "page=2" in next_link.group(1)
    second = (await client.get(next_link.group(1).replace("&amp;", "&"))).text
    assert second.count('data-ticket-id="') == 1
    none = (await client.get("/tickets?q=nothing-like-this")).text
    assert 'id="no-match"' in none
    past = (await client.get("/tickets?priority=low&page=9")).text
    assert 'id="past-the-end"' in past and 'href="/tickets?priority=low&amp;page=1"' in past
    bad = await client.get("/tickets?status=finished&created_from=soon")
    assert bad.status_code == 422 and 'id="filter-error"' in bad.text


async def test_detail_controls_change_fields_and_write_history(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    with app.state.db.session() as s:
        tech = s.scalar(select(User).where(User.email == "tech@example.org"))
        assert tech is not None
        tech_id = tech.id
    data = {
        "csrf_token": csrf,
        "status": "resolved",
        "priority": "urgent",
        "assignee_id": str(tech_id),
        "category_id": "",
        "resolution_note": "New toner",
    }
    response = await client.post(f"{location}/update", data=data)
    assert response.status_code == 303
    page = (await client.get(location)).text
    assert 'data-status="resolved"' in page and 'id="ticket-resolution">New toner' in page
    assert 'data-field="status" data-old="new" data-new="resolved"' in page
    assert 'data-field="assignee_id"' in page and "Ana Tech" in page
    assert "(reopen)" in page  # a resolved ticket offers to reopen
    before = _count(app, TicketChange)
    refused = await client.post(
        f"{location}/update", data={"csrf_token": csrf, "status": "waiting", "priority": "low"}
    )
    assert refused.status_code == 409 and 'id="ticket-error"' in refused.text
    bad = await client.post(f"{location}/update", data={"csrf_token": csrf, "category_id": "99"})
    assert bad.status_code == 422 and 'id="category_id-error"' in bad.text
    forged = await client.post(f"{location}/update", data={"status": "closed"})
    assert forged.status_code == 403
    assert _count(app, TicketChange) == before
    assert (await client.post("/tickets/999/update", data={"csrf_token": csrf})).status_code == 404


async def test_replies_and_notes_thread(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    note = await client.post(f"{location}/comments", data={"csrf_token": csrf, "body": "Called, no answer"})
    assert note.status_code == 303
    reply = await client.post(
        f"{location}/comments", data={"csrf_token": csrf, "body": "Please restart", "visibility": "public"}
    )
    assert reply.status_code == 303
    page = (await client.get(location)).text
    assert page.index("Called, no answer") < page.index("Please restart")
    assert 'class="comment comment-internal"' in page and 'class="comment comment-public"' in page
    assert 'id="ticket-first-response">—' not in page
    empty = await client.post(
        f"{location}/comments", data={"csrf_token": csrf, "body": "  ", "visibility": "public"}
    )
    assert empty.status_code == 422 and 'id="body-error"' in empty.text
    odd = await client.post(
        f"{location}/comments", data={"csrf_token": csrf, "body": "Hi", "visibility": "everyone"}
    )
    assert odd.status_code == 422 and 'id="visibility-error"' in odd.text and ">Hi</textarea>" in odd.text
    assert (await client.post(f"{location}/comments", data={"body": "x"})).status_code == 403
    assert _count(app, TicketComment) == 2


async def test_session_record_on_the_ticket(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    ticket_id = int(location.rsplit("/", 1)[1])
    start = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    with app.state.db.session() as s:
        tech = s.scalar(select(User).where(User.email == "tech@example.org"))
        assert tech is not None
        remote = RemoteSession(
            id="0f3c2a9e-1111-4222-8333-444455556666",
            ticket_id=ticket_id,
            technician_id=tech.id,
            code_expires_at=start,
            status="ended",
            requested_permissions=["view", "control"],
            granted_permissions=["view"],
            identity_confirmation="phone_questions",
            sas_confirmed=True,
            started_at=start,
            ended_at=start + timedelta(seconds=95),
            ended_by="technician",
        )
        if hasattr(RemoteSession, "rating"):
            remote.rating, remote.rating_comment = 4, "Quick and kind"
        s.add(remote)
    page = (await client.get(location)).text
    assert 'data-requested="view,control"' in page and 'data-granted="view"' in page
    assert 'data-identity="phone_questions"' in page and "verified by phone questions" in page
    assert 'data-sas="true"' in page and "1 minute and 35 seconds" in page
    if hasattr(RemoteSession, "rating"):
        assert 'data-rating="4"' in page and "Quick and kind" in page
    # Starting the session was the ticket's first response.
    assert 'id="ticket-first-response"><time datetime="2026-01-02T10:00:00+00:00"' in page


async def test_dates_and_numbers_follow_the_language(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    with app.state.db.session() as s:
        ticket = s.scalars(select(Ticket)).one()
        ticket.created_at = datetime(2026, 1, 15, 9, 5, tzinfo=UTC)
    spanish = (await client.get(f"{location}?lang=es")).text
    assert "15 ene 2026" in spanish
    english = (await client.get(f"{location}?lang=en")).text
    assert "Jan 15, 2026" in english


async def test_categories_page_for_leads_only(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    assert (await client.get("/admin/categories")).status_code == 403
    denied = await client.post("/admin/categories", data={"csrf_token": csrf, "name": "Printers"})
    assert denied.status_code == 403 and _count(app, Category) == 0
    await client.post("/logout", data={"csrf_token": csrf})
    make_user(app.state.db, "lead@example.org", name="Lea Lead", role="lead")
    csrf = await login(client, "lead@example.org")
    page = await client.get("/admin/categories")
    assert page.status_code == 200 and csrf_from(page.text) == csrf
    assert (
        await client.post("/admin/categories", data={"csrf_token": csrf, "name": "Printers"})
    ).status_code == 303
    duplicate = await client.post("/admin/categories", data={"csrf_token": csrf, "name": "PRINTERS"})
    assert duplicate.status_code == 422 and 'id="name-error"' in duplicate.text
    assert (await client.post("/admin/categories", data={"name": "Other"})).status_code == 403
    with app.state.db.session() as s:
        category_id = s.scalars(select(Category.id)).one()
    renamed = await client.post(
        f"/admin/categories/{category_id}/rename", data={"csrf_token": csrf, "name": "Printing"}
    )
    assert renamed.status_code == 303 and "Printing" in (await client.get("/admin/categories")).text
    blank = await client.post(
        f"/admin/categories/{category_id}/rename", data={"csrf_token": csrf, "name": ""}
    )
    assert blank.status_code == 422 and f'id="rename-{category_id}-error"' in blank.text
    gone = await client.post(f"/admin/categories/{category_id}/delete", data={"csrf_token": csrf})
    assert gone.status_code == 303 and _count(app, Category) == 0
    assert (await client.post("/admin/categories/99/delete", data={"csrf_token": csrf})).status_code == 404


async def test_new_code_only_for_a_code_that_ran_out(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    started = await client.post(
        f"{location}/sessions", data={"csrf_token": csrf, "permissions": ["view", "clipboard"]}
    )
    assert started.status_code == 303
    first = started.headers["location"].split("/")[2]
    page = (await client.get(location)).text
    assert 'id="session-now" data-state="waiting"' in page and 'id="copy-code"' in page
    # Still valid: nothing to renew, nothing created.
    again = await client.post(f"/sessions/{first}/new-code", data={"csrf_token": csrf})
    assert again.status_code == 303 and again.headers["location"] == location
    assert _count(app, RemoteSession) == 1
    with app.state.db.session() as s:
        row = s.get(RemoteSession, first)
        assert row is not None
        row.code_expires_at = datetime.now(UTC) - timedelta(seconds=1)
    page = (await client.get(location)).text
    assert 'data-state="code_expired"' in page and 'id="new-code"' in page and 'id="join-code"' not in page
    assert (await client.post(f"/sessions/{first}/new-code")).status_code == 403  # no CSRF token
    renewed = await client.post(f"/sessions/{first}/new-code", data={"csrf_token": csrf})
    assert renewed.status_code == 303 and renewed.headers["location"].startswith(location)
    with app.state.db.session() as s:
        rows = list(s.scalars(select(RemoteSession).order_by(RemoteSession.created_at)))
        assert len(rows) == 2 and rows[1].status == "waiting" and rows[1].code
        assert rows[1].requested_permissions == ["view", "clipboard"]  # what the expired one asked
    page = (await client.get(location)).text
    assert 'data-state="waiting"' in page and f'data-session-id="{rows[1].id}"' in page


async def test_a_live_session_is_at_the_top_and_another_can_start(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    started = await client.post(f"{location}/sessions", data={"csrf_token": csrf, "permissions": ["view"]})
    session_id = started.headers["location"].split("/")[2]
    with app.state.db.session() as s:
        row = s.get(RemoteSession, session_id)
        assert row is not None
        row.status, row.started_at = "active", datetime.now(UTC)
    page = (await client.get(location)).text
    assert f'id="session-now" data-state="live" data-session-id="{session_id}"' in page
    assert f'id="open-console" href="/sessions/{session_id}/console"' in page
    assert 'id="join-code"' not in page and 'id="start-session"' in page  # "Start another session"


async def test_the_first_accounts_default_name_is_said_in_spanish(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """`veo admin init` names the first account "Administrator": a role, said in the reader's language."""
    csrf = await signed_in(app, client)
    location = await _ticket(client, csrf)
    admin_id = make_user(app.state.db, "admin@localhost", name="Administrator", role="admin").user.id
    with app.state.db.session() as s:
        s.scalars(select(Ticket)).one().assignee_id = admin_id
    for page in (location, "/tickets", "/tickets/new"):
        spanish = (await client.get(f"{page}?lang=es")).text
        assert "Administrador" in spanish, page
        assert "Administrator" not in spanish, page
