"""Outgoing webhooks: admin-configured endpoints that hear about ticket events, signed with HMAC.

Operators point these at their existing helpdesk, so veo's tickets and ratings show up there.
Each delivery is a POST of a JSON body with:

- ``X-Veo-Event``: the event name; ``X-Veo-Delivery``: the outbox id (same on every retry);
- ``X-Veo-Timestamp``: Unix seconds of this attempt;
- ``X-Veo-Signature: sha256=<hex>``: HMAC-SHA256 with the endpoint's secret over
  ``"<timestamp>.<body>"``. A receiver recomputes it and rejects old timestamps (replay).

The body is stored in the outbox as the exact text that is signed and sent, so retries deliver
identical bytes. A 2xx answer is success; 408, 429, 5xx and network errors are retried with
backoff; other 4xx are final (the receiver refuses this message).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.server.errors import InvalidInput, NotFound
from veo.server.lang import _
from veo.server.notify import outbox
from veo.server.notify.mailer import DeliveryError
from veo.server.notify.models import WebhookEndpoint

WEBHOOK_EVENTS = ("ticket.created", "ticket.reply", "ticket.resolved", "ticket.rated", "session.rated")
TIMEOUT_SECONDS = 10.0
RETRYABLE_STATUS = frozenset({408, 429})


def sign(secret: str, timestamp: int, body: str) -> str:
    """The ``X-Veo-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: str, signature: str, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: a matching signature on a recent timestamp (documented reference)."""
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def clean_endpoint(values: Mapping[str, Any]) -> tuple[str, list[str], str | None]:
    """URL (http or https with a host), events (known names, at least one), optional secret."""
    errors: dict[str, str] = {}
    url = values.get("url")
    if not isinstance(url, str) or not url.strip():
        errors["url"] = _(
            "Enter the address that receives the events, like https://helpdesk.example.org/veo."
        )
    else:
        url = url.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            errors["url"] = _("Only http:// and https:// addresses are allowed.")
        elif len(url) > 2000:
            errors["url"] = _("The address is limited to 2000 characters.")
    events = values.get("events")
    chosen: list[str] = []
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        errors["events"] = _("Choose at least one event: %(events)s.") % {"events": ", ".join(WEBHOOK_EVENTS)}
    else:
        unknown = [e for e in events if e not in WEBHOOK_EVENTS]
        if unknown:
            errors["events"] = _("Unknown event %(event)s; use: %(events)s.") % {
                "event": unknown[0][:40],
                "events": ", ".join(WEBHOOK_EVENTS),
            }
        chosen = [e for e in WEBHOOK_EVENTS if e in events]
    secret = values.get("secret")
    if secret is not None and (not isinstance(secret, str) or not 16 <= len(secret) <= 200):
        errors["secret"] = _("The secret must be 16 to 200 characters (leave it out to get a random one).")
    if errors:
        raise InvalidInput(errors)
    assert isinstance(url, str)
    return url, chosen, secret if isinstance(secret, str) else None


def create_endpoint(db: Session, values: Mapping[str, Any]) -> WebhookEndpoint:
    url, events, secret = clean_endpoint(values)
    endpoint = WebhookEndpoint(
        url=url, events=events, secret=secret or secrets.token_urlsafe(32), active=True
    )
    db.add(endpoint)
    db.flush()
    return endpoint


def list_endpoints(db: Session) -> list[WebhookEndpoint]:
    return list(db.scalars(select(WebhookEndpoint).order_by(WebhookEndpoint.id)))


def get_endpoint(db: Session, endpoint_id: int) -> WebhookEndpoint:
    endpoint = db.get(WebhookEndpoint, endpoint_id)
    if endpoint is None:
        raise NotFound(_("Webhook %(id)d does not exist.") % {"id": endpoint_id})
    return endpoint


def delete_endpoint(db: Session, endpoint_id: int) -> None:
    """Remove an endpoint and its queued deliveries (their log goes with it)."""
    db.delete(get_endpoint(db, endpoint_id))


def queue_event(db: Session, event: str, data: dict[str, Any], *, ticket_id: int | None) -> int:
    """One outbox delivery per active endpoint subscribed to ``event``; how many were queued."""
    body = json.dumps({"event": event, **data}, separators=(",", ":"), sort_keys=True, default=str)
    count = 0
    for endpoint in _subscribed(db, event):
        outbox.enqueue(
            db,
            kind="webhook",
            event=event,
            recipient=endpoint.url,
            payload={"body": body},
            ticket_id=ticket_id,
            webhook_id=endpoint.id,
        )
        count += 1
    return count


def _subscribed(db: Session, event: str) -> Iterable[WebhookEndpoint]:
    # Few endpoints exist; filtering the JSON list in Python works the same on every database.
    for endpoint in db.scalars(select(WebhookEndpoint).where(WebhookEndpoint.active.is_(True))):
        if event in endpoint.events:
            yield endpoint


async def deliver(
    client: httpx.AsyncClient, url: str, secret: str, event: str, body: str, delivery_id: int
) -> None:
    """POST one signed delivery; raise :class:`DeliveryError` unless the receiver answers 2xx."""
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "veo-webhooks/1",
        "X-Veo-Event": event,
        "X-Veo-Delivery": str(delivery_id),
        "X-Veo-Timestamp": str(timestamp),
        "X-Veo-Signature": sign(secret, timestamp, body),
    }
    try:
        response = await client.post(url, content=body.encode(), headers=headers, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as exc:
        raise DeliveryError(f"request failed: {type(exc).__name__}: {exc}") from None
    if 200 <= response.status_code < 300:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
    raise DeliveryError(f"HTTP {response.status_code}", permanent=permanent)
