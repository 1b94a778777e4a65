"""Webhooks cannot reach this server or its private network unless the operator allows it.

The app here has no ``VEO_WEBHOOK_ALLOW``: internal URLs are refused when saved, and an endpoint
whose name resolves to loopback at delivery time is refused before any connection is made (a
listening socket on loopback proves that nothing connected). Failed connections read the same
whether the port was open or closed.
"""

from __future__ import annotations

import ipaddress
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.notify_support import bearer, manual_worker, new_ticket
from tests.integration.test_agent_tls import self_signed

from veo.server.notify import webhooks
from veo.server.notify.egress import AddressNotAllowed, AddressPolicy, IPAddress, guarded_client
from veo.server.notify.models import OutboxMessage, WebhookEndpoint

INTERNAL_URLS = [
    "http://127.0.0.1:8000/x", "http://2130706433/x", "http://user:pass@helpdesk.example.org/x",
    "http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/", "http://localhost:5432/",
    "http://[::ffff:127.0.0.1]/", "http://[64:ff9b::a9fe:a9fe]/", "http://[::1]/",
]  # fmt: skip


@contextmanager
def listening() -> Iterator[tuple[socket.socket, int]]:
    """A socket on loopback that accepts nothing by itself: a connection would wait in its backlog."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        sock.setblocking(False)
        yield sock, sock.getsockname()[1]


def connections(sock: socket.socket) -> int:
    """How many connections reached ``sock`` (a completed TCP connect waits in the backlog)."""
    count = 0
    while True:
        try:
            conn, _peer = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


def _add_endpoint(app: FastAPI, url: str) -> None:
    """As if saved before these checks existed, or before its name pointed inside."""
    with app.state.db.session() as s:
        s.add(WebhookEndpoint(url=url, events=["ticket.created"], secret="s" * 32, active=True))


def _deliveries(app: FastAPI) -> list[OutboxMessage]:
    with app.state.db.session() as s:
        query = select(OutboxMessage).where(OutboxMessage.kind == "webhook").order_by(OutboxMessage.id)
        return list(s.scalars(query))


async def test_internal_urls_are_refused_when_saved(app: FastAPI, client: httpx.AsyncClient) -> None:
    admin = bearer(app, "admin@example.org", role="admin")
    for url in INTERNAL_URLS:
        response = await client.post(
            "/api/v1/webhooks", json={"url": url, "events": ["ticket.created"]}, headers=admin
        )
        assert response.status_code == 422, (url, response.text)
        assert response.json()["message"].startswith("url:"), url
    assert (await client.get("/api/v1/webhooks", headers=admin)).json() == []
    page = await client.post(
        "/admin/webhooks?lang=es", data={"url": "http://10.0.0.1/", "events": "ticket.created"}, headers=admin
    )
    assert page.status_code == 422 and "VEO_WEBHOOK_ALLOW" in page.text and "red privada" in page.text


async def test_a_name_resolving_to_loopback_is_refused_at_delivery_without_connecting(app: FastAPI) -> None:
    worker = await manual_worker(app)
    with listening() as (sock, port):
        for host in ("localhost", "2130706433", "[::ffff:127.0.0.1]", "u:p@127.0.0.1"):
            _add_endpoint(app, f"http://{host}:{port}/hook")
        new_ticket(app)
        await worker.run_once()
        assert connections(sock) == 0
    deliveries = _deliveries(app)
    assert len(deliveries) == 4
    for message in deliveries:
        assert (message.status, message.last_error) == ("failed", webhooks.NOT_ALLOWED), message.recipient


async def test_open_and_closed_ports_read_the_same(app: FastAPI, client: httpx.AsyncClient) -> None:
    """With loopback allowed, a closed port and a port that answers garbage give one sentence."""
    worker = await manual_worker(app)
    worker.policy = AddressPolicy.parse("127.0.0.1")
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        closed_port = closed.getsockname()[1]  # bound, never listening: connections are refused

        class Garbage(BaseHTTPRequestHandler):
            def handle(self) -> None:
                self.wfile.write(b"SSH-2.0-OpenSSH_9.6\r\n")

        server = ThreadingHTTPServer(("127.0.0.1", 0), Garbage)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            _add_endpoint(app, f"http://127.0.0.1:{closed_port}/hook")
            _add_endpoint(app, f"http://127.0.0.1:{server.server_address[1]}/hook")
            new_ticket(app)
            await worker.run_once()
        finally:
            server.shutdown()
            server.server_close()
    errors = [m.last_error for m in _deliveries(app)]
    assert errors == [webhooks.UNREACHABLE, webhooks.UNREACHABLE]
    admin = bearer(app, "admin@example.org", role="admin")
    page = await client.get("/admin/outbox?kind=webhook&lang=es", headers=admin)
    assert "No se pudo contactar con el receptor." in page.text and "Connect" not in page.text


class Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str]] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        Recorder.seen.append((self.path, self.headers.get("Host", "")))
        self.send_response(302)
        self.send_header("Location", f"http://127.0.0.1:{self.server.redirect_port}/inside")  # type: ignore[attr-defined]
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


async def test_connects_to_the_checked_address_keeps_the_name_and_follows_no_redirect() -> None:
    """The resolver is asked once; the connection goes to its (checked) answer with the name as
    Host. ``hooks.example`` exists in no DNS, so a second lookup at connect time would fail."""
    lookups: list[str] = []

    async def resolver(host: str, port: int) -> list[IPAddress]:
        lookups.append(host)
        return [ipaddress.ip_address("127.0.0.1")]

    Recorder.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]
    try:
        with listening() as (inside, inside_port):
            server.redirect_port = inside_port  # type: ignore[attr-defined]
            async with guarded_client(AddressPolicy(), resolver) as refused:
                with pytest.raises(AddressNotAllowed):
                    await refused.post(f"http://hooks.example:{port}/hook", content=b"{}")
            assert Recorder.seen == [] and lookups == ["hooks.example"]
            async with guarded_client(AddressPolicy.parse("127.0.0.1"), resolver) as allowed:
                response = await allowed.post(f"http://hooks.example:{port}/hook", content=b"{}")
            assert response.status_code == 302 and connections(inside) == 0  # not followed
    finally:
        server.shutdown()
        server.server_close()
    assert Recorder.seen == [("/hook", f"hooks.example:{port}")]
    assert lookups == ["hooks.example", "hooks.example"]


async def test_tls_is_checked_against_the_name_on_the_pinned_address(tmp_path: Path) -> None:
    """The connection goes to the resolved 127.0.0.1, yet SNI and the certificate check use the
    URL's name: a certificate for ``hooks.example`` passes, the same server as ``wrong.example``
    does not."""
    cert, key = self_signed(tmp_path, ["hooks.example"])
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert, key)
    names: list[str | None] = []
    server_context.sni_callback = lambda _sock, name, _ctx: names.append(name)

    class Ok(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length", "0")))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    server.socket = server_context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    port = server.server_address[1]

    async def resolver(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address("127.0.0.1")]

    client_context = ssl.create_default_context(cafile=str(cert))
    try:
        async with guarded_client(AddressPolicy.parse("127.0.0.1"), resolver, client_context) as client:
            response = await client.post(f"https://hooks.example:{port}/hook", content=b"{}")
            assert response.status_code == 204
            with pytest.raises(httpx.ConnectError, match=r"(?i)certificate|hostname"):
                await client.post(f"https://wrong.example:{port}/hook", content=b"{}")
    finally:
        server.shutdown()
        server.server_close()
    assert names[:2] == ["hooks.example", "wrong.example"]
