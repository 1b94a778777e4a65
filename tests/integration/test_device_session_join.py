"""A session on a managed device through the real hub (issue 17): the agent's ``joined`` and the
console's ``session_state`` name the device, the policy and the reason; an automatic consent
(notify/unattended: no dialog, ``sas_confirmed`` false) makes the session active and the
``session.consented`` audit entry records the policy that applied. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

from tests.integration.test_signaling import Env, WebSocketTestSession, env, negotiate, recv, send

from veo.server.auth.models import User
from veo.server.devices.models import Device, DeviceGroup
from veo.server.sessions import device_secret, service

__all__ = ["env"]
DEVICE_ID = "d4" * 16
DEVICE = {"device_name": "Reception PC", "policy": "notify", "reason": "Printer queue stuck"}
#: The secret connect.py sends the device with the code (only its digest is on the session).
SECRET = "5c" * 32


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
