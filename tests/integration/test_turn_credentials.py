"""TURN credentials reach only the two peers of a live session, when they need them (issue 13 #1).

Real app, real WebSockets, SQLite and PostgreSQL: with ``VEO_TURN_URLS`` + ``VEO_TURN_SECRET``
the agent's ``joined`` carries one STUN and one TURN URL (what aiortc can use) with a username
for the agent; a console gets nothing before the agent's offer, then the offer carries every URL
with a username of its own; a console that reloads before answering gets the offer again with
credentials made at its reload. ``VEO_ICE_TRANSPORT_POLICY`` goes to both. No log line of the server
holds a password.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from types import SimpleNamespace

import pytest
from tests.integration.test_signaling import SDP, Env, env, join, nonce, recv, send

from veo.config import Settings
from veo.server.sessions import ice

__all__ = ["env"]  # the fixture, imported for pytest

SECRET = "s3cr3t-" * 8
STUN = "stun:turn.example.org:3478"
UDP = "turn:turn.example.org:3478"
TLS = "turns:turn.example.org:443?transport=tcp"


def password(username: str) -> str:
    return base64.b64encode(hmac.new(SECRET.encode(), username.encode(), hashlib.sha1).digest()).decode()


def with_turn(env: Env, policy: str = "all") -> None:
    settings = Settings(
        data_dir=env.hub.settings.data_dir,
        public_url="http://veo.test",
        organization="ACME IT",
        turn_urls=[TLS, UDP, STUN],
        turn_secret=SECRET,
        ice_transport_policy=policy,
    )
    env.hub.settings = settings
    env.app.state.settings = settings


def test_each_peer_gets_its_own_credentials_when_it_needs_them(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with_turn(env, policy="relay")
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        before = recv(console, "session_state")
        assert before["status"] == "waiting" and "ice_servers" not in before
        joined = join(agent, created["code_display"])
        issued_at = time.time()
        assert joined["ice_transport_policy"] == "relay"
        stun, turn = joined["ice_servers"]
        assert stun == {"urls": [STUN], "username": None, "credential": None}
        assert turn["urls"] == [TLS]  # aiortc's one TURN URL: TLS on 443 first
        expiry, _, who = turn["username"].partition(":")
        assert who == f"{sid}.agent" and 0 < int(expiry) - issued_at <= 600
        assert turn["credential"] == password(turn["username"])

        recv(console, "agent_joined")
        state = recv(console, "session_state")
        assert state["status"] == "joined" and "ice_servers" not in state  # nothing before the offer
        _, commitment = nonce()
        send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment})
        offer = recv(console, "offer")
        assert offer["ice_transport_policy"] == "relay"
        c_stun, c_turn = offer["ice_servers"]
        assert c_stun["urls"] == [STUN] and c_stun["credential"] is None
        assert c_turn["urls"] == [UDP, TLS]  # every URL, UDP first
        assert c_turn["username"].endswith(f":{sid}.browser")
        assert c_turn["credential"] == password(c_turn["username"]) != turn["credential"]
        # the offer step ends with its "connecting" broadcast: once seen, it cannot reach the
        # console opened below between its state and the pending offer
        assert recv(console, "session_state")["status"] == "connecting"

        # a console opened again (reloaded) before answering gets the pending offer, with
        # credentials of its own made now (test_a_reloaded_console_gets_fresh_credentials)
        with env.console(sid) as again:
            recv(again, "session_state")
            r_turn = recv(again, "offer")["ice_servers"][1]
            assert r_turn["username"].endswith(f":{sid}.browser")
            assert r_turn["credential"] == password(r_turn["username"])

    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert logged, "the hub logged something (else this proves nothing)"
    for secret in (SECRET, turn["credential"], c_turn["credential"], r_turn["credential"]):
        assert secret not in logged


def test_a_reloaded_console_gets_fresh_credentials(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """The stored offer is re-sent to a console that reloads; the TURN credentials that came with
    it the first time expire ten minutes on, so a console reloaded later would have answered with
    dead ones and could not relay. It gets credentials made at its reload."""
    with_turn(env)
    created = env.create()
    sid = created["id"]
    first_time = time.time()
    monkeypatch.setattr(ice, "time", SimpleNamespace(time=lambda: first_time))
    with env.agent() as agent:
        with env.console(sid) as console:
            recv(console, "session_state")
            join(agent, created["code_display"])
            recv(console, "agent_joined")
            recv(console, "session_state")
            _, commitment = nonce()
            send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment})
            first = recv(console, "offer")["ice_servers"][1]
            assert recv(console, "session_state")["status"] == "connecting"  # the step is done
        first_expiry = int(first["username"].partition(":")[0])
        assert first_expiry == int(first_time) + ice.CREDENTIAL_TTL_SECONDS

        later = first_time + ice.CREDENTIAL_TTL_SECONDS + 60  # the first credentials are dead
        monkeypatch.setattr(ice, "time", SimpleNamespace(time=lambda: later))
        with env.console(sid) as reloaded:
            recv(reloaded, "session_state")
            offer = recv(reloaded, "offer")
            assert offer["commitment"] == commitment and offer["sdp"] == SDP
            again = offer["ice_servers"][1]
            expiry, _, who = again["username"].partition(":")
            assert who == f"{sid}.browser" and int(expiry) == int(later) + ice.CREDENTIAL_TTL_SECONDS
            assert int(expiry) > later > first_expiry
            assert again["credential"] == password(again["username"]) != first["credential"]
            assert again["urls"] == first["urls"] == [UDP, TLS]


def test_an_agent_cannot_hand_the_console_ice_servers(env: Env) -> None:
    with_turn(env)
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as agent:
        recv(console, "session_state")
        join(agent, created["code_display"])
        recv(console, "agent_joined")
        recv(console, "session_state")
        _, commitment = nonce()
        forged = {"urls": ["turn:evil.example:3478"], "username": "u", "credential": "p"}
        send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment, "ice_servers": [forged]})
        assert recv(agent, "error")["code"] == "invalid_message"
        send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment})
        offer = recv(console, "offer")
        assert [s["urls"] for s in offer["ice_servers"]] == [[STUN], [UDP, TLS]]


def test_a_browser_share_gets_every_url_like_the_console(env: Env) -> None:
    with_turn(env)
    created = env.create()
    with env.agent() as page:  # the join page speaks the agent's protocol with client=browser
        send(page, {"type": "join", "code": created["code_display"], "platform": "web", "client": "browser"})
        joined = recv(page, "joined")
        stun, turn = joined["ice_servers"]
        assert stun["urls"] == [STUN] and turn["urls"] == [UDP, TLS]
        assert turn["username"].endswith(f":{created['id']}.browser")
        assert turn["credential"] == password(turn["username"])
