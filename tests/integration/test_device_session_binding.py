"""Only the device's own service can join a managed device's session (review R1-1).

A device session is joined with an ordinary join code, and that code can leak or be guessed;
the console then presents whoever joined as the company's device, identity confirmed. So the
server redeems a device session's code only for a ``join`` carrying the secret it sent the device
with the code (``SessionRequest.secret``, kept as a digest): the code alone is refused exactly as
an unknown code (counted by the limiter, nothing touched), so is a browser, a wrong secret, and a
device secret on an ordinary session. The session stays waiting for the device, which then joins.
SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select
from tests.integration.test_device_pages import ONLINE_ID, _fleet, _technician
from tests.integration.test_device_session_join import DEVICE_ID, SECRET, _device_session, join
from tests.integration.test_signaling import Env, env, recv, send

from veo.server.sessions import device_secret
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.redeem import redeem_code
from veo.server.sessions.schemas import created

__all__ = ["env"]
WRONG = "a7" * 32


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
