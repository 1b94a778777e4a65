"""``POST /api/v1/enrol``: a single-use token enrols one device; every refusal is specific and audited."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
from fastapi import FastAPI
from tests.integration.devices.device_support import enrol_body, events, make_group, make_token, public_key
from tests.support import ON_SQLITE, make_user

from veo.server.db.base import utcnow
from veo.server.devices import tokens
from veo.server.devices.models import Device, EnrolmentToken
from veo.server.sessions.ratelimit import RedemptionLimiter


async def test_enrolment_registers_the_device_and_spends_the_token(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    make_user(app.state.db, "root@example.org", name="Root Admin", role="admin")
    group_id = make_group(app, "Reception", policy="notify")
    token_id, secret = make_token(app, group_id, unattended=True, creator_email="root@example.org")
    body = enrol_body(secret, "reception-01", os_name="Debian 12", agent_version="1.2.0")
    response = await client.post("/api/v1/enrol", json=body)
    assert response.status_code == 201, response.text
    answer = response.json()
    assert answer["device_name"] == "reception-01"
    assert answer["group"] == "Reception"
    assert answer["policy"] == "notify"
    assert answer["unattended"] is True
    assert answer["enrolled_by"] == "Root Admin"
    assert answer["organization"] == app.state.settings.organization
    with app.state.db.session() as s:
        device = s.get(Device, answer["device_id"])
        assert device is not None
        assert (device.public_key, device.os_user, device.os_name) == (
            body["public_key"],
            "maria",
            "Debian 12",
        )
        assert device.enrolled_by is not None and device.enrolled_by.email == "root@example.org"
        token = s.get(EnrolmentToken, token_id)
        assert token is not None and tokens.status(token) == "used"
        assert token.used_by_device_id == device.id
    [event] = events(app, "device.enrolled")
    assert event.details == {
        "device_id": answer["device_id"],
        "name": "reception-01",
        "group": "Reception",
        "unattended": True,
        "token_id": token_id,
    }


async def test_a_token_used_twice_is_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    token_id, secret = make_token(app, make_group(app))
    first = await client.post("/api/v1/enrol", json=enrol_body(secret, "pc-1"))
    assert first.status_code == 201, first.text
    second = await client.post("/api/v1/enrol", json=enrol_body(secret, "pc-2"))
    assert second.status_code == 403
    assert second.json()["code"] == "token_used"
    assert "already used" in second.json()["message"]
    [refused] = events(app, "device.enrol_refused")
    assert refused.details is not None
    assert (refused.details["reason"], refused.details["token_id"], refused.details["name"]) == (
        "used",
        token_id,
        "pc-2",
    )
    with app.state.db.session() as s:
        assert s.query(Device).count() == 1


async def test_expired_revoked_and_unknown_tokens_are_refused(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    group_id = make_group(app)
    expired_id, expired = make_token(app, group_id)
    revoked_id, revoked = make_token(app, group_id)
    with app.state.db.session() as s:
        token = s.get(EnrolmentToken, expired_id)
        assert token is not None
        token.expires_at = utcnow() - timedelta(minutes=1)
        tokens.revoke_token(s, revoked_id, actor="cli")
    unknown = tokens.new_secret()
    answers = {}
    for label, secret in (
        ("expired", expired),
        ("revoked", revoked),
        ("unknown", unknown),
        ("junk", "123 456 789"),
    ):
        response = await client.post("/api/v1/enrol", json=enrol_body(secret, label))
        assert response.status_code == 403, response.text
        answers[label] = response.json()["code"]
    assert answers == {
        "expired": "token_expired",
        "revoked": "token_revoked",
        "unknown": "token_unknown",
        "junk": "token_unknown",
    }
    reasons = [e.details["reason"] for e in events(app, "device.enrol_refused") if e.details]
    assert reasons == ["expired", "revoked", "unknown", "unknown"]
    with app.state.db.session() as s:
        assert s.query(Device).count() == 0


async def test_two_devices_racing_with_one_token_only_one_enrols(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, secret = make_token(app, make_group(app))
    bodies = [enrol_body(secret, f"racer-{i}") for i in range(3)]  # the limiter lets 4 in at once
    responses = await asyncio.gather(*(client.post("/api/v1/enrol", json=b) for b in bodies))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201, 403, 403], [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 403} == {"token_used"}
    with app.state.db.session() as s:
        assert s.query(Device).count() == 1
    assert len(events(app, "device.enrolled")) == 1
    assert len(events(app, "device.enrol_refused")) == 2


async def test_a_key_already_enrolled_is_refused_and_the_token_kept(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    group_id = make_group(app)
    _, first = make_token(app, group_id)
    second_id, second = make_token(app, group_id)
    body = enrol_body(first)
    assert (await client.post("/api/v1/enrol", json=body)).status_code == 201
    again = await client.post("/api/v1/enrol", json=body | {"token": second})
    assert again.status_code == 409
    assert again.json()["code"] == "key_in_use"
    with app.state.db.session() as s:
        token = s.get(EnrolmentToken, second_id)
        assert token is not None and tokens.status(token) == "active"


@ON_SQLITE
async def test_a_bad_public_key_is_a_named_field_error(app: FastAPI, client: httpx.AsyncClient) -> None:
    _, secret = make_token(app, make_group(app))
    response = await client.post("/api/v1/enrol", json=enrol_body(secret) | {"public_key": "A" * 44})
    assert response.status_code == 422
    assert "public_key" in response.json()["message"]


@ON_SQLITE
async def test_failed_enrolments_are_limited_per_address(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.enrol_limiter = RedemptionLimiter(
        max_failures=2, base_delay=0.0, max_delay=0.0, flood_max_failures=1
    )
    codes = []
    for _ in range(3):
        response = await client.post("/api/v1/enrol", json=enrol_body(tokens.new_secret()))
        codes.append(response.json()["code"])
    assert codes == ["token_unknown", "token_unknown", "enrol_throttled"]
    assert int(response.headers["Retry-After"]) >= 1
    # the refusal beyond the limit looked nothing up and wrote nothing
    assert len(events(app, "device.enrol_refused")) == 2
    _, secret = make_token(app, make_group(app))
    blocked = await client.post("/api/v1/enrol", json=enrol_body(secret))
    assert blocked.status_code == 429


async def test_a_successful_enrolment_is_not_counted(app: FastAPI, client: httpx.AsyncClient) -> None:
    app.state.enrol_limiter = RedemptionLimiter(
        max_failures=1, base_delay=0.0, max_delay=0.0, flood_max_failures=1
    )
    group_id = make_group(app)
    for i in range(3):
        _, secret = make_token(app, group_id)
        response = await client.post(
            "/api/v1/enrol", json=enrol_body(secret, f"pc-{i}") | {"public_key": public_key()}
        )
        assert response.status_code == 201, response.text
