"""Two server nodes on one database and one Redis: the device's socket on one, the request on the other.

A technician's request made on node A reaches the device whose socket node B holds (one bus
channel for all devices), the device's answer on B ends A's wait or the session, a revocation
made on A closes the socket on B, and a device that reconnects to A replaces its socket on B.
Real WebSockets (Starlette's TestClient), one app per node on its own event loop, Redis keys
under a random prefix; skipped when Redis does not answer, except in CI.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from tests.integration.device_socket_support import (
    Enrolled,
    call,
    closed_with,
    device_app,
    device_session,
    enrol,
    events,
    eventually,
    hello,
    line_of,
    recv,
    request_for,
    row,
    send,
)
from tests.integration.test_signaling_nodes import node_app, running_on_redis
from tests.unit.server.sessions.runtime_stores import random_prefix, redis_or_skip

from veo.server.auth.models import User
from veo.server.bus.redis import RedisBus
from veo.server.db.engine import Database
from veo.server.devices import routes as device_routes
from veo.server.devices.line import CLOSE_REPLACED, DeviceLine
from veo.server.devices.models import Device
from veo.server.sessions.models import RemoteSession

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(90)


@dataclass
class Node:
    app: FastAPI
    client: TestClient
    bus: RedisBus

    @property
    def line(self) -> DeviceLine:
        return line_of(self.app)

    @property
    def node(self) -> str:
        node: str = self.app.state.hub.node
        return node

    def device(self) -> Any:
        return self.client.websocket_connect("/ws/device")


@dataclass
class Pair:
    a: Node
    b: Node
    db: Database
    users: dict[str, User]
    ticket_id: int

    def session(self, device: Enrolled) -> RemoteSession:
        return device_session(self.db, self.users, self.ticket_id, device)

    def status(self, session_id: str) -> tuple[str, str | None]:
        found: RemoteSession = row(self.db, RemoteSession, session_id)
        return found.status, found.end_reason

    def holder(self, device: Enrolled) -> str | None:
        found: Device = row(self.db, Device, device.device_id)
        return found.connected_node


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[Pair]:
    asyncio.run(redis_or_skip())
    prefix = random_prefix()
    app_a, users, ticket_id = device_app(tmp_path, database_url)
    app_b = node_app(app_a, database_url, users)
    device_routes.install(app_b)
    with running_on_redis(app_a, app_b, prefix) as ((client_a, bus_a), (client_b, bus_b)):
        a, b = Node(app_a, client_a, bus_a), Node(app_b, client_b, bus_b)
        for node in (a, b):
            eventually(lambda node=node: node.line.listening, what="the line listening")  # type: ignore[misc]
        yield Pair(a, b, app_a.state.db, users, ticket_id)


def test_a_request_made_on_node_a_reaches_the_device_held_by_node_b(pair: Pair) -> None:
    device = enrol(pair.db)
    session = pair.session(device)
    request = request_for(session)
    with pair.b.device() as ws:
        hello(ws, device)
        assert pair.holder(device) == pair.b.node
        assert pair.a.line.presence.holder(device.device_id) is None
        call(pair.a.client, pair.a.line.request_session, device.device_id, request)
        assert recv(ws, "session_request") == request.model_dump()
        assert pair.a.line.pending() == {session.id}
        send(ws, {"type": "session_launch", "session_id": session.id, "ok": True})
        # the answer came to B; A's wait ends through the bus
        eventually(lambda: not pair.a.line.pending(), what="node A's wait settled")
    assert pair.status(session.id)[0] == "waiting"


def test_a_failed_launch_on_node_b_ends_the_session_requested_on_node_a(pair: Pair) -> None:
    device = enrol(pair.db)
    session = pair.session(device)
    with pair.b.device() as ws:
        hello(ws, device)
        call(pair.a.client, pair.a.line.request_session, device.device_id, request_for(session))
        recv(ws, "session_request")
        send(ws, {"type": "session_launch", "session_id": session.id, "ok": False, "problem": "busy"})
        eventually(lambda: pair.status(session.id) == ("ended", "device_unavailable"), what="the end")
        eventually(lambda: not pair.a.line.pending(), what="node A's wait settled")
    (failed,) = events(pair.db, "session.device_launch_failed")
    assert failed.details == {"problem": "busy", "device_id": device.device_id}


def test_node_a_ends_the_session_when_the_device_on_node_b_stays_silent(pair: Pair) -> None:
    pair.a.line.launch_seconds = 0.3
    device = enrol(pair.db)
    session = pair.session(device)
    with pair.b.device() as ws:
        hello(ws, device)
        call(pair.a.client, pair.a.line.request_session, device.device_id, request_for(session))
        recv(ws, "session_request")
        eventually(lambda: pair.status(session.id) == ("ended", "device_unreachable"), what="the end")


def test_a_revocation_made_on_node_a_closes_the_socket_on_node_b(pair: Pair) -> None:
    device = enrol(pair.db)
    with pair.b.device() as ws:
        hello(ws, device)
        call(pair.a.client, pair.a.line.revoked, device.device_id)
        assert recv(ws) == {"v": 1, "type": "device_revoked"}
        assert closed_with(ws) == 1000
    eventually(lambda: pair.holder(device) is None, what="node B's claim cleared")


def test_a_device_that_reconnects_to_node_a_replaces_its_socket_on_node_b(pair: Pair) -> None:
    device = enrol(pair.db)
    with pair.b.device() as old:
        hello(old, device)
        assert pair.holder(device) == pair.b.node
        with pair.a.device() as new:
            assert hello(new, device)["type"] == "device_welcome"
            assert closed_with(old) == CLOSE_REPLACED
            eventually(lambda: pair.b.line.presence.holder(device.device_id) is None, what="B let go")
            # B's close did not take A's claim away
            assert pair.holder(device) == pair.a.node
            session = pair.session(device)
            call(pair.b.client, pair.b.line.request_session, device.device_id, request_for(session))
            assert recv(new, "session_request")["session_id"] == session.id


def test_node_b_does_not_deliver_a_request_whose_session_already_ended(pair: Pair) -> None:
    """As after a Redis reconnect, when the bus replays notices up to two minutes old."""
    device = enrol(pair.db)
    ended, live = pair.session(device), pair.session(device)
    with pair.db.session() as s:
        from veo.server.sessions import service

        service.end_session(s, ended.id, by="technician", reason="hangup", actor="tech@example.org")
    with pair.b.device() as ws:
        hello(ws, device)
        call(pair.a.client, pair.a.line.request_session, device.device_id, request_for(ended))
        call(pair.a.client, pair.a.line.request_session, device.device_id, request_for(live))
        # notices are handled in order on B: the first thing the device gets is the live one
        assert recv(ws, "session_request")["session_id"] == live.id


def test_refused_authentications_are_counted_by_every_node_together(pair: Pair) -> None:
    """The device socket's limiter lives on Redis: refusals on node A hold the address back on B."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from redis import asyncio as aioredis
    from tests.integration.device_socket_support import Enrolled
    from tests.unit.server.sessions.runtime_stores import REDIS_URL

    from veo.server.devices.auth_limit import create_auth_limiter
    from veo.server.sessions.ratelimit import RedemptionLimiter
    from veo.server.sessions.ratelimit_redis import RedisStore

    prefix = f"{random_prefix()}:devauth:"

    def shared() -> RedemptionLimiter:  # one client per node: each runs in its own event loop
        limiter = create_auth_limiter(None, max_failures=2)
        limiter.store = RedisStore.from_url(REDIS_URL, prefix=prefix)
        return limiter

    pair.a.line.auth_limiter = shared()
    pair.b.line.auth_limiter = shared()
    stranger = Enrolled("c" * 32, Ed25519PrivateKey.generate())
    try:
        for _ in range(2):
            with pair.a.device() as ws:
                assert hello(ws, stranger)["reason"] == "unknown_device"
        with pair.b.device() as ws:
            recv(ws, "device_challenge")
            send(ws, {"type": "device_hello", "device_id": "c" * 32, "signature": "00" * 64})
            assert closed_with(ws) == 1013
        assert (pair.a.line.throttled, pair.b.line.throttled) == (0, 1)
    finally:

        async def cleanup() -> None:
            client = aioredis.Redis.from_url(REDIS_URL)
            try:
                async for key in client.scan_iter(f"{prefix}*"):
                    await client.delete(key)
            finally:
                await client.aclose()

        asyncio.run(cleanup())


def test_node_b_audits_its_socket_replaced_from_another_address_on_node_a(
    pair: Pair, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import select

    from veo.server.audit.models import AuditEvent
    from veo.server.devices import socket as device_socket

    where = iter(["10.0.0.7", "203.0.113.9"])
    monkeypatch.setattr(device_socket, "client_address", lambda _ws: next(where))
    device = enrol(pair.db)
    with pair.b.device() as old:
        hello(old, device)
        with pair.a.device() as new:
            assert hello(new, device)["type"] == "device_welcome"
            assert closed_with(old) == CLOSE_REPLACED

            def audited() -> list[AuditEvent]:
                with pair.db.session() as s:
                    return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "device.replaced")))

            (row,) = eventually(audited, what="device.replaced written by node B")
    assert row.details is not None
    assert (row.details["from"], row.details["to"]) == ("10.0.0.7", "203.0.113.9")
