"""A session on a managed device through the real hub (issue 17): the agent's ``joined`` and the
console's ``session_state`` name the device, the policy and the reason; an automatic consent
(notify/unattended: no dialog, ``sas_confirmed`` false) makes the session active and the
``session.consented`` audit entry records the policy that applied.

Only the device's own service can join a device session (review R1-1): the code can leak or be
guessed, and the console presents whoever joined as the company's device, identity confirmed.
So the code is redeemed only for a ``join`` carrying the secret the server sent the device with
it (``SessionRequest.secret``, kept as a digest): the code alone is refused exactly as an unknown
code (counted by the limiter, nothing touched), so is a browser, a wrong secret, and a device
secret on an ordinary session; the session stays waiting for the device, which then joins. A
device session's code is shown, mailed and renewed nowhere. SQLite and PostgreSQL."""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.test_device_pages import ONLINE_ID, _fleet, _technician
from tests.integration.test_signaling import Env, WebSocketTestSession, env, negotiate, recv, send
from tests.support import ON_SQLITE

from veo.server.auth.models import User
from veo.server.devices.models import Device, DeviceGroup
from veo.server.sessions import device_secret, service
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.redeem import redeem_code
from veo.server.sessions.schemas import created

__all__ = ["env"]
DEVICE_ID = "d4" * 16
DEVICE = {"device_name": "Reception PC", "policy": "notify", "reason": "Printer queue stuck"}
#: The secret connect.py sends the device with the code (only its digest is on the session).
SECRET = "5c" * 32
WRONG = "a7" * 32


def join(agent: WebSocketTestSession, code: str, secret: str | None = SECRET) -> dict[str, Any]:
    """The device's session part joins: the code and the secret of its ``session_request``."""
    message: dict[str, Any] = {"type": "join", "code": code, "platform": "linux", "language": "en"}
    if secret is not None:
        message["device_secret"] = secret
    send(agent, message)
    reply: dict[str, Any] = recv(agent)
    return reply


def _device_session(env: Env, policy: str = "notify") -> tuple[str, str]:
    """A waiting session on an enrolled device, as devices/connect.py makes one: (id, code)."""
    with env.db.session() as s:
        group = DeviceGroup(name="Front desk", policy=policy, roles=["technician"])
        s.add(group)
        s.flush()
        s.add(Device(id=DEVICE_ID, group_id=group.id, name="Reception PC", public_key="D" * 43))
        s.flush()
        technician = s.get(User, env.users["tech"].id)
        assert technician is not None
        session = service.create_session(
            s,
            ticket_id=env.ticket_id,
            technician=technician,
            permissions=["view", "control"],
            ttl_seconds=600,
            device_id=DEVICE_ID,
            device_name="Reception PC",
            device_policy=policy,
            access_reason="Printer queue stuck",
        )
        session.device_secret_digest = device_secret.digest(SECRET)
        code = session.code
        assert code is not None
        return session.id, code


def test_joined_and_state_carry_the_device_and_an_automatic_consent_is_recorded(env: Env) -> None:
    session_id, code = _device_session(env)
    with env.console(session_id) as console, env.agent() as agent:
        waiting = recv(console, "session_state")
        assert waiting["status"] == "waiting" and waiting["device"] == DEVICE
        joined = join(agent, code)
        assert joined["type"] == "joined" and joined["device"] == DEVICE
        recv(console, "agent_joined")
        state = recv(console, "session_state")
        assert state["status"] == "joined" and state["device"] == DEVICE
        assert state["identity"] == "managed_device", "the device's key stands for the identity check"
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": False})
        consent = recv(console, "consent")
        assert consent["granted"] == ["view", "control"] and consent["sas_confirmed"] is False
        active = recv(console, "session_state")
        assert active["status"] == "active" and active["device"] == DEVICE
    row = env.row(session_id)
    assert row.status in ("active", "ended") and row.started_at is not None and row.sas_confirmed is False
    [consented] = env.actions(session_id, "session.consented")
    assert consented.details["policy"] == "notify" and consented.details["device_id"] == DEVICE_ID
    assert consented.details["automatic"] is True


def test_an_ask_session_allowed_by_the_person_is_not_automatic(env: Env) -> None:
    session_id, code = _device_session(env, policy="ask")
    with env.console(session_id) as console, env.agent() as agent:
        recv(console, "session_state")
        assert join(agent, code)["device"]["policy"] == "ask"
        recv(console, "agent_joined")
        recv(console, "session_state")
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
        assert recv(console, "consent")["granted"] == ["view"]
    [consented] = env.actions(session_id, "session.consented")
    assert consented.details["policy"] == "ask" and consented.details["automatic"] is False


# ---------------------------------------------------------------- only the device joins (R1-1)


def _unknown_reply(env: Env) -> dict[str, Any]:
    """What a code nobody was given gets: the yardstick for every refusal here."""
    with env.agent() as agent:
        return join(agent, "000000007", secret=None)


def _still_waiting(env: Env, session_id: str) -> None:
    row = env.row(session_id)
    assert row.status == "waiting" and row.code is not None and row.live_code_digest is not None
    assert row.joined_at is None and not row.agent_address


def test_the_code_alone_is_refused_as_unknown_and_the_device_then_joins(env: Env) -> None:
    session_id, code = _device_session(env)
    unknown = _unknown_reply(env)
    assert unknown["code"] == "code_unknown"
    with env.agent() as agent:  # an ordinary agent that learnt the code (veo agent --code)
        assert join(agent, code, secret=None) == unknown
    _still_waiting(env, session_id)
    with env.agent() as agent:  # the join page: a browser share
        send(agent, {"type": "join", "code": code, "client": "browser", "device_secret": SECRET})
        assert recv(agent) == unknown
    _still_waiting(env, session_id)
    with env.agent() as agent:  # a wrong secret
        assert join(agent, code, secret=WRONG) == unknown
    _still_waiting(env, session_id)
    assert env.slept == [0.5, 1.0, 2.0], "every refusal counted as a wrong code: the next one waits longer"
    assert {e.details["reason"] for e in env.actions(action="session.code_rejected")} == {"unknown"}
    assert code not in str([e.details for e in env.actions()])

    with env.console(session_id) as console, env.agent() as agent:
        assert recv(console, "session_state")["status"] == "waiting"
        joined = join(agent, code)  # the device's session part: code and secret
        assert joined["type"] == "joined" and joined["device"]["device_name"] == "Reception PC"
        recv(console, "agent_joined")
        state = recv(console, "session_state")
        assert state["status"] == "joined" and state["identity"] == "managed_device"
    row = env.row(session_id)
    assert row.status in ("joined", "ended") and row.joined_at is not None and row.mode == "agent"
    assert row.device_id == DEVICE_ID


def test_a_used_device_code_says_nothing_to_a_stranger(env: Env) -> None:
    _, code = _device_session(env)
    with env.agent() as agent:
        assert join(agent, code)["type"] == "joined"
    unknown = _unknown_reply(env)
    with env.agent() as agent:
        assert join(agent, code, secret=None) == unknown, "not even that the code was used"
    with env.agent() as agent:
        assert join(agent, code)["code"] == "code_used"  # the device itself learns it


def test_a_device_secret_on_an_ordinary_session_is_refused_as_unknown(env: Env) -> None:
    ordinary = env.create()
    unknown = _unknown_reply(env)
    with env.agent() as agent:
        assert join(agent, ordinary["code"], secret=SECRET) == unknown
    _still_waiting(env, ordinary["id"])
    with env.agent() as agent:
        assert join(agent, ordinary["code"], secret=None)["type"] == "joined"


@ON_SQLITE
def test_a_device_secret_that_is_no_secret_is_an_invalid_message(env: Env) -> None:
    session_id, code = _device_session(env)
    with env.agent() as agent:
        send(agent, {"type": "join", "code": code, "device_secret": SECRET.upper()})
        assert recv(agent)["code"] == "invalid_message"
    _still_waiting(env, session_id)


async def test_the_code_from_a_real_connect_is_the_devices_alone(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    """R1's proof, turned: the connect form's session shows its code nowhere, mails and renews
    nothing, and its code is redeemed only with the request's secret, even by the API's shape."""
    line = _fleet(app)
    csrf = await _technician(app, client)
    r = await client.post(
        f"/devices/{ONLINE_ID}/connect",
        data={"csrf_token": csrf, "reason": "printer", "mode": "notify", "permissions": "view"},
    )
    assert r.status_code == 303, r.text
    ((_, request),) = line.requests
    code = request.code
    with app.state.db.session() as s:
        session = s.scalars(select(RemoteSession)).one()
        session_id, ticket_id = session.id, session.ticket_id
        assert session.device_secret_digest == device_secret.digest(request.secret)
        assert request.secret not in str(session.__dict__.values())
        assert created(session, "https://veo.example").code == ""

    page = (await client.get(f"/tickets/{ticket_id}")).text
    assert 'id="join-code"' not in page and code not in re.sub(r"\D", "", page)
    assert 'id="open-console"' in page and f"/sessions/{session_id}/email-link" not in page
    mailed = await client.post(f"/sessions/{session_id}/email-link", data={"csrf_token": csrf})
    assert mailed.status_code == 409 and "managed device" in mailed.text
    renewed = await client.post(f"/sessions/{session_id}/new-code", data={"csrf_token": csrf})
    assert renewed.status_code == 409 and "managed device" in renewed.text
    api = await client.get(f"/api/v1/sessions/{session_id}")
    assert api.status_code == 200 and code not in api.text

    with app.state.db.session() as s:
        assert redeem_code(s, code, address="203.0.113.9", client="browser") == "unknown"
        assert redeem_code(
            s, code, address="203.0.113.9", client="browser", device_secret=request.secret
        ) == ("unknown")
        assert redeem_code(s, code, address="203.0.113.9") == "unknown"
        assert redeem_code(s, code, address="203.0.113.9", device_secret=WRONG) == "unknown"
    with app.state.db.session() as s:
        assert s.get(RemoteSession, session_id).status == "waiting"  # type: ignore[union-attr]
        got = redeem_code(s, code, address="198.51.100.4", device_secret=request.secret)
        assert not isinstance(got, str)
        assert (got.status, got.mode, got.identity_confirmation) == ("joined", "agent", "managed_device")
