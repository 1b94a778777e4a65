"""What the device-socket tests share: an app with ``/ws/device``, enrolled devices, a device that
answers its challenge, and waiting for what another task does (no timed assertion: a condition
polled until it holds, with a generous bound)."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect
from tests.integration.test_signaling import build_app

from veo.protocol.device import SessionRequest, auth_payload, encode_public_key
from veo.server.audit.models import AuditEvent
from veo.server.auth.models import User
from veo.server.db.engine import Database
from veo.server.devices import routes as device_routes
from veo.server.devices.line import DeviceLine
from veo.server.devices.models import Device, DeviceGroup
from veo.server.sessions import device_secret, service
from veo.server.sessions.models import RemoteSession

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

#: ``build_app``'s public URL: the origin every device signs.
ORIGIN = "http://veo.test"
#: The secret a device session's request carries (the session keeps its digest).
SECRET = "9f" * 32


def device_app(tmp_path: Path, database_url: str) -> tuple[FastAPI, dict[str, User], int]:
    """The sessions' bare test app (stand-in sign-in) with the device socket installed."""
    app, users, ticket_id = build_app(tmp_path, database_url)
    device_routes.install(app)
    return app, users, ticket_id


@dataclass
class Enrolled:
    device_id: str
    key: Ed25519PrivateKey


def enrol(
    db: Database, name: str = "Reception PC", *, policy: str = "ask", group: str = "Reception"
) -> Enrolled:
    """A device row as enrolment leaves it (its group made when missing)."""
    key = Ed25519PrivateKey.generate()
    device_id = (
        Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)[:16].hex()
    )
    public = encode_public_key(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    with db.session() as s:
        found = s.scalar(select(DeviceGroup).where(DeviceGroup.name == group))
        if found is None:
            found = DeviceGroup(name=group, policy=policy, roles=["technician"])
            s.add(found)
            s.flush()
        s.add(Device(id=device_id, group_id=found.id, name=name, public_key=public, os_name="Debian 12"))
    return Enrolled(device_id, key)


def send(ws: WebSocketTestSession, message: dict[str, Any]) -> None:
    ws.send_text(json.dumps({"v": 1, **message}))


def recv(ws: WebSocketTestSession, expected_type: str | None = None) -> dict[str, Any]:
    data: dict[str, Any] = ws.receive_json()
    if expected_type is not None:
        assert data["type"] == expected_type, data
    return data


def closed_with(ws: WebSocketTestSession) -> int:
    with pytest.raises(WebSocketDisconnect) as info:
        ws.receive_text()
    return info.value.code


def hello(
    ws: WebSocketTestSession,
    device: Enrolled,
    *,
    origin: str = ORIGIN,
    key: Ed25519PrivateKey | None = None,
    os_user: str = "maria",
    agent_version: str = "1.7.0",
) -> dict[str, Any]:
    """Answer the socket's challenge as ``device`` would; the server's answer."""
    challenge = recv(ws, "device_challenge")
    payload = auth_payload(bytes.fromhex(challenge["nonce"]), device.device_id, origin)
    signature = (key or device.key).sign(payload).hex()
    send(
        ws,
        {
            "type": "device_hello",
            "device_id": device.device_id,
            "signature": signature,
            "agent_version": agent_version,
            "os_name": "Debian 12",
            "os_user": os_user,
        },
    )
    return recv(ws)


def device_session(db: Database, users: dict[str, User], ticket_id: int, device: Enrolled) -> RemoteSession:
    """A waiting session on ``device``, as ``connect.connect`` leaves it (its secret: :data:`SECRET`)."""
    with db.session() as s:
        tech = s.get(User, users["tech"].id)
        assert tech is not None
        session = service.create_session(
            s,
            ticket_id=ticket_id,
            technician=tech,
            permissions=None,
            ttl_seconds=600,
            device_id=device.device_id,
            device_name="Reception PC",
            device_policy="ask",
            access_reason="Printer offline",
        )
        session.device_secret_digest = device_secret.digest(SECRET)
        return session


def request_for(session: RemoteSession) -> SessionRequest:
    assert session.code is not None
    return SessionRequest(
        session_id=session.id,
        code=session.code,
        secret=SECRET,
        policy="ask",
        reason="Printer offline",
        technician_name="Ana Tech",
        organization="ACME IT",
        ticket_id=session.ticket_id,
        ticket_title="Printer offline",
    )


def line_of(app: FastAPI) -> DeviceLine:
    line: DeviceLine = app.state.device_line
    return line


def row(db: Database, model: type[Any], key: str) -> Any:
    with db.session() as s:
        found = s.get(model, key)
        assert found is not None
        s.expunge(found)
        return found


def events(db: Database, action: str) -> list[AuditEvent]:
    with db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def eventually(check: Callable[[], Any], *, within: float = 30.0, what: str = "the condition") -> Any:
    """Poll ``check`` until it gives something true (another task's work landing)."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} never held")
        time.sleep(0.02)


def call(client: TestClient, work: Any, *args: Any) -> Any:
    """Run ``work`` (async) on the app's event loop."""
    assert client.portal is not None
    return client.portal.call(work, *args)
