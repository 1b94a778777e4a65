"""A failing SMTP server: retries with backoff, a visible failure, and the ticket untouched."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import Inbox, bearer, free_port, manual_worker, new_ticket, smtp_server
from tests.support import BASE_URL

from veo.config import Settings
from veo.server.db.base import utcnow
from veo.server.notify import outbox
from veo.server.notify.models import OutboxMessage
from veo.server.notify.status import delivery_label, error_text


@pytest.fixture
def smtp_port() -> int:
    return free_port()


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp_port: int) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        public_url=BASE_URL,
        smtp_host="127.0.0.1",
        smtp_port=smtp_port,
        smtp_timeout_seconds=5,
        outbox_poll_seconds=3600,
    )


@pytest.fixture
def refusing(smtp_port: int) -> Iterator[Inbox]:
    with smtp_server(smtp_port) as inbox:
        yield inbox


def _message(app: FastAPI) -> OutboxMessage:
    with app.state.db.session() as s:
        return s.scalars(select(OutboxMessage)).one()


async def test_server_down_retries_with_backoff_then_fails_visibly(
    app: FastAPI, client: httpx.AsyncClient, smtp_port: int
) -> None:
    worker = await manual_worker(app)
    ticket_id = new_ticket(app)
    now = utcnow()

    assert await worker.run_once(now) == 1  # nothing listens on the port
    first = _message(app)
    assert (first.status, first.attempts) == ("pending", 1)
    assert "unreachable" in first.last_error
    assert first.next_attempt_at == now + timedelta(seconds=outbox.BACKOFF_SECONDS[0])
    with app.state.db.session():
        assert delivery_label(first).startswith("not delivered, retrying")
    assert await worker.run_once(now + timedelta(seconds=1)) == 0  # not due yet

    moment = now
    for delay in outbox.BACKOFF_SECONDS:
        moment += timedelta(seconds=delay + 1)
        assert await worker.run_once(moment) == 1
    final = _message(app)
    assert (final.status, final.attempts) == ("failed", outbox.MAX_ATTEMPTS)
    assert await worker.run_once(moment + timedelta(days=1)) == 0  # never retried silently again

    # The ticket is intact, and the failure is visible to admins in the API and on the page.
    auth = bearer(app, "tech@example.org")
    ticket = await client.get(f"/api/v1/tickets/{ticket_id}", headers=auth)
    assert ticket.status_code == 200 and ticket.json()["title"] == "Printer offline"
    admin = bearer(app, "admin@example.org", role="admin")
    listed = await client.get("/api/v1/outbox", params={"status": "failed"}, headers=admin)
    assert listed.status_code == 200, listed.text
    [item] = listed.json()["items"]
    assert item["ticket_id"] == ticket_id and item["attempts"] == outbox.MAX_ATTEMPTS
    assert "unreachable" in item["last_error"]
    page = await client.get(f"/tickets/{ticket_id}", headers=auth)
    assert page.status_code == 200
    assert 'id="mail-undelivered"' in page.text and 'data-status="failed"' in page.text
    mine = await client.get("/api/v1/outbox", params={"ticket_id": ticket_id}, headers=auth)
    assert mine.status_code == 200 and mine.json()["total"] == 1
    of_hooks = {"ticket_id": ticket_id, "kind": "webhook"}
    hooks = await client.get("/api/v1/outbox", params=of_hooks, headers=auth)
    assert hooks.status_code == 403
    everything = await client.get("/api/v1/outbox", headers=auth)
    assert everything.status_code == 403 and everything.json()["code"] == "forbidden"
    bad = await client.get("/api/v1/outbox", params={"status": "lost"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_request"

    # Once the server is back an admin retries it and it goes out.
    with smtp_server(smtp_port) as inbox:
        retried = await client.post(f"/api/v1/outbox/{item['id']}/retry", headers=admin)
        assert retried.status_code == 200 and retried.json()["status"] == "pending"
        assert await worker.run_once() == 1
        assert len(inbox.messages) == 1
    assert _message(app).status == "sent"


async def test_recipient_refused_is_final_at_once(app: FastAPI, refusing: Inbox) -> None:
    refusing.refuse_rcpt = "550 5.1.1 No such mailbox"
    worker = await manual_worker(app)
    new_ticket(app)
    await worker.run_once()
    message = _message(app)
    assert (message.status, message.attempts) == ("failed", 1)
    assert "refused" in message.last_error
    assert refusing.messages == []


async def test_temporary_refusal_is_retried(app: FastAPI, refusing: Inbox) -> None:
    refusing.data_reply = "451 4.3.0 Try again later"
    worker = await manual_worker(app)
    new_ticket(app)
    now = utcnow()
    await worker.run_once(now)
    message = _message(app)
    assert (message.status, message.attempts) == ("pending", 1)
    assert "451" in message.last_error
    refusing.data_reply = None
    await worker.run_once(now + timedelta(seconds=outbox.BACKOFF_SECONDS[0] + 1))
    assert _message(app).status == "sent"
    assert len(refusing.messages) == 1


async def test_without_smtp_settings_mail_waits_visibly(app: FastAPI) -> None:
    app.state.outbox_worker.settings = app.state.settings.model_copy(update={"smtp_host": None})
    worker = await manual_worker(app)
    new_ticket(app)
    await worker.run_once()
    message = _message(app)
    assert (message.status, message.attempts) == ("pending", 0)
    assert "VEO_SMTP_HOST" in message.last_error
    # The page says it with the state (in the reader's language), not with the log's English note.
    assert delivery_label(message) == "waiting: e-mail is not set up on this server yet"
    assert error_text(message) == ""
