"""Helpers of the device tests: an administrator with a bearer token, groups, tokens, devices."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pyotp
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select
from tests.support import PASSWORD, enrol_totp, make_user

from veo.protocol.device import EnrolRequest, SessionRequest, encode_public_key

if TYPE_CHECKING:
    from fastapi import FastAPI

    from veo.server.audit.models import AuditEvent

ADMIN = "root@example.org"
TECH = "tech@example.org"


async def admin_headers(app: FastAPI, client: httpx.AsyncClient, email: str = ADMIN) -> dict[str, str]:
    make_user(app.state.db, email, name="Root Admin", role="admin")
    secret = enrol_totp(app.state.db, email)
    body = {"email": email, "password": PASSWORD, "totp": pyotp.TOTP(secret).now()}
    response = await client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


def public_key() -> str:
    raw = Ed25519PrivateKey.generate().public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return encode_public_key(raw)


def enrol_body(token: str, name: str = "reception-01", **extra: Any) -> dict[str, Any]:
    body = {"token": token, "public_key": public_key(), "name": name, "hostname": name, "os_user": "maria"}
    return body | extra


def make_group(
    app: FastAPI, name: str = "Reception", policy: str = "ask", roles: tuple[str, ...] = ("technician",)
) -> int:
    from veo.server.devices import groups

    with app.state.db.session() as s:
        return groups.create_group(s, name=name, policy=policy, roles=list(roles), actor="cli").id


def make_token(
    app: FastAPI, group_id: int, *, unattended: bool = False, creator_email: str | None = None
) -> tuple[str, str]:
    """(token id, secret)."""
    from veo.server.auth import service as accounts
    from veo.server.devices import tokens

    with app.state.db.session() as s:
        creator: Any = "cli"
        if creator_email is not None:
            creator = accounts.get_by_email(s, creator_email)
        token, secret = tokens.create_token(s, group_id=group_id, unattended=unattended, creator=creator)
        return token.id, secret


def make_device(
    app: FastAPI, group_id: int, *, name: str = "reception-01", unattended: bool = False, online: bool = True
) -> str:
    """Enrol a device through the service and mark it connected now."""
    from veo.server.db.base import utcnow
    from veo.server.devices import enrol
    from veo.server.devices.models import Device

    _, secret = make_token(app, group_id, unattended=unattended)
    with app.state.db.session() as s:
        result = enrol.enrol(
            s, EnrolRequest.model_validate(enrol_body(secret, name)), address="10.0.0.9", organization="ACME"
        )
        assert not isinstance(result, enrol.Refused), result
        device = s.get(Device, result.device_id)
        assert device is not None
        if online:
            device.connected_node = "node-test"
            device.last_seen_at = utcnow() - timedelta(seconds=5)
        return result.device_id


def events(app: FastAPI, action: str) -> list[AuditEvent]:
    from veo.server.audit.models import AuditEvent

    with app.state.db.session() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)))


def allow_unattended(app: FastAPI, role: str = "technician") -> None:
    from veo.server.policies import service as policies
    from veo.server.policies.capabilities import Capability

    with app.state.db.session() as s:
        current = policies.policy_for_role(s, role)
        policies.set_policy(
            s,
            role,
            capabilities=current.capabilities | {Capability.UNATTENDED},
            totp_required=current.totp_required,
            identity_before_control=current.identity_before_control,
            actor="cli",
        )


class FakeLine:
    """Stands in for ``app.state.device_line``: records what the API hands to the device."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, SessionRequest]] = []
        self.revocations: list[str] = []

    async def request_session(self, device_id: str, request: SessionRequest) -> None:
        self.requests.append((device_id, request))

    async def revoked(self, device_id: str) -> None:
        self.revocations.append(device_id)
