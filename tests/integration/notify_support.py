"""Helpers for the notification tests: a real SMTP server on loopback, tickets, the worker.

The app's own background worker is stopped first so that each test drives the outbox with
``run_once(now=...)`` and can step through retries without waiting.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pyotp
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from fastapi import FastAPI
from tests.support import make_user

from veo.server.auth import service as auth_service
from veo.server.db.base import utcnow
from veo.server.notify.worker import OutboxWorker
from veo.server.tickets import service as tickets
from veo.server.tickets.models import Ticket


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Inbox:
    """What the SMTP server received; ``refuse_rcpt`` / ``data_reply`` make it misbehave."""

    messages: list[tuple[Envelope, EmailMessage]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    refuse_rcpt: str | None = None
    data_reply: str | None = None

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, options: list[str]
    ) -> str:
        if self.refuse_rcpt is not None:
            return self.refuse_rcpt
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        if self.data_reply is not None:
            return self.data_reply
        raw = envelope.content if isinstance(envelope.content, bytes) else str(envelope.content).encode()
        parsed = message_from_bytes(raw, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        self.messages.append((envelope, parsed))
        self.arrived.set()
        return "250 Message accepted"


@contextmanager
def smtp_server(port: int) -> Iterator[Inbox]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield inbox
    finally:
        controller.stop()


#: What a webhook receiver does with one POST: given its headers (names in lower case) and body,
#: the status to answer.
Answer = Callable[[dict[str, str], bytes], int]


@contextmanager
def webhook_receiver(answer: Answer) -> Iterator[str]:
    """A helpdesk stand-in on loopback that hands every POST to ``answer``; yields its URL."""

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            status = answer({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/veo"
    finally:
        server.shutdown()
        server.server_close()


async def manual_worker(app: FastAPI) -> OutboxWorker:
    """The app's worker, stopped, so the test calls ``run_once`` itself."""
    worker: OutboxWorker = app.state.outbox_worker
    await worker.stop()
    return worker


def new_ticket(app: FastAPI, **values: Any) -> int:
    account = make_user(app.state.db, f"creator-{uuid.uuid4().hex[:8]}@example.org")
    body = {"title": "Printer offline", "requester_name": "Bob User", "requester_email": "bob@example.org"}
    body.update(values)
    with app.state.db.session() as s:
        ticket = tickets.create_ticket(s, body, creator=account.user)
        return ticket.id


def ticket_row(app: FastAPI, ticket_id: int) -> Ticket:
    with app.state.db.session() as s:
        ticket = s.get(Ticket, ticket_id)
        assert ticket is not None
        return ticket


def bearer(app: FastAPI, email: str, role: str = "technician") -> dict[str, str]:
    """A bearer token straight from the service (admins would need TOTP to sign in by API)."""
    account = make_user(app.state.db, email, role=role)
    with app.state.db.session() as s:
        user = s.merge(account.user)
        if role == "admin":  # admins must have two-factor sign-in enrolled
            from veo.server.auth import totp

            secret = totp.start_enrolment(s, user).secret
            earlier = utcnow() - timedelta(seconds=30)
            totp.confirm_enrolment(s, user, pyotp.TOTP(secret).at(earlier), now=earlier)
        token, _expires = auth_service.issue_api_token(s, user)
    return {"Authorization": f"Bearer {token}"}


def text_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("plain",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]


def html_of(message: EmailMessage) -> str:
    part = message.get_body(preferencelist=("html",))
    assert part is not None
    return str(part.get_content())  # type: ignore[attr-defined]
