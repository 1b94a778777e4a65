"""Webhooks delivered to a real HTTP server on loopback: signed, retried on 500, logged."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import bearer, manual_worker, new_ticket, webhook_receiver
from tests.support import app_settings

from veo.config import Settings
from veo.server.audit.models import AuditEvent
from veo.server.db.base import utcnow
from veo.server.notify import events, outbox, webhooks
from veo.server.notify.egress import AddressPolicy
from veo.server.notify.models import OutboxMessage
from veo.server.tickets.models import Ticket


@dataclass
class Receiver:
    """A helpdesk stand-in: records each POST and answers the next status in ``answers``."""

    url: str = ""
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    answers: list[int] = field(default_factory=list)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    def answer(headers: dict[str, str], body: bytes) -> int:
        state.requests.append((headers, body))
        return state.answers.pop(0) if state.answers else 200

    with webhook_receiver(answer) as state.url:
        yield state


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The receiver listens on loopback, which webhooks reach only because the operator allows it."""
    return app_settings(database_url, tmp_path, outbox_poll_seconds=3600, webhook_allow="127.0.0.1")


def _deliveries(app: FastAPI) -> list[OutboxMessage]:
    with app.state.db.session() as s:
        return list(
            s.scalars(select(OutboxMessage).where(OutboxMessage.kind == "webhook").order_by(OutboxMessage.id))
        )


async def test_signed_delivery_retried_on_500(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    worker = await manual_worker(app)
    admin = bearer(app, "admin@example.org", role="admin")
    created = await client.post(
        "/api/v1/webhooks",
        json={"url": receiver.url, "events": ["ticket.created", "ticket.resolved"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert len(secret) >= 16 and created.json()["events"] == ["ticket.created", "ticket.resolved"]
    listed = await client.get("/api/v1/webhooks", headers=admin)
    assert [w["url"] for w in listed.json()] == [receiver.url] and "secret" not in listed.json()[0]

    ticket_id = new_ticket(app)  # the ticket service announces it
    receiver.answers = [500]
    now = utcnow()
    assert await worker.run_once(now) == 2  # the webhook, and the e-mail (waiting: no SMTP set)
    [failed] = _deliveries(app)
    assert (failed.status, failed.attempts, failed.last_error) == ("pending", 1, "HTTP 500")
    assert await worker.run_once(now + timedelta(seconds=outbox.BACKOFF_SECONDS[0] + 1)) == 1
    [delivered] = _deliveries(app)
    assert (delivered.status, delivered.attempts) == ("sent", 2)

    assert len(receiver.requests) == 2
    (first_headers, first_body), (headers, body) = receiver.requests
    assert body == first_body and headers["x-veo-delivery"] == first_headers["x-veo-delivery"]
    assert headers["content-type"] == "application/json" and headers["x-veo-event"] == "ticket.created"
    timestamp = int(headers["x-veo-timestamp"])
    assert abs(timestamp - time.time()) < 3600
    assert webhooks.verify(secret, timestamp, body.decode(), headers["x-veo-signature"], now=timestamp)
    assert headers["x-veo-signature"] == webhooks.sign(secret, timestamp, body.decode())
    assert not webhooks.verify(
        "wrong-secret-0123456789", timestamp, body.decode(), headers["x-veo-signature"], now=timestamp
    )
    assert not webhooks.verify(
        secret, timestamp, body.decode(), headers["x-veo-signature"], now=timestamp + 301
    )
    payload = json.loads(body)
    assert payload["event"] == "ticket.created"
    assert payload["ticket"] == {
        "id": ticket_id,
        "title": "Printer offline",
        "status": "new",
        "requester_name": "Bob User",
        "requester_email": "bob@example.org",
    }

    log = await client.get("/api/v1/outbox", params={"webhook_id": created.json()["id"]}, headers=admin)
    assert log.status_code == 200 and [i["status"] for i in log.json()["items"]] == ["sent"]


async def test_only_subscribed_events_and_final_4xx(app: FastAPI, receiver: Receiver) -> None:
    worker = await manual_worker(app)
    with app.state.db.session() as s:
        webhooks.create_endpoint(
            s, {"url": receiver.url, "events": ["ticket.resolved"]}, AddressPolicy.parse("127.0.0.1")
        )
    ticket_id = new_ticket(app)  # "ticket.created" is not subscribed: nothing queued
    assert _deliveries(app) == []
    with app.state.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        events.ticket_resolved(s, ticket)
    receiver.answers = [410]
    await worker.run_once()
    [gone] = _deliveries(app)
    assert (gone.status, gone.attempts, gone.last_error) == ("failed", 1, "HTTP 410")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.org/x", "events": ["ticket.created"]}, "url"),
        ({"url": "file:///etc/passwd", "events": ["ticket.created"]}, "url"),
        ({"url": "https://", "events": ["ticket.created"]}, "url"),
        ({"url": "https://helpdesk.example.org", "events": []}, "events"),
        ({"url": "https://helpdesk.example.org", "events": ["ticket.exploded"]}, "events"),
        ({"url": "https://helpdesk.example.org", "events": ["ticket.created"], "secret": "short"}, "secret"),
        ({"events": ["ticket.created"]}, "url"),
    ],
)
async def test_bad_endpoints_are_refused(
    app: FastAPI, client: httpx.AsyncClient, body: dict[str, object], field: str
) -> None:
    admin = bearer(app, "admin@example.org", role="admin")
    response = await client.post("/api/v1/webhooks", json=body, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_request"
    assert response.json()["message"].startswith(f"{field}:")
    assert (await client.get("/api/v1/webhooks", headers=admin)).json() == []


async def test_only_admins_manage_webhooks(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    tech = bearer(app, "tech@example.org")
    refused = await client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["ticket.created"]}, headers=tech
    )
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    admin = bearer(app, "admin@example.org", role="admin")
    created = await client.post(
        "/api/v1/webhooks", json={"url": receiver.url, "events": ["ticket.created"]}, headers=admin
    )
    webhook_id = created.json()["id"]
    assert (await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=tech)).status_code == 403
    assert (await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=admin)).status_code == 204
    assert (await client.delete(f"/api/v1/webhooks/{webhook_id}", headers=admin)).status_code == 404
    with app.state.db.session() as s:
        actions = list(s.scalars(select(AuditEvent.action).where(AuditEvent.action.like("webhook.%"))))
    assert actions == ["webhook.created", "webhook.deleted"]


async def test_admin_pages_add_list_and_remove(
    app: FastAPI, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    await manual_worker(app)
    admin = bearer(app, "admin@example.org", role="admin")
    tech = bearer(app, "tech@example.org")
    assert (await client.get("/admin/webhooks", headers=tech)).status_code == 403
    assert (await client.get("/admin/outbox", headers=tech)).status_code == 403
    page = await client.get("/admin/webhooks", headers=admin)
    assert page.status_code == 200 and 'id="webhook-form"' in page.text
    # each event as a sentence in the reader's language, its code beside it for the receiver
    spanish = (await client.get("/admin/webhooks?lang=es", headers=admin)).text
    assert "Se crea un ticket <code>ticket.created</code>" in spanish

    bad = await client.post(
        "/admin/webhooks", data={"url": "gopher://x", "events": "ticket.created"}, headers=admin
    )
    assert bad.status_code == 422 and 'id="url-error"' in bad.text and 'value="gopher://x"' in bad.text
    none = await client.post("/admin/webhooks", data={"url": receiver.url}, headers=admin)
    assert none.status_code == 422 and 'id="events-error"' in none.text
    with app.state.db.session() as s:
        assert webhooks.list_endpoints(s) == []

    added = await client.post(
        "/admin/webhooks",
        data={"url": receiver.url, "events": ["ticket.created", "ticket.rated"]},
        headers=admin,
    )
    assert added.status_code == 201 and 'id="webhook-secret"' in added.text
    with app.state.db.session() as s:
        [endpoint] = webhooks.list_endpoints(s)
    assert endpoint.secret in added.text and endpoint.events == ["ticket.created", "ticket.rated"]
    listed = await client.get("/admin/webhooks", headers=admin)
    assert receiver.url in listed.text and endpoint.secret not in listed.text

    new_ticket(app)
    log = await client.get("/admin/outbox", params={"kind": "webhook"}, headers=admin)
    assert log.status_code == 200 and receiver.url in log.text and "ticket.created" in log.text

    removed = await client.post(f"/admin/webhooks/{endpoint.id}/delete", headers=admin)
    assert removed.status_code == 303
    with app.state.db.session() as s:
        assert webhooks.list_endpoints(s) == []
