"""Device groups, enrolment tokens and devices under ``/api/v1``: admins only where it matters,
audited, the token secret shown once, a revoked device told at once."""

from __future__ import annotations

import hashlib

import httpx
from fastapi import FastAPI
from tests.integration.devices.device_support import (
    ADMIN,
    TECH,
    FakeLine,
    admin_headers,
    enrol_body,
    events,
    make_device,
    make_group,
)
from tests.support import ON_SQLITE, api_token, make_user

from veo.protocol.device import TOKEN_PATTERN
from veo.server.devices.models import Device, EnrolmentToken
from veo.server.web import wording


async def test_groups_are_created_changed_and_audited(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await admin_headers(app, client)
    body = {"name": "Kiosks", "policy": "notify", "roles": ["technician", "lead"], "description": "Lobby"}
    created = await client.post("/api/v1/admin/device-groups", json=body, headers=headers)
    assert created.status_code == 201, created.text
    group = created.json()
    assert (group["policy"], group["roles"]) == ("notify", ["lead", "technician"])
    same_name = await client.post(
        "/api/v1/admin/device-groups", json=body | {"name": "kiosks"}, headers=headers
    )
    assert same_name.status_code == 422
    assert "name" in same_name.json()["message"]
    bad_role = await client.post(
        "/api/v1/admin/device-groups", json=body | {"name": "X", "roles": ["boss"]}, headers=headers
    )
    assert bad_role.status_code == 422 and "boss" in bad_role.json()["message"]
    changed = await client.put(
        f"/api/v1/admin/device-groups/{group['id']}", json=body | {"policy": "ask"}, headers=headers
    )
    assert changed.status_code == 200 and changed.json()["policy"] == "ask"
    listed = await client.get("/api/v1/admin/device-groups", headers=headers)
    assert [g["name"] for g in listed.json()] == ["Kiosks"]
    [made] = events(app, "device.group_created")
    assert made.actor == ADMIN and made.details is not None and made.details["policy"] == "notify"
    [change] = events(app, "device.group_changed")
    assert change.details is not None
    assert (change.details["before"]["policy"], change.details["after"]["policy"]) == ("notify", "ask")
    assert "Policy: ask the person at the device." in wording.event_details(change.action, change.details)


@ON_SQLITE
async def test_technicians_cannot_manage_groups_tokens_or_revoke(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db, TECH)
    headers = await api_token(client, TECH)
    group_id = make_group(app)
    device_id = make_device(app, group_id)
    made = len(events(app, "device.token_created"))
    assert (await client.get("/api/v1/admin/device-groups", headers=headers)).status_code == 403
    token = await client.post("/api/v1/admin/enrolment-tokens", json={"group_id": group_id}, headers=headers)
    assert token.status_code == 403
    revoke = await client.post(f"/api/v1/devices/{device_id}/revoke", headers=headers)
    assert revoke.status_code == 403
    assert len(events(app, "device.token_created")) == made and events(app, "device.revoked") == []


async def test_a_token_is_shown_once_and_works_once(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await admin_headers(app, client)
    group_id = make_group(app, "Reception")
    response = await client.post(
        "/api/v1/admin/enrolment-tokens",
        json={"group_id": group_id, "label": "Floor 2", "unattended": True, "ttl_hours": 4},
        headers=headers,
    )
    assert response.status_code == 201, response.text
    created = response.json()
    import re

    assert re.fullmatch(TOKEN_PATTERN, created["token"])
    # the token on the agent's standard input, never in its arguments (review R1-3)
    assert created["command"] == (
        f"printf '%s\\n' {created['token']} | "
        f"sudo veo-agent enrol --server {app.state.settings.public_url} --token -"
    )
    assert (created["status"], created["group"], created["created_by"]) == ("active", "Reception", ADMIN)
    with app.state.db.session() as s:
        stored = s.get(EnrolmentToken, created["id"])
        assert stored is not None and stored.digest == hashlib.sha256(created["token"].encode()).hexdigest()
    listed = (await client.get("/api/v1/admin/enrolment-tokens", headers=headers)).json()
    assert "token" not in listed[0] and created["token"] not in str(listed)
    assert (await client.post("/api/v1/enrol", json=enrol_body(created["token"]))).status_code == 201
    listed = (await client.get("/api/v1/admin/enrolment-tokens", headers=headers)).json()
    assert listed[0]["status"] == "used"
    again = await client.post(f"/api/v1/admin/enrolment-tokens/{created['id']}/revoke", headers=headers)
    assert (again.status_code, again.json()["code"]) == (409, "token_not_active")
    unknown_group = await client.post(
        "/api/v1/admin/enrolment-tokens", json={"group_id": 999}, headers=headers
    )
    assert (unknown_group.status_code, unknown_group.json()["code"]) == (404, "group_not_found")
    too_long = await client.post(
        "/api/v1/admin/enrolment-tokens", json={"group_id": group_id, "ttl_hours": 10_000}, headers=headers
    )
    assert too_long.status_code == 422


async def test_revoking_a_token_refuses_its_enrolment(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await admin_headers(app, client)
    created = (
        await client.post(
            "/api/v1/admin/enrolment-tokens", json={"group_id": make_group(app)}, headers=headers
        )
    ).json()
    revoked = await client.post(f"/api/v1/admin/enrolment-tokens/{created['id']}/revoke", headers=headers)
    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    refused = await client.post("/api/v1/enrol", json=enrol_body(created["token"]))
    assert refused.json()["code"] == "token_revoked"
    [event] = events(app, "device.token_revoked")
    assert event.actor == ADMIN


async def test_an_admin_revokes_a_device_and_it_is_told(app: FastAPI, client: httpx.AsyncClient) -> None:
    headers = await admin_headers(app, client)
    line = FakeLine()
    app.state.device_line = line
    device_id = make_device(app, make_group(app), name="pc-7")
    listed = (await client.get("/api/v1/devices", headers=headers)).json()
    assert [(d["name"], d["online"], d["os_user"]) for d in listed] == [("pc-7", True, "maria")]
    response = await client.post(f"/api/v1/devices/{device_id}/revoke", headers=headers)
    assert response.status_code == 200, response.text
    assert response.json()["revoked_by"] == "server" and response.json()["online"] is False
    assert line.revocations == [device_id]
    again = await client.post(f"/api/v1/devices/{device_id}/revoke", headers=headers)
    assert again.status_code == 200
    [event] = events(app, "device.revoked")
    assert event.actor == ADMIN
    assert event.details is not None and (event.details["device_id"], event.details["by"]) == (
        device_id,
        "server",
    )
    detail = (await client.get(f"/api/v1/devices/{device_id}", headers=headers)).json()
    assert detail["allowed_modes"] == []
    with app.state.db.session() as s:
        device = s.get(Device, device_id)
        assert device is not None and device.revoked_at is not None
    missing = await client.post(f"/api/v1/devices/{'0' * 32}/revoke", headers=headers)
    assert (missing.status_code, missing.json()["code"]) == (404, "device_not_found")


@ON_SQLITE
async def test_a_group_name_never_holds_a_control_character(app: FastAPI, client: httpx.AsyncClient) -> None:
    """C1 too (``\\x85``, ``\\x9b``): the name goes to every device of the group in its welcome."""
    headers = await admin_headers(app, client)
    body = {"name": "Kiosks", "policy": "ask", "roles": ["technician"], "description": ""}
    for name in ("Kio\x9bsks", "Lobby\x85", "A\x1bB"):
        refused = await client.post(
            "/api/v1/admin/device-groups", json=body | {"name": name}, headers=headers
        )
        assert refused.status_code == 422, refused.text
        assert "characters" in refused.json()["message"]
    made = await client.post("/api/v1/admin/device-groups", json=body, headers=headers)
    assert made.status_code == 201
    renamed = await client.put(
        f"/api/v1/admin/device-groups/{made.json()['id']}", json=body | {"name": "K\x96"}, headers=headers
    )
    assert renamed.status_code == 422
    label = await client.post(
        "/api/v1/admin/enrolment-tokens",
        json={"group_id": made.json()["id"], "label": "Lab\x9b", "ttl_hours": 1},
        headers=headers,
    )
    assert label.status_code == 422, label.text
