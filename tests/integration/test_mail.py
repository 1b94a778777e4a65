"""E-mail to requesters through a real SMTP server on loopback (aiosmtpd), SQLite and PostgreSQL.

Each e-mail is queued in the outbox with the ticket change and sent by the worker; the tests
read what the SMTP server received: recipient, headers, language, links.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import (
    Inbox,
    bearer,
    free_port,
    html_of,
    manual_worker,
    new_ticket,
    smtp_server,
    text_of,
)
from tests.support import BASE_URL, signed_in

from veo.config import Settings
from veo.server.audit.models import AuditEvent
from veo.server.notify import events
from veo.server.notify.models import OutboxMessage, RatingRequest
from veo.server.sessions import service
from veo.server.sessions.models import RemoteSession
from veo.server.tickets import service as tickets
from veo.server.tickets.models import Ticket


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def inbox(smtp_port: int) -> Iterator[Inbox]:
    with smtp_server(smtp_port) as received:
        yield received


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=BASE_URL,
        organization="ACME IT",
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_from="support@acme.example",
        outbox_poll_seconds=3600,
    )


def _resolve_by_service(app: FastAPI, ticket_id: int) -> None:
    with app.state.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        tickets.change_status(s, ticket, "resolved", ticket.created_by, "Replaced the toner.")


def _mail_with(inbox: Inbox, subject: str) -> EmailMessage:
    [message] = [m for _e, m in inbox.messages if m["Subject"] == subject]
    return message


async def test_ticket_received_in_english_with_headers(app: FastAPI, inbox: Inbox) -> None:
    worker = await manual_worker(app)
    ticket_id = new_ticket(app)  # the ticket service queues "received" itself

    assert await worker.run_once() == 1
    [(envelope, message)] = inbox.messages
    assert envelope.rcpt_tos == ["bob@example.org"]
    assert envelope.mail_from == "support@acme.example"
    assert message["To"] == "bob@example.org"
    assert message["From"] == "support@acme.example"
    assert message["Subject"] == f"We received your request (ticket #{ticket_id})"
    assert message["Content-Language"] == "en"
    assert message["Message-ID"].startswith("<veo-outbox-")
    text, html = text_of(message), html_of(message)
    assert "Hello Bob User," in text and f"#{ticket_id}: Printer offline" in text
    assert "ACME IT" in text
    assert '<html lang="en">' in html and "Hello Bob User," in html
    with app.state.db.session() as s:
        row = s.scalars(select(OutboxMessage)).one()
        assert (row.status, row.attempts, row.last_error) == ("sent", 1, "")
        assert row.sent_at is not None


async def test_join_link_in_spanish(app: FastAPI, client: httpx.AsyncClient, inbox: Inbox) -> None:
    worker = await manual_worker(app)
    auth = bearer(app, "ana@example.org")
    ticket_id = new_ticket(app)
    with app.state.db.session() as s:
        events.set_requester_language(s, ticket_id, "es-MX")
    created = await client.post(f"/api/v1/tickets/{ticket_id}/sessions", headers=auth)
    assert created.status_code == 201, created.text
    session = created.json()

    sent = await client.post(f"/api/v1/sessions/{session['id']}/email-link", headers=auth)
    assert sent.status_code == 202, sent.text
    assert sent.json()["status"] == "pending" and sent.json()["recipient"] == "bob@example.org"
    assert await worker.run_once() == 2

    link_mail = next(m for _e, m in inbox.messages if "join?code=" in text_of(m))
    assert link_mail["Content-Language"] == "es"
    assert link_mail["Subject"] == f"Asistencia remota: Ticket #{ticket_id}"
    text = text_of(link_mail)
    assert f"{BASE_URL}/join?code={session['code']}" in text
    assert f"Código: {session['code_display']}" in text
    assert '<html lang="es">' in html_of(link_mail)
    assert f'href="{BASE_URL}/join?code={session["code"]}"' in html_of(link_mail)
    with app.state.db.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.session_id == session["id"])))
    assert "session.link_emailed" in actions


async def test_join_link_only_while_the_code_is_valid(app: FastAPI, client: httpx.AsyncClient) -> None:
    await manual_worker(app)
    auth = bearer(app, "ana@example.org")
    ticket_id = new_ticket(app)
    created = (await client.post(f"/api/v1/tickets/{ticket_id}/sessions", headers=auth)).json()
    with app.state.db.session() as s:
        service.end_session(s, created["id"], by="technician", reason="test", actor="ana@example.org")
    refused = await client.post(f"/api/v1/sessions/{created['id']}/email-link", headers=auth)
    assert refused.status_code == 409
    assert refused.json()["code"] == "session_not_waiting"
    other = bearer(app, "otto@example.org")
    hidden = await client.post(f"/api/v1/sessions/{created['id']}/email-link", headers=other)
    assert hidden.status_code == 404
    with app.state.db.session() as s:
        assert s.scalars(select(OutboxMessage).where(OutboxMessage.event == "session.link")).all() == []


async def test_resolved_mail_links_to_a_rating_page(
    app: FastAPI, client: httpx.AsyncClient, inbox: Inbox
) -> None:
    worker = await manual_worker(app)
    ticket_id = new_ticket(app)
    _resolve_by_service(app, ticket_id)
    await worker.run_once()

    message = _mail_with(inbox, f"Ticket #{ticket_id} resolved: how did we do?")
    text = text_of(message)
    assert "Replaced the toner." in text
    match = re.search(rf"{re.escape(BASE_URL)}/rate/([A-Za-z0-9_-]+)", text)
    assert match, text
    path = f"/rate/{match.group(1)}"
    assert f'href="{BASE_URL}{path}"' in html_of(message)

    page = await client.get(path)
    assert page.status_code == 200 and 'name="score"' in page.text
    bad = await client.post(path, data={"score": "6", "comment": "x"})
    assert bad.status_code == 422 and 'id="score-error"' in bad.text
    done = await client.post(path, data={"score": "4", "comment": "Quick and kind"})
    assert done.status_code == 200 and 'id="rating-done"' in done.text
    again = await client.post(path, data={"score": "1"})
    assert again.status_code == 409 and 'id="rating-already"' in again.text
    with app.state.db.session() as s:
        stored = s.scalars(select(RatingRequest).where(RatingRequest.ticket_id == ticket_id)).one()
        assert (stored.score, stored.comment) == (4, "Quick and kind")
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.ticket_id == ticket_id)))
    assert actions.count("ticket.rated") == 1
    assert (await client.get("/rate/not-a-token")).status_code == 404
    ticket_page = await client.get(f"/tickets/{ticket_id}", headers=bearer(app, "ana@example.org"))
    assert 'class="ticket-rating" data-rating="4"' in ticket_page.text
    assert "Quick and kind" in ticket_page.text
    assert 'id="mail-undelivered"' not in ticket_page.text


async def test_api_reply_and_resolution_reach_the_requester(
    app: FastAPI, client: httpx.AsyncClient, inbox: Inbox
) -> None:
    """The ticket API's own flows queue the e-mails (hooks in the ticket service)."""
    worker = await manual_worker(app)
    auth = bearer(app, "ana@example.org")
    created = await client.post(
        "/api/v1/tickets",
        json={"title": "VPN drops", "requester_name": "Bob User", "requester_email": "bob@example.org"},
        headers=auth,
    )
    assert created.status_code == 201, created.text
    ticket_id = created.json()["id"]
    note = {"body": "Internal: check the firewall.", "public": False}
    assert (
        await client.post(f"/api/v1/tickets/{ticket_id}/comments", json=note, headers=auth)
    ).status_code == 201
    reply = {"body": "Please restart the VPN client.", "public": True}
    assert (
        await client.post(f"/api/v1/tickets/{ticket_id}/comments", json=reply, headers=auth)
    ).status_code == 201
    patch = {"status": "resolved", "resolution_note": "New VPN profile installed."}
    resolved = await client.patch(f"/api/v1/tickets/{ticket_id}", json=patch, headers=auth)
    assert resolved.status_code == 200, resolved.text

    assert await worker.run_once() == 3  # received, the public reply, resolved; never the internal note
    subjects = sorted(m["Subject"] for _e, m in inbox.messages)
    assert subjects == sorted(
        [
            f"We received your request (ticket #{ticket_id})",
            f"New reply on your ticket #{ticket_id}",
            f"Ticket #{ticket_id} resolved: how did we do?",
        ]
    )
    reply_mail = _mail_with(inbox, f"New reply on your ticket #{ticket_id}")
    assert "Please restart the VPN client." in text_of(reply_mail) and "Ana Tech replied" in text_of(
        reply_mail
    )
    assert "firewall" not in "".join(text_of(m) for _e, m in inbox.messages)
    resolved_mail = _mail_with(inbox, f"Ticket #{ticket_id} resolved: how did we do?")
    assert "New VPN profile installed." in text_of(resolved_mail)
    listed = await client.get("/api/v1/outbox", params={"ticket_id": ticket_id}, headers=auth)
    assert [i["status"] for i in listed.json()["items"]] == ["sent", "sent", "sent"]


async def test_ticket_page_button_emails_the_join_link(
    app: FastAPI, client: httpx.AsyncClient, inbox: Inbox
) -> None:
    worker = await manual_worker(app)
    csrf = await signed_in(app, client)
    ticket_id = new_ticket(app)
    started = await client.post(f"/tickets/{ticket_id}/sessions", data={"csrf_token": csrf})
    assert started.status_code == 303, started.text
    session_id = started.headers["location"].split("/")[2]
    page = await client.get(f"/tickets/{ticket_id}")
    assert f'action="/sessions/{session_id}/email-link"' in page.text

    forged = await client.post(f"/sessions/{session_id}/email-link", data={"csrf_token": "wrong"})
    assert forged.status_code == 403
    sent = await client.post(f"/sessions/{session_id}/email-link", data={"csrf_token": csrf})
    assert sent.status_code == 303
    assert sent.headers["location"] == f"/tickets/{ticket_id}#ticket-notices"
    await worker.run_once()
    [link_mail] = [m for _e, m in inbox.messages if "join?code=" in text_of(m)]
    with app.state.db.session() as s:
        row = s.get(RemoteSession, session_id)
        assert row is not None
        code = row.code
    assert f"{BASE_URL}/join?code={code}" in text_of(link_mail)
    console = await client.get(f"/sessions/{session_id}/console")
    assert 'id="email-link-form"' in console.text and "bob@example.org" in console.text
    form = {"csrf_token": csrf, "back": "console"}
    again = await client.post(f"/sessions/{session_id}/email-link", data=form)
    assert again.status_code == 303
    assert again.headers["location"] == f"/sessions/{session_id}/console?mailed=1"
    assert 'id="email-link-sent"' in (await client.get(again.headers["location"])).text
    after = await client.get(f"/tickets/{ticket_id}")
    assert 'id="ticket-notices"' in after.text and "session.link" in after.text


async def test_the_running_worker_sends_as_soon_as_the_ticket_commits(
    app: FastAPI, client: httpx.AsyncClient, inbox: Inbox
) -> None:
    """No ``run_once`` here: the commit that queued the e-mail wakes the worker (poll is 1 h)."""
    auth = bearer(app, "ana@example.org")
    body = {"title": "Mouse", "requester_name": "Bob User", "requester_email": "bob@example.org"}
    assert (await client.post("/api/v1/tickets", json=body, headers=auth)).status_code == 201
    assert await asyncio.to_thread(inbox.arrived.wait, 60), "the worker never sent the e-mail"
    [(_envelope, message)] = inbox.messages
    assert message["Subject"].startswith("We received your request")
