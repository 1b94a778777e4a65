"""``POST /api/v1/devices/{id}/sessions``: a reason, a mode up to the group's policy, unattended only
for a role with the capability on a device enrolled for it; refusals audited; the device is asked."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from tests.integration.devices.device_support import (
    TECH,
    FakeLine,
    allow_unattended,
    events,
    make_device,
    make_group,
)
from tests.support import ON_SQLITE, api_token, make_user, ticket_body

from veo.server.devices import service
from veo.server.sessions.models import RemoteSession
from veo.server.tickets.models import Ticket


@pytest.fixture
def line(app: FastAPI) -> FakeLine:
    fake = FakeLine()
    app.state.device_line = fake
    return fake


async def _tech(
    app: FastAPI, client: httpx.AsyncClient, email: str = TECH, role: str = "technician"
) -> dict[str, str]:
    make_user(app.state.db, email, name="Ana Tech", role=role)
    return await api_token(client, email)


async def test_unattended_refused_without_the_capability_allowed_with_it(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    device_id = make_device(
        app, make_group(app, "Closet", policy="unattended"), name="closet-srv", unattended=True
    )
    url = f"/api/v1/devices/{device_id}/sessions"
    body = {"reason": "Disk full on the backup server", "mode": "unattended"}
    refused = await client.post(url, json=body, headers=headers)
    assert refused.status_code == 403, refused.text
    assert refused.json()["code"] == "unattended_not_allowed"
    assert "unattended" in refused.json()["message"]
    [event] = events(app, "device.connect_refused")
    assert event.actor == TECH
    assert event.details == {
        "device_id": device_id,
        "device_name": "closet-srv",
        "mode": "unattended",
        "code": "unattended_not_allowed",
    }
    assert line.requests == []

    allow_unattended(app)
    response = await client.post(url, json=body, headers=headers)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["policy"] == "unattended"
    assert answer["console_url"].endswith(f"/sessions/{answer['id']}/console")
    with app.state.db.session() as s:
        session = s.get(RemoteSession, answer["id"])
        assert session is not None
        assert (session.device_id, session.device_policy) == (device_id, "unattended")
        assert session.access_reason == "Disk full on the backup server"
        assert session.identity_confirmation == "managed_device" and session.identity_confirmed
        ticket = s.get(Ticket, session.ticket_id)
        assert ticket is not None and ticket.title == "closet-srv: Disk full on the backup server"
        assert ticket.assignee_id == session.technician_id
        code = session.code
    [(sent_to, request)] = line.requests
    assert sent_to == device_id
    assert (request.session_id, request.code, request.policy) == (answer["id"], code, "unattended")
    assert (request.technician_name, request.reason) == ("Ana Tech", "Disk full on the backup server")
    [requested] = events(app, "session.requested")
    assert requested.actor == TECH
    assert requested.details is not None
    assert {k: requested.details[k] for k in ("device_id", "device_name", "policy", "reason")} == {
        "device_id": device_id,
        "device_name": "closet-srv",
        "policy": "unattended",
        "reason": "Disk full on the backup server",
    }


async def test_unattended_needs_a_device_enrolled_for_it(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    allow_unattended(app)
    device_id = make_device(app, make_group(app, policy="unattended"), unattended=False)
    response = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"reason": "x", "mode": "unattended"}, headers=headers
    )
    assert response.status_code == 403
    assert response.json()["code"] == "unattended_not_enrolled"
    # the default mode is the group's policy: the same refusal without naming the mode
    default = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"reason": "x"}, headers=headers
    )
    assert default.json()["code"] == "unattended_not_enrolled"
    # a gentler mode is fine
    ask = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"reason": "x", "mode": "ask"}, headers=headers
    )
    assert ask.status_code == 201, ask.text
    assert ask.json()["policy"] == "ask"


async def test_a_mode_beyond_the_groups_policy_is_refused(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    allow_unattended(app)
    device_id = make_device(app, make_group(app, policy="ask"), unattended=True)
    for mode in ("notify", "unattended"):
        response = await client.post(
            f"/api/v1/devices/{device_id}/sessions", json={"reason": "x", "mode": mode}, headers=headers
        )
        assert response.status_code == 403
        assert response.json()["code"] == "mode_not_allowed"
    assert [e.details["mode"] for e in events(app, "device.connect_refused") if e.details] == [
        "notify",
        "unattended",
    ]


async def test_revoked_and_offline_devices_are_refused(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    group_id = make_group(app)
    revoked = make_device(app, group_id, name="gone")
    offline = make_device(app, group_id, name="asleep", online=False)
    with app.state.db.session() as s:
        service.revoke_device(s, revoked, by="server", actor="cli")
    first = await client.post(f"/api/v1/devices/{revoked}/sessions", json={"reason": "x"}, headers=headers)
    assert (first.status_code, first.json()["code"]) == (409, "device_revoked")
    second = await client.post(f"/api/v1/devices/{offline}/sessions", json={"reason": "x"}, headers=headers)
    assert (second.status_code, second.json()["code"]) == (409, "device_offline")
    assert [e.details["code"] for e in events(app, "device.connect_refused") if e.details] == [
        "device_revoked",
        "device_offline",
    ]
    assert line.requests == []
    with app.state.db.session() as s:
        assert s.query(RemoteSession).count() == 0


async def test_a_reason_or_a_ticket_is_required(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    device_id = make_device(app, make_group(app))
    url = f"/api/v1/devices/{device_id}/sessions"
    missing = await client.post(url, json={"reason": "   "}, headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (422, "reason_required")
    gone = await client.post(url, json={"ticket_id": 999}, headers=headers)
    assert (gone.status_code, gone.json()["code"]) == (404, "ticket_not_found")
    ticket = await client.post("/api/v1/tickets", json=ticket_body(title="Printer jams"), headers=headers)
    assert ticket.status_code == 201, ticket.text
    ticket_id = ticket.json()["id"]
    response = await client.post(url, json={"ticket_id": ticket_id}, headers=headers)
    assert response.status_code == 201, response.text
    assert response.json()["ticket_id"] == ticket_id
    assert response.json()["reason"] == "Printer jams"
    assert response.json()["policy"] == "ask"


@pytest.mark.parametrize(
    ("database_url", "reason"),
    [
        ("sqlite", "printer\x1b[2J"),
        pytest.param("postgresql", "printer\x1b[2J", marks=pytest.mark.postgres),
        # the other characters differ only in the check before any SQL: SQLite alone (ON_SQLITE's reason)
        ("sqlite", "it\x92s broken"),
        ("sqlite", "screen \x96 flickers"),
        ("sqlite", "\x9b31m"),
    ],
    indirect=["database_url"],
)
async def test_a_reason_with_control_characters_is_refused_with_a_sentence(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine, reason: str
) -> None:
    headers = await _tech(app, client)
    device_id = make_device(app, make_group(app))
    response = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"reason": reason}, headers=headers
    )
    assert (response.status_code, response.json()["code"]) == (422, "reason_invalid")
    assert "plain text" in response.json()["message"]
    assert [e.details["code"] for e in events(app, "device.connect_refused")] == ["reason_invalid"]
    assert line.requests == []


async def test_stored_text_with_control_characters_cannot_make_connect_fail(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    """A ticket title, an account name or a group name stored before the rule: cleaned, not a 500."""
    from veo.server.auth.models import User
    from veo.server.devices.models import DeviceGroup

    headers = await _tech(app, client)
    group_id = make_group(app)
    device_id = make_device(app, group_id)
    ticket = await client.post("/api/v1/tickets", json=ticket_body(title="Printer"), headers=headers)
    ticket_id = ticket.json()["id"]
    with app.state.db.session() as s:
        found = s.get(Ticket, ticket_id)
        assert found is not None
        found.title = "It\x92s the \x1b[31mprinter"
        tech = s.query(User).filter_by(email=TECH).one()
        tech.name = "Ana\x9b Tech"
        group = s.get(DeviceGroup, group_id)
        assert group is not None
        group.name = "Recep\x85tion"
    response = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"ticket_id": ticket_id}, headers=headers
    )
    assert response.status_code == 201, response.text
    [(_, request)] = line.requests
    assert request.reason == request.ticket_title == "It s the [31mprinter"
    assert request.technician_name == "Ana Tech"


@pytest.mark.parametrize(
    ("database_url", "status"),
    [
        ("sqlite", "resolved"),
        ("sqlite", "closed"),
        # the same query whatever the status: PostgreSQL once
        pytest.param("postgresql", "closed", marks=pytest.mark.postgres),
    ],
    indirect=["database_url"],
)
async def test_a_resolved_or_closed_ticket_is_no_reason_to_connect(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine, status: str
) -> None:
    headers = await _tech(app, client)
    device_id = make_device(app, make_group(app))
    ticket = await client.post("/api/v1/tickets", json=ticket_body(title="Old printer"), headers=headers)
    ticket_id = ticket.json()["id"]
    with app.state.db.session() as s:
        found = s.get(Ticket, ticket_id)
        assert found is not None
        found.status = status
    response = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"ticket_id": ticket_id}, headers=headers
    )
    assert (response.status_code, response.json()["code"]) == (409, "ticket_not_open")
    assert "resolved or closed" in response.json()["message"]
    assert [e.details["code"] for e in events(app, "device.connect_refused")] == ["ticket_not_open"]
    assert line.requests == []
    with app.state.db.session() as s:
        assert s.query(RemoteSession).count() == 0


async def test_a_role_outside_the_group_neither_sees_nor_connects(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    lead_headers = await _tech(app, client, "lead@example.org", role="lead")
    device_id = make_device(app, make_group(app, "Leads only", roles=("lead",)))
    listed = await client.get("/api/v1/devices", headers=headers)
    assert listed.status_code == 200 and listed.json() == []
    assert (await client.get(f"/api/v1/devices/{device_id}", headers=headers)).status_code == 404
    refused = await client.post(
        f"/api/v1/devices/{device_id}/sessions", json={"reason": "x"}, headers=headers
    )
    assert (refused.status_code, refused.json()["code"]) == (403, "group_not_allowed")
    seen = await client.get(f"/api/v1/devices/{device_id}", headers=lead_headers)
    assert seen.status_code == 200
    assert seen.json()["online"] is True and seen.json()["allowed_modes"] == ["ask"]


@ON_SQLITE
async def test_permissions_beyond_the_role_are_refused(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    device_id = make_device(app, make_group(app))
    response = await client.post(
        f"/api/v1/devices/{device_id}/sessions",
        json={"reason": "x", "permissions": ["view", "recording"]},
        headers=headers,
    )
    assert response.status_code == 422
    assert response.json()["code"] == "invalid_permission"
    assert line.requests == []


async def test_the_list_filters_by_group_and_searches(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    headers = await _tech(app, client)
    front = make_group(app, "Front desk")
    back = make_group(app, "Back office")
    make_device(app, front, name="Empfang-Ölraum")
    make_device(app, back, name="accounts-02")
    everything = (await client.get("/api/v1/devices", headers=headers)).json()
    assert [d["name"] for d in everything] == ["accounts-02", "Empfang-Ölraum"]
    only_back = (await client.get("/api/v1/devices", params={"group_id": back}, headers=headers)).json()
    assert [d["name"] for d in only_back] == ["accounts-02"]
    found = (await client.get("/api/v1/devices", params={"search": "ölRAUM"}, headers=headers)).json()
    assert [d["name"] for d in found] == ["Empfang-Ölraum"]
    by_user = (await client.get("/api/v1/devices", params={"search": "MARIA"}, headers=headers)).json()
    assert len(by_user) == 2


async def test_consent_on_a_device_session_records_the_policy(
    app: FastAPI, client: httpx.AsyncClient, line: FakeLine
) -> None:
    from veo.server.sessions import service as sessions

    headers = await _tech(app, client)
    device_id = make_device(app, make_group(app, policy="notify"))
    answer = (
        await client.post(f"/api/v1/devices/{device_id}/sessions", json={"reason": "VPN"}, headers=headers)
    ).json()
    assert answer["policy"] == "notify"
    with app.state.db.session() as s:
        session = s.get(RemoteSession, answer["id"])
        assert session is not None
        session.status = "joined"
    with app.state.db.session() as s:
        sessions.record_consent(s, answer["id"], granted_by_user=["view", "control"], sas_confirmed=False)
    [consent] = events(app, "session.consented")
    assert consent.details is not None
    assert (consent.details["device_id"], consent.details["policy"], consent.details["automatic"]) == (
        device_id,
        "notify",
        True,
    )
