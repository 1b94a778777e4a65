"""Outgoing webhooks: admin-configured endpoints that hear about ticket events, signed with HMAC.

Operators point these at their existing helpdesk, so veo's tickets and ratings show up there.
Each delivery is a POST of a JSON body with:

- ``X-Veo-Event``: the event name; ``X-Veo-Delivery``: the outbox id (same on every retry);
- ``Idempotency-Key``: the id and the row's creation time (``outbox.delivery_key``, e.g.
  ``412.1796112123456789``), same on every retry and unique even after a restore of an older
  backup, under the name receivers' frameworks commonly look for.
  Delivery is at least once: a node that dies (or loses its database) after the receiver
  answered and before the success was stored sends the message again later, so a receiver
  that must not act twice keeps the keys it has seen and answers 2xx to a repeat;
- ``X-Veo-Timestamp``: Unix seconds of this attempt;
- ``X-Veo-Signature: sha256=<hex>``: HMAC-SHA256 with the endpoint's secret over
  ``"<timestamp>.<body>"``. A receiver recomputes it and rejects old timestamps (replay).

The body is stored in the outbox as the exact text that is signed and sent, so retries deliver
identical bytes. A 2xx answer is success; 408, 429, 5xx and network errors are retried with
backoff; other 4xx are final (the receiver refuses this message). Redirects are not followed.

Only public addresses are reached, unless ``VEO_WEBHOOK_ALLOW`` names others (``egress.py``):
checked when an endpoint is saved (IP literals, ``localhost``, no ``user:password@``) and again
on the resolved addresses when a delivery connects. A failed connection is logged with its
details on the server and shown to administrators as one fixed sentence, so the outbox page
cannot tell an open port from a closed one.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session

from veo.i18n import N_
from veo.server.errors import InvalidInput, NotFound
from veo.server.lang import _
from veo.server.notify import outbox
from veo.server.notify.egress import AddressNotAllowed, AddressPolicy
from veo.server.notify.mailer import TOO_SLOW, DeliveryError
from veo.server.notify.models import WebhookEndpoint

WEBHOOK_EVENTS = ("ticket.created", "ticket.reply", "ticket.resolved", "ticket.rated", "session.rated")
TIMEOUT_SECONDS = 10.0
RETRYABLE_STATUS = frozenset({408, 429})
log = logging.getLogger(__name__)
#: ``last_error`` of every delivery that failed before an HTTP answer. Stored in English and
#: translated when shown (``status.error_text``): marked with ``N_`` for the catalog.
UNREACHABLE = N_("The receiver could not be reached.")
#: ``last_error`` of a delivery refused because its address is not public (nothing was sent).
NOT_ALLOWED = N_(
    "The receiver's address is not allowed: it is not public, and VEO_WEBHOOK_ALLOW does not name it."
)
#: The fixed sentences a webhook delivery stores as ``last_error``.
FIXED_ERRORS = frozenset({UNREACHABLE, NOT_ALLOWED, TOO_SLOW})


def sign(secret: str, timestamp: int, body: str) -> str:
    """The ``X-Veo-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: str, signature: str, *, now: int, tolerance: int = 300) -> bool:
    """What a receiver does: a matching signature on a recent timestamp (documented reference)."""
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def url_problem(url: str, policy: AddressPolicy) -> str | None:
    """Why ``url`` cannot be a webhook, judged without DNS (None: fine so far)."""
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number in range
    except ValueError:
        return _("This is not a valid address.")
    if parts.scheme not in ("http", "https") or not host:
        return _("Only http:// and https:// addresses are allowed.")
    if len(url) > 2000:
        return _("The address is limited to 2000 characters.")
    if "@" in parts.netloc:
        return _(
            "The address must not contain a user name or password; the receiver checks the "
            "X-Veo-Signature header instead."
        )
    if not policy.allows_host_statically(host):
        return _(
            "This address is on this server or a private network, which webhooks may not reach. "
            "An operator can allow it with the VEO_WEBHOOK_ALLOW setting."
        )
    return None


def clean_endpoint(values: Mapping[str, Any], policy: AddressPolicy) -> tuple[str, list[str], str | None]:
    """URL (http or https with a host, public unless allowed), events (known names, at least
    one), optional secret."""
    errors: dict[str, str] = {}
    url = values.get("url")
    if not isinstance(url, str) or not url.strip():
        errors["url"] = _(
            "Enter the address that receives the events, like https://helpdesk.example.org/veo."
        )
    else:
        url = url.strip()
        problem = url_problem(url, policy)
        if problem is not None:
            errors["url"] = problem
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


def create_endpoint(db: Session, values: Mapping[str, Any], policy: AddressPolicy) -> WebhookEndpoint:
    url, events, secret = clean_endpoint(values, policy)
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
    client: httpx.AsyncClient,
    url: str,
    secret: str,
    event: str,
    body: str,
    delivery_id: int,
    policy: AddressPolicy,
    key: str,
) -> None:
    """POST one signed delivery; raise :class:`DeliveryError` unless the receiver answers 2xx.

    ``client`` must be ``egress.guarded_client(policy)``: it checks the resolved addresses.
    The URL is checked here too, for endpoints saved before these checks existed.
    """
    problem = url_problem(url, policy)
    if problem is not None:
        log.warning("webhook delivery %d to %s refused: %s", delivery_id, url, problem)
        raise DeliveryError(NOT_ALLOWED, permanent=True)
    timestamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "veo-webhooks/1",
        "X-Veo-Event": event,
        "X-Veo-Delivery": str(delivery_id),
        "Idempotency-Key": key,
        "X-Veo-Timestamp": str(timestamp),
        "X-Veo-Signature": sign(secret, timestamp, body),
    }
    try:
        response = await client.post(
            url, content=body.encode(), headers=headers, timeout=TIMEOUT_SECONDS, follow_redirects=False
        )
    except AddressNotAllowed as exc:
        log.warning("webhook delivery %d to %s refused: %s", delivery_id, url, exc)
        raise DeliveryError(NOT_ALLOWED, permanent=True) from None
    except httpx.HTTPError as exc:  # the details (refused, reset, timeout) stay in the server log
        log.warning("webhook delivery %d to %s failed: %s: %s", delivery_id, url, type(exc).__name__, exc)
        raise DeliveryError(UNREACHABLE) from None
    if 200 <= response.status_code < 300:
        return
    permanent = 400 <= response.status_code < 500 and response.status_code not in RETRYABLE_STATUS
    raise DeliveryError(f"HTTP {response.status_code}", permanent=permanent)
