"""Trust inside the session, through the real hub and database: the technician's "Codes match",
the user's identity, a mismatch declared by either side, and requests beyond the role's policy.

Same stand-ins as ``test_signaling.py`` (header-based sign-in, injected sleep); SQLite and
PostgreSQL through ``database_url``.
"""

from __future__ import annotations

from typing import Any

import pytest
from tests.integration import test_signaling
from tests.integration.test_signaling import Env, joined_pair, negotiate, recv, send

from veo.protocol.permissions import Permission
from veo.server.policies.capabilities import Capability
from veo.server.policies.service import set_policy
from veo.server.sessions.models import RemoteSession

pytestmark = pytest.mark.timeout(60)
#: the ``env`` fixture (a bare app on SQLite or PostgreSQL) of the signaling tests
env = test_signaling.env


def set_role_policy(env: Env, role: str, capabilities: set[Capability], *, identity: bool = False) -> None:
    with env.db.session() as s:
        set_policy(
            s,
            role,
            capabilities=capabilities,
            totp_required=role == "admin",
            identity_before_control=identity,
            actor="admin@example.org",
        )


def consent(agent: Any, console: Any) -> None:
    send(agent, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": True})
    recv(console, "consent")
    assert recv(console, "session_state")["status"] == "active"


def test_codes_match_and_identity_reach_the_agent_and_are_audited(env: Env) -> None:
    set_role_policy(env, "technician", {Capability.VIEW, Capability.CONTROL}, identity=True)
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        # "Codes match" before anyone could see a code is out of order, and changes nothing
        send(console, {"type": "sas_confirm"})
        assert recv(console, "error")["code"] == "out_of_order"
        negotiate(agent, console)
        consent(agent, console)

        send(console, {"type": "sas_confirm"})
        assert recv(agent, "technician_confirmed") == {
            "v": 1,
            "type": "technician_confirmed",
            "sas_confirmed": True,
            "identity_required": True,
            "identity_confirmed": False,
        }
        state = recv(console, "session_state")
        assert state["technician_sas_confirmed"] is True and state["identity_required"] is True
        assert state["identity"] is None

        # "not verified" is recorded, but does not satisfy a policy that wants a confirmed identity
        send(console, {"type": "identity", "method": "not_verified"})
        assert recv(agent, "technician_confirmed")["identity_confirmed"] is False
        assert recv(console, "session_state")["identity"] == "not_verified"
        send(console, {"type": "identity", "method": "email_link"})
        assert recv(agent, "technician_confirmed")["identity_confirmed"] is True
        assert recv(console, "session_state")["identity"] == "email_link"

        send(console, {"type": "identity", "method": "made_up"})
        assert recv(console, "error")["code"] == "invalid_message"
        send(console, {"type": "hangup"})
        recv(agent, "ended")

    api = env.client.get(f"/api/v1/sessions/{sid}", headers={"x-test-user": "tech"}).json()
    assert api["technician_sas_confirmed"] is True and api["identity_required"] is True
    assert api["identity_confirmation"] == "email_link"
    row = env.row(sid)
    assert row.technician_sas_confirmed and row.identity_required and row.identity_confirmed
    assert row.identity_confirmation == "email_link"
    actions = [e.action for e in env.actions(sid)]
    assert actions.count("session.sas_confirmed_by_technician") == 1
    identities = env.actions(sid, "session.identity_confirmed")
    assert [e.details["method"] for e in identities] == ["not_verified", "email_link"]
    assert all(e.actor == "tech@example.org" for e in identities)


@pytest.mark.parametrize(
    ("sender", "reason", "declared_by"),
    [("agent", "sas_mismatch_user", "user"), ("console", "sas_mismatch", "technician")],
)
def test_a_declared_mismatch_ends_for_both_as_suspected_interception(
    env: Env, sender: str, reason: str, declared_by: str
) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        negotiate(agent, console)
        send(agent if sender == "agent" else console, {"type": "abort", "reason": "sas_mismatch"})
        assert recv(agent, "ended") == {"v": 1, "type": "ended", "by": "system", "reason": reason}
        assert recv(console, "session_state")["status"] == "ended"
        assert recv(console, "ended")["reason"] == reason
    row = env.row(sid)
    assert (row.status, row.ended_by, row.end_reason) == ("ended", "system", reason)
    (event,) = env.actions(sid, "session.sas_mismatch")
    assert event.details == {"reported": "sas_mismatch", "declared_by": declared_by}
    assert event.actor == ("agent" if sender == "agent" else "tech@example.org")


def test_the_agent_cannot_declare_a_mismatch_before_it_showed_a_code(env: Env) -> None:
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        send(agent, {"type": "abort", "reason": "sas_mismatch"})
        assert recv(agent, "error")["code"] == "out_of_order"
        assert env.row(created["id"]).status == "joined"  # (leaving the block disconnects the agent)


def test_a_request_beyond_the_role_policy_is_refused_audited_and_stores_nothing(env: Env) -> None:
    set_role_policy(env, "technician", {Capability.VIEW})
    r = env.client.post(
        f"/api/v1/tickets/{env.ticket_id}/sessions",
        json={"permissions": ["view", "control"]},
        headers={"x-test-user": "tech"},
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "beyond_policy" and "control" in body["message"]
    with env.db.session() as s:
        assert s.query(RemoteSession).count() == 0
    (refusal,) = env.actions(action="session.beyond_policy")
    assert refusal.actor == "tech@example.org" and refusal.ticket_id == env.ticket_id
    assert refusal.details["requested"] == ["control", "view"] and refusal.details["allowed"] == ["view"]

    # the default request is cut down to the policy: the agent is asked for view only
    created = env.create()
    assert created["requested"] == ["view"]
    with env.console(created["id"]) as console, env.agent() as agent:
        recv(console, "session_state")
        send(agent, {"type": "join", "code": created["code"], "platform": "linux", "language": "en"})
        assert recv(agent, "joined")["requested"] == [Permission.VIEW.value]
        # the user ticking more on a hacked agent does not widen the stored grant
        recv(console, "agent_joined")
        recv(console, "session_state")
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": True})
        assert recv(console, "consent")["granted"] == ["view"]
    assert env.row(created["id"]).granted_permissions == ["view"]
    # another role keeps its own policy
    assert env.create(as_user="admin")["requested"] == ["view", "control"]
