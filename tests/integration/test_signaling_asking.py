"""More permission mid-session through the real hub, over real WebSockets, on a real database.

The console asks, the server checks (role's policy, browser share, one question at a time, a
cooldown after a refusal), relays to the agent, records the answer and the session's grant, and
audits each step. The agent's own enforcement is tested in ``tests/unit/agent/test_asking.py``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from tests.integration.test_signaling import Env, env, join, joined_pair, negotiate, recv, send

from veo.protocol.asking import ANSWER_GRACE_SECONDS, ASK_TIMEOUT_SECONDS, REFUSAL_COOLDOWN_SECONDS
from veo.server.policies.models import RolePolicyRow

if TYPE_CHECKING:
    from starlette.testclient import WebSocketTestSession

__all__ = ["env"]  # the fixture, shared with test_signaling

pytestmark = pytest.mark.timeout(60)


def _active(
    env: Env, console: WebSocketTestSession, agent: WebSocketTestSession, code: str, granted: list[str]
) -> None:
    joined_pair(env, console, agent, code)
    negotiate(agent, console)
    send(agent, {"type": "consent", "granted": granted, "sas_confirmed": True})
    recv(console, "consent")
    assert recv(console, "session_state")["status"] == "active"


def _ask(console: WebSocketTestSession, *permissions: str) -> None:
    send(console, {"type": "permission_request", "permissions": list(permissions)})


def _answer(agent: WebSocketTestSession, ask_id: str, outcome: str, granted: list[str]) -> None:
    send(agent, {"type": "permission_answer", "id": ask_id, "outcome": outcome, "granted": granted})


def _actions(env: Env, sid: str) -> list[tuple[str, dict[str, Any]]]:
    return [
        (e.action, e.details) for e in env.actions(sid) if "permission" in e.action or "policy" in e.action
    ]


def test_control_asked_accepted_widens_the_recorded_grant_and_is_audited(env: Env) -> None:
    created = env.create(permissions=["view"])
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        _active(env, console, agent, created["code"], ["view"])
        _ask(console, "control", "files")
        ask = recv(agent, "permission_ask")
        assert ask["permissions"] == ["control", "files"] and ask["timeout_seconds"] == ASK_TIMEOUT_SECONDS
        pending = recv(console, "permission_status")
        assert pending["state"] == "pending" and pending["permissions"] == ["control", "files"]
        state = recv(console, "session_state")
        assert state["permission_pending"] == ["control", "files"] and state["granted"] == ["view"]
        assert env.row(sid).granted_permissions == ["view"], "asking grants nothing"

        _answer(agent, ask["id"], "accepted", ["control"])  # the user unticked files
        outcome = recv(console, "permission_status")
        assert outcome["state"] == "accepted" and outcome["granted"] == ["control"]
        state = recv(console, "session_state")
        assert state["granted"] == ["view", "control"] and state["permission_pending"] == []

    assert env.row(sid).granted_permissions == ["view", "control"]
    assert _actions(env, sid) == [
        ("session.permission_requested", {"asked": ["control", "files"]}),
        (
            "session.permission_granted",
            {"asked": ["control", "files"], "granted": ["control"], "refused": ["files"]},
        ),
    ]
    requested = next(e for e in env.actions(sid) if e.action == "session.permission_requested")
    assert requested.actor == "tech@example.org"


def test_refusal_is_audited_and_the_same_request_waits_for_the_cooldown(env: Env) -> None:
    created = env.create(permissions=["view"])
    sid = created["id"]
    env.hub.clock = env.clock
    with env.console(sid) as console, env.agent() as agent:
        _active(env, console, agent, created["code"], ["view"])
        _ask(console, "control")
        ask = recv(agent, "permission_ask")
        recv(console, "permission_status")
        recv(console, "session_state")
        _answer(agent, ask["id"], "refused", [])
        assert recv(console, "permission_status")["state"] == "refused"
        recv(console, "session_state")

        env.clock.now += 5
        _ask(console, "control")  # a flood right after the refusal
        refused = recv(console, "error")
        assert refused["code"] == "permission_cooldown"
        assert "Control mouse and keyboard" in refused["message"] and "25 seconds" in refused["message"]
        _ask(console, "clipboard")  # another permission is a new question
        other = recv(agent, "permission_ask")
        assert other["permissions"] == ["clipboard"]
        recv(console, "permission_status")
        recv(console, "session_state")
        _answer(agent, other["id"], "timeout", [])
        assert recv(console, "permission_status")["state"] == "timeout"
        recv(console, "session_state")

        env.clock.now += REFUSAL_COOLDOWN_SECONDS
        _ask(console, "control")
        assert recv(agent, "permission_ask")["permissions"] == ["control"]

    assert env.row(sid).granted_permissions == ["view"]
    assert [a for a, _ in _actions(env, sid)] == [
        "session.permission_requested",
        "session.permission_refused",
        "session.permission_requested",
        "session.permission_refused",
        "session.permission_requested",
    ]
    assert [d.get("reason") for a, d in _actions(env, sid) if a == "session.permission_refused"] == [
        "refused",
        "timeout",
    ]


def test_one_question_at_a_time_until_answered_or_stale(env: Env) -> None:
    created = env.create(permissions=["view"])
    sid = created["id"]
    env.hub.clock = env.clock
    with env.console(sid) as console, env.agent() as agent:
        _active(env, console, agent, created["code"], ["view"])
        _ask(console, "control")
        first = recv(agent, "permission_ask")
        recv(console, "permission_status")
        recv(console, "session_state")
        _ask(console, "files")
        assert recv(console, "error")["code"] == "permission_pending"

        # an agent that never answers (too old to know the question) blocks no longer than this
        env.clock.now += ASK_TIMEOUT_SECONDS + ANSWER_GRACE_SECONDS
        _ask(console, "files")
        second = recv(agent, "permission_ask")
        assert second["permissions"] == ["files"] and second["id"] != first["id"]
        recv(console, "permission_status")
        recv(console, "session_state")
        _answer(agent, first["id"], "accepted", ["control"])  # the stale question's late answer
        assert recv(agent, "error")["code"] == "permission_not_asked"

    assert env.row(sid).granted_permissions == ["view"]
    refused = [d for a, d in _actions(env, sid) if a == "session.permission_refused"]
    assert refused == [{"asked": ["control"], "reason": "unanswered"}]


def test_agent_cannot_make_the_server_record_what_was_not_asked(env: Env) -> None:
    created = env.create(permissions=["view"])
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        _active(env, console, agent, created["code"], ["view"])
        _ask(console, "clipboard")
        ask = recv(agent, "permission_ask")
        recv(console, "permission_status")
        recv(console, "session_state")
        _answer(agent, ask["id"], "accepted", ["clipboard", "control", "files"])
        assert recv(console, "permission_status")["granted"] == ["clipboard"]
    assert env.row(sid).granted_permissions == ["view", "clipboard"]


def test_request_beyond_the_role_policy_is_refused_with_a_sentence_and_audited(env: Env) -> None:
    with env.db.session() as s:
        s.add(RolePolicyRow(role="technician", capabilities=["view", "clipboard"]))
    created = env.create(permissions=["view"])
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        _active(env, console, agent, created["code"], ["view"])
        _ask(console, "control")
        refused = recv(console, "error")
        assert refused["code"] == "beyond_policy"
        assert refused["message"].startswith("Your role's policy does not allow")
        assert "Control mouse and keyboard" in refused["message"] and "control" not in refused["message"]
        _ask(console, "view")
        assert recv(console, "error")["code"] == "permission_already_granted"
        _ask(console, "clipboard")  # within the policy: relayed
        assert recv(agent, "permission_ask")["permissions"] == ["clipboard"]

    assert env.row(sid).granted_permissions == ["view"]
    actions = _actions(env, sid)
    assert actions[0] == (
        "session.beyond_policy",
        {
            "requested": ["control"],
            "role": "technician",
            "allowed": ["view", "clipboard"],
            "mid_session": True,
        },
    )
    assert actions[1] == ("session.permission_requested", {"asked": ["clipboard"]})


def test_browser_share_cannot_be_asked_and_nothing_reaches_the_page(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as page:
        assert recv(console, "session_state")["status"] == "waiting"
        send(page, {"type": "join", "code": created["code"], "client": "browser"})
        recv(page, "joined")
        recv(console, "agent_joined")
        recv(console, "session_state")
        negotiate(page, console)
        send(page, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": True})
        recv(console, "consent")
        recv(console, "session_state")
        _ask(console, "control")
        refused = recv(console, "error")
        assert refused["code"] == "permission_browser_share"
        assert "veo app" in refused["message"]
        send(page, {"type": "hangup"})
        assert recv(page, "ended")["by"] == "user"  # the page got no permission_ask before this
    assert env.row(sid).granted_permissions == ["view"]


def test_asking_before_the_user_allowed_is_out_of_order(env: Env) -> None:
    created = env.create(permissions=["view"])
    with env.console(created["id"]) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        _ask(console, "control")
        assert recv(console, "error")["code"] == "out_of_order"
        assert join is not None


def test_refusals_speak_the_console_page_language(env: Env) -> None:
    """A technician without a stored language reads the server's sentence in the page's language."""
    created = env.create(permissions=["view"])
    sid = created["id"]
    headers = {"x-test-user": "tech", "cookie": "veo_lang=es"}
    console_ws = env.client.websocket_connect(f"/ws/console?session={sid}", headers=headers)
    with console_ws as console, env.agent() as agent:
        _active(env, console, agent, created["code"], ["view"])
        _ask(console, "view")
        refused = recv(console, "error")
    assert refused["code"] == "permission_already_granted"
    assert refused["message"] == "El usuario ya lo ha permitido. (Ver la pantalla)"
