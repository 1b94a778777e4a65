"""Device pages: the list (only the reader's groups), a device's Connect form (reason required,
errors as sentences, success to the console, the device told), Revoke, and the admin page
(groups, enrolment tokens shown once with the command, revocation), all behind CSRF."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from datetime import timedelta

import httpx
import pyotp
from fastapi import FastAPI
from sqlalchemy import func, select
from tests.support import BASE_URL, ON_SQLITE, PASSWORD, csrf_from, enrol_totp, login, make_user

from veo.protocol.device import SessionRequest
from veo.server.audit.models import AuditEvent
from veo.server.db.base import utcnow
from veo.server.devices.models import Device, DeviceGroup, EnrolmentToken
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket

ONLINE_ID = "a1" * 16
OFFLINE_ID = "b2" * 16
HIDDEN_ID = "c3" * 16


@dataclass
class LineRecorder:
    """Stands in for H2's DeviceLine: what the pages asked it to tell the devices."""

    requests: list[tuple[str, SessionRequest]] = field(default_factory=list)
    revoked_ids: list[str] = field(default_factory=list)

    async def request_session(self, device_id: str, request: SessionRequest) -> None:
        self.requests.append((device_id, request))

    async def revoked(self, device_id: str) -> None:
        self.revoked_ids.append(device_id)


def _fleet(app: FastAPI) -> LineRecorder:
    """Two groups (one for technicians, one for leads only) and three devices; the line recorded."""
    now = utcnow()
    with app.state.db.session() as s:
        desk = DeviceGroup(name="Front desk", policy="notify", roles=["technician"])
        servers = DeviceGroup(name="Closet servers", policy="unattended", roles=["lead"])
        s.add_all([desk, servers])
        s.flush()
        s.add_all(
            [
                Device(
                    id=ONLINE_ID,
                    group_id=desk.id,
                    name="Reception PC",
                    hostname="reception-01",
                    os_name="Debian GNU/Linux 12",
                    os_user="maria",
                    agent_version="0.17.0",
                    public_key="A" * 43,
                    connected_node="node-1",
                    last_seen_at=now,
                ),
                Device(
                    id=OFFLINE_ID,
                    group_id=desk.id,
                    name="Lobby kiosk",
                    public_key="B" * 43,
                    last_seen_at=now - timedelta(days=2),
                ),
                Device(id=HIDDEN_ID, group_id=servers.id, name="Backup server", public_key="C" * 43),
            ]
        )
    recorder = LineRecorder()
    app.state.device_line = recorder
    return recorder


def _count(app: FastAPI, model: type[object]) -> int:
    with app.state.db.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


async def _technician(app: FastAPI, client: httpx.AsyncClient) -> str:
    make_user(app.state.db, "tech@example.org")
    return await login(client, "tech@example.org")


async def _admin(app: FastAPI, client: httpx.AsyncClient) -> str:
    """An administrator signed in through the forms (password, then the TOTP code admins need)."""
    make_user(app.state.db, "boss@example.org", name="Bea Admin", role="admin")
    secret = enrol_totp(app.state.db, "boss@example.org")
    await client.post("/login", data={"email": "boss@example.org", "password": PASSWORD})
    signed = await client.post("/login/totp", data={"code": pyotp.TOTP(secret).now()})
    assert signed.status_code == 303, signed.text
    return csrf_from((await client.get("/devices")).text)


async def test_technician_sees_only_their_groups(app: FastAPI, client: httpx.AsyncClient) -> None:
    _fleet(app)
    await _technician(app, client)
    page = (await client.get("/devices")).text
    assert 'href="/devices"' in page and "Reception PC" in page and "Lobby kiosk" in page
    assert "Backup server" not in page and "Closet servers" not in page
    assert re.search(rf'data-device-id="{ONLINE_ID}" data-online="true"', page)
    assert re.search(rf'data-device-id="{OFFLINE_ID}" data-online="false"', page)
    assert "maria" in page and "Debian GNU/Linux 12" in page and "0.17.0" in page and "last seen" in page
    assert "Device groups and enrolment" not in page, "the admin link is for administrators"
    found = (await client.get("/devices?q=KIOSK")).text
    assert "Lobby kiosk" in found and "Reception PC" not in found
    assert (await client.get(f"/devices/{HIDDEN_ID}")).status_code == 404
    assert (await client.get(f"/devices/{'0' * 32}")).status_code == 404
    assert (await client.get("/admin/devices")).status_code == 403


async def test_a_group_filter_outside_the_readers_groups_shows_no_hidden_device(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _fleet(app)
    await _technician(app, client)
    with app.state.db.session() as s:
        hidden = s.scalar(select(DeviceGroup.id).where(DeviceGroup.name == "Closet servers"))
    page = (await client.get(f"/devices?group={hidden}")).text
    assert "Backup server" not in page and "Reception PC" in page
    assert (await client.get("/devices?group=x' or 1=1")).status_code == 200


async def test_connect_needs_a_reason_and_lands_on_the_console(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    line = _fleet(app)
    csrf = await _technician(app, client)
    page = (await client.get(f"/devices/{ONLINE_ID}")).text
    assert 'id="connect-form"' in page and 'value="notify" checked' in page
    assert 'value="unattended"' not in page, "the group's policy is notify: nothing stronger is offered"

    no_reason = await client.post(
        f"/devices/{ONLINE_ID}/connect", data={"csrf_token": csrf, "mode": "notify", "permissions": "view"}
    )
    assert no_reason.status_code == 422
    assert 'id="reason-error"' in no_reason.text and "Give a reason for connecting" in no_reason.text
    assert _count(app, RemoteSession) == 0 and line.requests == []

    no_csrf = await client.post(f"/devices/{ONLINE_ID}/connect", data={"reason": "Printer", "mode": "ask"})
    assert no_csrf.status_code == 403 and _count(app, RemoteSession) == 0

    response = await client.post(
        f"/devices/{ONLINE_ID}/connect",
        data={
            "csrf_token": csrf,
            "reason": "Printer queue stuck",
            "mode": "ask",
            "permissions": ["view", "control"],
        },
    )
    assert response.status_code == 303, response.text
    match = re.fullmatch(r"/sessions/([^/]+)/console", response.headers["location"])
    assert match is not None
    with app.state.db.session() as s:
        session = s.get(RemoteSession, match.group(1))
        assert session is not None
        assert (session.device_id, session.device_policy, session.access_reason) == (
            ONLINE_ID,
            "ask",
            "Printer queue stuck",
        )
        ticket = s.get(Ticket, session.ticket_id)
        assert ticket is not None and ticket.title == "Reception PC: Printer queue stuck"
    [(device_id, request)] = line.requests
    assert device_id == ONLINE_ID and request.session_id == match.group(1) and request.policy == "ask"
    assert request.reason == "Printer queue stuck" and request.technician_name == "Ana Tech"
    shown = (await client.get(f"/devices/{ONLINE_ID}")).text
    assert f'data-session-id="{match.group(1)}"' in shown and "Printer queue stuck" in shown


async def test_refusals_are_sentences_on_the_form(app: FastAPI, client: httpx.AsyncClient) -> None:
    line = _fleet(app)
    csrf = await _technician(app, client)
    offline = await client.post(
        f"/devices/{OFFLINE_ID}/connect", data={"csrf_token": csrf, "reason": "Update", "permissions": "view"}
    )
    assert offline.status_code == 409
    assert 'id="connect-error"' in offline.text and "not connected to veo right now" in offline.text
    assert 'value="Update"' in offline.text, "what was typed stays"
    stronger = await client.post(
        f"/devices/{ONLINE_ID}/connect",
        data={"csrf_token": csrf, "reason": "Update", "mode": "unattended", "permissions": "view"},
    )
    assert stronger.status_code == 403 and 'id="mode-error"' in stronger.text
    bad_ticket = await client.post(
        f"/devices/{ONLINE_ID}/connect",
        data={"csrf_token": csrf, "ticket_id": "99999", "permissions": "view"},
    )
    assert bad_ticket.status_code == 404 and 'id="ticket_id-error"' in bad_ticket.text
    hidden = await client.post(
        f"/devices/{HIDDEN_ID}/connect", data={"csrf_token": csrf, "reason": "x", "permissions": "view"}
    )
    assert hidden.status_code == 404
    assert _count(app, RemoteSession) == 0 and line.requests == []
    with app.state.db.session() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "device.connect_refused")).all()
        assert {e.details["code"] for e in refused} >= {
            "device_offline",
            "mode_not_allowed",
            "group_not_allowed",
        }


@ON_SQLITE
async def test_spanish_form_and_errors(app: FastAPI, client: httpx.AsyncClient) -> None:
    _fleet(app)
    csrf = await _technician(app, client)
    page = (await client.get(f"/devices/{ONLINE_ID}?lang=es")).text
    assert '<html lang="es">' in page
    response = await client.post(
        f"/devices/{ONLINE_ID}/connect", data={"csrf_token": csrf, "mode": "ask", "permissions": "view"}
    )
    assert response.status_code == 422 and '<html lang="es">' in response.text


async def test_admin_revokes_a_device_after_confirming(app: FastAPI, client: httpx.AsyncClient) -> None:
    line = _fleet(app)
    csrf = await _admin(app, client)
    page = (await client.get(f"/devices/{HIDDEN_ID}")).text
    assert 'id="revoke-form"' in page and "This cannot be undone" in page
    assert (await client.post(f"/devices/{HIDDEN_ID}/revoke", data={})).status_code == 403
    response = await client.post(f"/devices/{HIDDEN_ID}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 303 and line.revoked_ids == [HIDDEN_ID]
    with app.state.db.session() as s:
        device = s.get(Device, HIDDEN_ID)
        assert device is not None and device.revoked_at is not None and device.revoked_by == "server"
    after = (await client.get(f"/devices/{HIDDEN_ID}")).text
    assert 'id="revoke-form"' not in after and 'data-state="revoked"' in after


@ON_SQLITE
async def test_technician_cannot_revoke(app: FastAPI, client: httpx.AsyncClient) -> None:
    line = _fleet(app)
    csrf = await _technician(app, client)
    assert 'id="revoke-form"' not in (await client.get(f"/devices/{ONLINE_ID}")).text
    response = await client.post(f"/devices/{ONLINE_ID}/revoke", data={"csrf_token": csrf})
    assert response.status_code == 403 and line.revoked_ids == []


async def test_admin_groups_and_tokens(app: FastAPI, client: httpx.AsyncClient) -> None:
    csrf = await _admin(app, client)
    empty = (await client.get("/admin/devices")).text
    assert 'id="no-groups"' in empty and 'id="new-token-form"' not in empty

    bad = await client.post("/admin/devices/groups", data={"csrf_token": csrf, "name": " ", "policy": "ask"})
    assert bad.status_code == 422 and 'id="new_group-name-error"' in bad.text
    assert _count(app, DeviceGroup) == 0
    assert (
        await client.post("/admin/devices/groups", data={"name": "Lab", "policy": "ask"})
    ).status_code == 403

    made = await client.post(
        "/admin/devices/groups",
        data={
            "csrf_token": csrf,
            "name": "Lab",
            "policy": "notify",
            "roles": ["technician"],
            "description": "",
        },
    )
    assert made.status_code == 303
    with app.state.db.session() as s:
        group = s.scalars(select(DeviceGroup)).one()
        assert (group.name, group.policy, group.roles) == ("Lab", "notify", ["technician"])
        group_id = group.id
    edited = await client.post(
        f"/admin/devices/groups/{group_id}",
        data={"csrf_token": csrf, "name": "Lab PCs", "policy": "ask", "roles": ["technician", "lead"]},
    )
    assert edited.status_code == 303
    wrong = await client.post(
        f"/admin/devices/groups/{group_id}", data={"csrf_token": csrf, "name": "Lab PCs", "policy": "always"}
    )
    assert wrong.status_code == 422 and f'id="group-{group_id}-policy-error"' in wrong.text

    created = await client.post(
        "/admin/devices/tokens",
        data={"csrf_token": csrf, "group_id": str(group_id), "label": "Floor 2", "ttl_hours": "24"},
    )
    assert created.status_code == 200 and created.headers["cache-control"] == "no-store"
    command = re.search(r'<code id="enrol-command">([^<]+)</code>', created.text)
    assert command is not None
    # the token reaches the agent on its standard input, never in its arguments (review R1-3)
    shown = re.fullmatch(
        rf"printf '%s\\n' (veo-enrol-[a-z2-7]{{32}}) \| "
        rf"sudo veo-agent enrol --server {re.escape(BASE_URL)} --token -",
        html.unescape(command.group(1)),
    )
    assert shown is not None, command.group(1)
    assert f'data-copy="{command.group(1)}"' in created.text
    assert 'id="enrol-command-why"' in created.text
    secret = shown.group(1)
    listing = (await client.get("/admin/devices")).text
    assert secret not in listing, "a token is shown once"
    assert 'data-status="active"' in listing and "Floor 2" in listing

    with app.state.db.session() as s:
        token_id = s.scalars(select(EnrolmentToken.id)).one()
    revoked = await client.post(f"/admin/devices/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert revoked.status_code == 303
    assert 'data-status="revoked"' in (await client.get("/admin/devices")).text
    again = await client.post(f"/admin/devices/tokens/{token_id}/revoke", data={"csrf_token": csrf})
    assert again.status_code == 409 and "already used or revoked" in again.text

    too_long = await client.post(
        "/admin/devices/tokens", data={"csrf_token": csrf, "group_id": str(group_id), "ttl_hours": "100000"}
    )
    assert too_long.status_code == 422 and 'id="new_token-ttl_hours-error"' in too_long.text
    assert _count(app, EnrolmentToken) == 1


async def test_a_reason_with_control_characters_is_a_form_error_with_a_sentence(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """C1 too (a CSI, cp1252 punctuation decoded as Latin-1): the form says why, nothing is sent."""
    line = _fleet(app)
    csrf = await _technician(app, client)
    for reason in ("fix \x9b31m printer", "it\x92s broken", "a\x00b", "x\x1b[2J"):
        response = await client.post(
            f"/devices/{ONLINE_ID}/connect",
            data={"csrf_token": csrf, "reason": reason, "mode": "notify", "permissions": "view"},
        )
        assert response.status_code == 422, reason
        assert "plain text" in response.text
    assert line.requests == []
