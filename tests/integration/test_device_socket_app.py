"""The device socket in the whole app (``create_app``): enrolled over ``POST /api/v1/enrol``,
authenticated on ``/ws/device`` against ``VEO_PUBLIC_URL``'s origin, reached by a technician's
``POST /api/v1/devices/{id}/sessions``, and told at once when an administrator revokes it.
SQLite and PostgreSQL; real WebSockets through Starlette's TestClient."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pyotp
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from tests.integration.device_socket_support import (
    Enrolled,
    closed_with,
    eventually,
    hello,
    recv,
    row,
    send,
)
from tests.integration.devices.device_support import make_group, make_token
from tests.support import BASE_URL, PASSWORD, enrol_totp, make_user

from veo.config import Settings
from veo.protocol.device import encode_public_key
from veo.server.devices.models import Device
from veo.server.sessions.models import RemoteSession

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
def live(settings: Settings) -> Iterator[tuple[FastAPI, TestClient]]:
    from veo.server.app import create_app

    app = create_app(settings)
    with TestClient(app, base_url=BASE_URL) as client:
        yield app, client


def _token(client: TestClient, app: FastAPI, email: str, role: str) -> dict[str, str]:
    make_user(app.state.db, email, name="Ana Tech", role=role)
    body: dict[str, Any] = {"email": email, "password": PASSWORD}
    if role == "admin":
        body["totp"] = pyotp.TOTP(enrol_totp(app.state.db, email)).now()
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def _enrol(client: TestClient, app: FastAPI) -> Enrolled:
    _, secret = make_token(app, make_group(app, policy="ask"))
    key = Ed25519PrivateKey.generate()
    public = encode_public_key(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    response = client.post(
        "/api/v1/enrol",
        json={"token": secret, "public_key": public, "name": "reception-01", "os_user": "maria"},
    )
    assert response.status_code in (200, 201), response.text
    return Enrolled(response.json()["device_id"], key)


def test_enrolled_over_https_reached_by_a_technician_and_revoked_by_an_admin(
    live: tuple[FastAPI, TestClient],
) -> None:
    app, client = live
    device = _enrol(client, app)
    tech = _token(client, app, "tech@example.org", "technician")
    admin = _token(client, app, "root@example.org", "admin")
    with client.websocket_connect("/ws/device") as ws:
        # the public URL's origin, as the device's configuration names the server
        welcome = hello(ws, device, origin=BASE_URL)
        assert welcome["type"] == "device_welcome" and welcome["device_name"] == "reception-01"
        found: Device = row(app.state.db, Device, device.device_id)
        assert found.connected_node == app.state.hub.node
        response = client.post(
            f"/api/v1/devices/{device.device_id}/sessions", json={"reason": "Printer offline"}, headers=tech
        )
        assert response.status_code == 201, response.text
        session_id = response.json()["id"]
        request = recv(ws, "session_request")
        assert (request["session_id"], request["reason"], request["policy"]) == (
            session_id,
            "Printer offline",
            "ask",
        )
        assert len(request["code"]) == 9
        send(ws, {"type": "session_launch", "session_id": session_id, "ok": True})
        eventually(lambda: not app.state.device_line.pending(), what="the wait settled")
        waiting: RemoteSession = row(app.state.db, RemoteSession, session_id)
        assert waiting.status == "waiting" and waiting.device_id == device.device_id
        response = client.post(f"/api/v1/devices/{device.device_id}/revoke", headers=admin)
        assert response.status_code == 200, response.text
        assert recv(ws) == {"v": 1, "type": "device_revoked"}
        assert closed_with(ws) == 1000
    with client.websocket_connect("/ws/device") as ws:
        assert hello(ws, device, origin=BASE_URL)["reason"] == "revoked"


def test_a_signature_for_another_origin_is_refused_by_the_whole_app(live: tuple[FastAPI, TestClient]) -> None:
    app, client = live
    device = _enrol(client, app)
    with client.websocket_connect("/ws/device") as ws:
        assert hello(ws, device, origin="http://testserver") == {
            "v": 1,
            "type": "device_refused",
            "reason": "bad_signature",
            "forget": False,
        }
