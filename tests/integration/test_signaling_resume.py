"""Resuming a session after a drop (issue 13 point 2), through the real hub, app and database.

Real WebSockets against the session routes (the stand-ins of ``test_signaling.py``: header-based
sign-in, injected sleep for the join limiter), on SQLite and PostgreSQL: the rejoin of a new
agent socket, an interruption and its end by the grace period, a resume by proof or by a new
code, refused proofs, the resume offers' limit, and a server "restart" (a new app and hub on the
same database) that ends nothing. Every test ends by checking the audit chain.
"""

from __future__ import annotations

import asyncio
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import StarletteDeprecationWarning
from tests.integration import test_signaling
from tests.integration.test_signaling import (
    SDP,
    Env,
    closed_with,
    join,
    joined_pair,
    negotiate,
    nonce,
    recv,
    send,
)

from veo.protocol.resume import MAX_BAD_PROOFS, MAX_RESUME_OFFERS_PER_MINUTE
from veo.server.audit.verify import verify_chain
from veo.server.auth.deps import current_user, current_user_ws
from veo.server.auth.models import User
from veo.server.errors import ApiError
from veo.server.policies.capabilities import Capability
from veo.server.policies.service import set_policy
from veo.server.sessions import resuming
from veo.server.sessions.hub import CLOSE_REPLACED, SignalingHub
from veo.server.sessions.routes import install
from veo.server.sessions.runtime_store import MemoryRuntimeStore
from veo.server.sessions.wire import CLOSE_POLICY

with warnings.catch_warnings():
    # Starlette 1.x asks for the "httpx2" fork; plain httpx works for these tests.
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(60)
#: the ``env`` fixture (a bare app on SQLite or PostgreSQL) of the signaling tests
env = test_signaling.env
PROOF = "c" * 64


# ---------------------------------------------------------------- helpers


def set_grace(env: Env, seconds: int) -> None:
    """The technician role's grace period (copied onto the sessions created after it)."""
    with env.db.session() as s:
        set_policy(
            s,
            "technician",
            capabilities={Capability.VIEW, Capability.CONTROL},
            totp_required=False,
            identity_before_control=False,
            resume_grace_seconds=seconds,
            actor="admin@example.org",
        )


def active(console: Any, agent: Any, env: Env, created: dict[str, Any]) -> dict[str, Any]:
    """Join, negotiate and consent; the agent's ``joined``."""
    assert recv(console, "session_state")["status"] == "waiting"
    joined = join(agent, created["code"])
    assert joined["type"] == "joined"
    recv(console, "agent_joined")
    recv(console, "session_state")
    negotiate(agent, console)
    send(agent, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": True})
    recv(console, "consent")
    assert recv(console, "session_state")["status"] == "active"
    return joined


def rejoin(ws: Any, session_id: str, token: str, media: str = "up") -> dict[str, Any]:
    send(ws, {"type": "rejoin", "session_id": session_id, "token": token, "media": media})
    return recv(ws)


def chain_ok(env: Env) -> None:
    """``veo audit verify``'s chain walk passes after the case."""
    with env.db.session() as s:
        verdict = verify_chain(s)
    assert verdict.ok, verdict


def ended_row(env: Env, session_id: str, seconds: float = 10.0) -> Any:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        row = env.row(session_id)
        if row.status == "ended":
            return row
        time.sleep(0.05)
    raise AssertionError(f"session {session_id} did not end within {seconds} s")


# ---------------------------------------------------------------- rejoin


def test_a_rejoin_with_the_token_carries_the_session_and_replaces_the_older_socket(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined = active(console, agent, env, created)
        assert joined["resume_grace_seconds"] == 120
        with env.agent() as again:
            rejoined = rejoin(again, sid, joined["resume_token"])
            assert rejoined == {
                "v": 1,
                "type": "rejoined",
                "session_id": sid,
                "status": "active",
                "ice_servers": [],
                "ice_transport_policy": "all",
                "renegotiate": False,
            }
            assert closed_with(agent) == CLOSE_REPLACED  # the older socket is closed
            state = recv(console, "session_state")
            assert state["agent_connected"] is True and state["interrupted"] is False
            # the new socket is the session's agent, both ways
            send(again, {"type": "control_state", "paused": True})
            assert recv(console, "control_state")["paused"] is True
            recv(console, "session_state")
            send(console, {"type": "sas_confirm"})
            assert recv(again, "technician_confirmed")["sas_confirmed"] is True
            recv(console, "session_state")
            send(console, {"type": "hangup"})
            assert recv(again, "ended")["by"] == "technician"
    assert env.actions(sid, "session.interrupted") == []  # a replaced socket is no drop
    assert env.row(sid).ended_by == "technician"
    chain_ok(env)


def test_a_wrong_token_or_unknown_session_is_refused_like_a_wrong_code(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined = active(console, agent, env, created)
        answers = []
        for session_id, token in [(sid, "x" * 43), ("no-such-session", joined["resume_token"])]:
            with env.agent() as intruder:
                answer = rejoin(intruder, session_id, token)
                assert closed_with(intruder) == 1008
            answers.append((answer["code"], answer["message"], answer["fatal"]))
        # one generic answer: neither which part was wrong nor whether the session exists
        assert answers[0] == answers[1] and answers[0][0] == "rejoin_refused" and answers[0][2] is True
        assert env.slept == [0.5], "counted by the join limiter: the second failure waits"
        rejected = env.actions(action="session.code_rejected")
        assert rejected[0].details == {"reason": "rejoin_refused"}  # the refusal log's first row
        # the real agent is untouched
        send(agent, {"type": "control_state", "paused": True})
        assert recv(console, "control_state")["paused"] is True
        recv(console, "session_state")
    for _ in range(3):
        with env.agent() as intruder:
            rejoin(intruder, sid, "y" * 43)
    with env.agent() as late:  # even the right token now waits: this address failed too often
        assert rejoin(late, sid, joined["resume_token"])["code"] == "rate_limited"
    chain_ok(env)


def test_a_rejoin_after_the_end_is_told_the_session_ended(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined = active(console, agent, env, created)
        send(console, {"type": "hangup"})
        recv(agent, "ended")
    with env.agent() as again:
        answer = rejoin(again, sid, joined["resume_token"])
        assert (answer["type"], answer["code"], answer["fatal"]) == ("error", "session_ended", True)
        assert answer["message"] == "This session has ended."
        assert closed_with(again) == 1008
    assert env.slept == [], "the right token is no failure"
    chain_ok(env)


# ---------------------------------------------------------------- interruption by a dropped socket


def test_a_dropped_agent_socket_interrupts_and_the_grace_period_ends_it_as_connection_lost(env: Env) -> None:
    set_grace(env, 1)
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console:
        with env.agent() as agent:
            joined = active(console, agent, env, created)
            assert joined["resume_grace_seconds"] == 1
        state = recv(console, "session_state")
        assert state["agent_connected"] is False and state["interrupted"] is True
        assert state["resume_deadline"] and state["status"] == "active"
        assert recv(console, "session_state")["status"] == "ended"
        assert recv(console, "ended") == {
            "v": 1,
            "type": "ended",
            "by": "system",
            "reason": "connection_lost",
        }
    row = env.row(sid)
    assert (row.ended_by, row.end_reason) == ("system", "connection_lost")
    [interrupted] = env.actions(sid, "session.interrupted")
    assert interrupted.details["link"] == "signaling" and interrupted.details["cause"] == "disconnected"
    assert interrupted.actor == "system" and interrupted.details["grace_seconds"] == 1
    ended = env.actions(sid, "session.ended")[-1]
    assert ended.details["reason"] == "connection_lost" and ended.details["grace_seconds"] == 1
    assert env.actions(sid, "session.resumed") == []
    chain_ok(env)


def test_a_rejoin_within_the_grace_period_ends_the_interruption(env: Env) -> None:
    set_grace(env, 2)
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console:
        with env.agent() as agent:
            joined = active(console, agent, env, created)
        assert recv(console, "session_state")["interrupted"] is True
        with env.agent() as again:
            assert rejoin(again, sid, joined["resume_token"], media="up")["type"] == "rejoined"
            state = recv(console, "session_state")
            assert state["interrupted"] is False and state["resume_deadline"] is None
            assert state["agent_connected"] is True
            time.sleep(2.5)  # past the first deadline: its timer was stopped
            assert env.row(sid).status == "active"
            send(again, {"type": "resumed", "verified_by": "connection_kept"})  # not interrupted: ignored
            send(console, {"type": "hangup"})
            recv(again, "ended")
    [resumed] = env.actions(sid, "session.resumed")
    assert resumed.details["verified_by"] == "connection_kept" and resumed.details["seconds"] >= 0
    assert env.row(sid).end_reason == "hangup"
    chain_ok(env)


def test_before_consent_a_dropped_socket_keeps_the_short_wait(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console:
        with env.agent() as agent:
            joined_pair(env, console, agent, created["code"])
        state = recv(console, "session_state")
        assert state["agent_connected"] is False and state["interrupted"] is False
        assert recv(console, "session_state")["status"] == "ended"
        assert recv(console, "ended")["reason"] == "agent_disconnected"
    assert env.row(sid).end_reason == "agent_disconnected"
    assert env.actions(sid, "session.interrupted") == []
    chain_ok(env)


def test_before_consent_a_rejoin_within_the_short_wait_keeps_the_session(env: Env) -> None:
    env.hub.sleep = asyncio.sleep
    env.hub.agent_grace_seconds = 1
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console:
        with env.agent() as agent:
            assert recv(console, "session_state")["status"] == "waiting"
            token = join(agent, created["code"])["resume_token"]
            recv(console, "agent_joined")
            recv(console, "session_state")
        assert recv(console, "session_state")["agent_connected"] is False
        with env.agent() as again:
            rejoined = rejoin(again, sid, token, media="none")
            assert (rejoined["status"], rejoined["renegotiate"]) == ("joined", False)
            assert recv(console, "session_state")["agent_connected"] is True
            time.sleep(1.5)  # past the short wait: the older socket's end changes nothing
            assert env.row(sid).status == "joined"
            negotiate(again, console)
    assert env.actions(sid, "session.interrupted") == []
    chain_ok(env)


# ---------------------------------------------------------------- a new peer connection


def resume_offer(agent: Any, console: Any) -> tuple[str, str]:
    """The agent's resume offer reaches the console; its ``(nA, C)``."""
    n_a, commitment = nonce()
    send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment, "resume": True})
    offer = recv(console, "offer")
    assert offer["resume"] is True and offer["commitment"] == commitment
    recv(console, "session_state")
    return n_a, commitment


def test_a_resume_by_proof_is_relayed_and_audited(env: Env) -> None:
    env.hub.settings = env.hub.settings.model_copy(
        update={"turn_urls": ["turn:turn.example.org:3478"], "turn_secret": "s" * 32}
    )
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        active(console, agent, env, created)
        # a first-connection offer is out of order once the user allowed the session
        send(agent, {"type": "offer", "sdp": SDP, "commitment": "a" * 64})
        assert recv(agent, "error")["code"] == "out_of_order"
        send(agent, {"type": "interrupted", "cause": "heartbeat"})
        state = recv(console, "session_state")
        assert state["interrupted"] is True and state["status"] == "active"
        n_a, commitment = nonce()
        send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment, "resume": True})
        offer = recv(console, "offer")
        assert offer["resume"] is True and offer["commitment"] == commitment
        [turn] = offer["ice_servers"]  # the console's own TURN credentials, made now
        assert turn["urls"] == ["turn:turn.example.org:3478"] and turn["username"].endswith(f"{sid}.browser")
        assert recv(console, "session_state")["interrupted"] is True
        n_b, _ = nonce()
        send(console, {"type": "answer", "sdp": SDP, "nonce": n_b, "resume_proof": PROOF})
        answer = recv(agent, "answer")
        assert (answer["nonce"], answer["resume_proof"]) == (n_b, PROOF)
        send(agent, {"type": "reveal", "nonce": n_a, "resume_proof": "d" * 64})
        reveal = recv(console, "reveal")
        assert (reveal["nonce"], reveal["resume_proof"]) == (n_a, "d" * 64)
        send(agent, {"type": "resumed", "verified_by": "proof"})
        state = recv(console, "session_state")
        assert state["interrupted"] is False and state["granted"] == ["view", "control"]
        send(console, {"type": "hangup"})
        recv(agent, "ended")
    assert [e.action for e in env.actions(sid)][-3:] == [
        "session.interrupted",
        "session.resumed",
        "session.ended",
    ]
    interrupted, resumed = env.actions(sid, "session.interrupted")[0], env.actions(sid, "session.resumed")[0]
    assert interrupted.details["cause"] == "heartbeat" and interrupted.details["link"] == "media"
    assert interrupted.actor == "agent"
    assert resumed.details["verified_by"] == "proof" and resumed.details["seconds"] >= 0
    row = env.row(sid)
    assert row.resume_deadline is None and row.granted_permissions == ["view", "control"]
    chain_ok(env)


def test_verify_again_clears_the_technicians_codes_match_until_clicked_anew(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        active(console, agent, env, created)
        send(console, {"type": "sas_confirm"})
        assert recv(agent, "technician_confirmed")["sas_confirmed"] is True
        assert recv(console, "session_state")["technician_sas_confirmed"] is True
        send(agent, {"type": "interrupted", "cause": "closed"})
        recv(console, "session_state")
        n_a, _ = resume_offer(agent, console)
        n_b, _ = nonce()
        send(console, {"type": "answer", "sdp": SDP, "nonce": n_b})  # another browser: no key, no proof
        assert recv(agent, "answer").get("resume_proof") is None
        send(agent, {"type": "reveal", "nonce": n_a})
        recv(console, "reveal")
        send(agent, {"type": "verify_again"})
        assert recv(agent, "technician_confirmed")["sas_confirmed"] is False
        state = recv(console, "session_state")
        assert state["technician_sas_confirmed"] is False and state["interrupted"] is True
        assert env.row(sid).technician_sas_confirmed is False
        send(console, {"type": "sas_confirm"})  # the new code, read aloud again
        assert recv(agent, "technician_confirmed")["sas_confirmed"] is True
        recv(console, "session_state")
        send(agent, {"type": "resumed", "verified_by": "code"})
        assert recv(console, "session_state")["interrupted"] is False
        send(console, {"type": "hangup"})
        recv(agent, "ended")
    actions = [e.action for e in env.actions(sid)]
    assert actions.count("session.sas_confirmed_by_technician") == 2
    assert actions.index("session.reverify_requested") < len(actions) - 1 - actions[::-1].index(
        "session.sas_confirmed_by_technician"
    )
    assert env.actions(sid, "session.resumed")[0].details["verified_by"] == "code"
    chain_ok(env)


def test_refused_proofs_are_audited_and_the_third_ends_the_session_as_resume_failed(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        active(console, agent, env, created)
        send(agent, {"type": "interrupted", "cause": "ice_failed"})
        recv(console, "session_state")
        for by, reason in [("agent", "bad_proof"), ("console", "bad_proof"), ("agent", "missing_proof")]:
            n_a, _ = resume_offer(agent, console)
            if by == "agent":
                send(console, {"type": "answer", "sdp": SDP, "nonce": nonce()[0], "resume_proof": PROOF})
                recv(agent, "answer")
                send(agent, {"type": "resume_refused", "reason": reason})
            else:  # the console refuses the reveal of the exchange its own answer took
                send(console, {"type": "answer", "sdp": SDP, "nonce": nonce()[0], "resume_proof": PROOF})
                recv(agent, "answer")
                send(agent, {"type": "reveal", "nonce": n_a, "resume_proof": "d" * 64})
                recv(console, "reveal")
                send(console, {"type": "resume_refused", "reason": reason})
        assert recv(agent, "ended") == {"v": 1, "type": "ended", "by": "system", "reason": "resume_failed"}
        assert recv(console, "session_state")["status"] == "ended"
        assert recv(console, "ended")["reason"] == "resume_failed"
    refused = env.actions(sid, "session.resume_refused")
    assert [(e.details["by"], e.details["reason"], e.details["failures"]) for e in refused] == [
        ("agent", "bad_proof", 1),
        ("console", "bad_proof", 2),
        ("agent", "missing_proof", 3),
    ]
    assert len(refused) == MAX_BAD_PROOFS
    assert refused[1].actor == "tech@example.org" and refused[0].actor == "agent"
    row = env.row(sid)
    assert (row.status, row.ended_by, row.end_reason, row.resume_failures) == (
        "ended",
        "system",
        "resume_failed",
        3,
    )
    chain_ok(env)


def test_a_second_console_whose_answer_lost_cannot_refuse_the_winners_proof(env: Env) -> None:
    """Two tabs of one session (a duplicated tab holds the resume key too) both answer a resume
    offer; the first answer wins and the agent's proof is over its fingerprint, so the other tab
    finds that proof wrong. Its ``resume_refused`` is answered ``out_of_order``, neither audited
    nor counted: three of them do not end the session. The winner's refusal still counts,
    whichever tab it is."""
    created = env.create()
    sid = created["id"]
    with env.console(sid) as first, env.agent() as agent:
        active(first, agent, env, created)
        with env.console(sid) as second:
            assert recv(second, "session_state")["status"] == "active"
            send(agent, {"type": "interrupted", "cause": "heartbeat"})
            recv(first, "session_state")
            recv(second, "session_state")

            def exchange(winner: Any, loser: Any) -> None:
                """A resume offer both tabs answer; ``winner``'s answer reaches the hub first."""
                n_a, _ = resume_offer(agent, first)
                assert recv(second, "offer")["resume"] is True
                recv(second, "session_state")
                send(winner, {"type": "answer", "sdp": SDP, "nonce": nonce()[0], "resume_proof": PROOF})
                recv(agent, "answer")
                send(loser, {"type": "answer", "sdp": SDP, "nonce": nonce()[0], "resume_proof": "e" * 64})
                taken = recv(loser, "error")
                assert (taken["code"], taken["fatal"]) == ("out_of_order", False)
                assert taken["message"].endswith("(answer)")  # what the console reads it by
                send(agent, {"type": "reveal", "nonce": n_a, "resume_proof": "d" * 64})
                recv(winner, "reveal")
                recv(loser, "reveal")

            for _ in range(MAX_BAD_PROOFS):
                exchange(first, second)
                send(second, {"type": "resume_refused", "reason": "bad_proof"})
                # a message after it: its reply comes after the refusal's, whatever that was
                send(second, {"type": "answer", "sdp": SDP, "nonce": nonce()[0]})
                refused = recv(second, "error")
                assert (refused["code"], refused["message"].endswith("(resume_refused)")) == (
                    "out_of_order",
                    True,
                ), refused
                assert recv(second, "error")["message"].endswith("(answer)")
            assert env.actions(sid, "session.resume_refused") == []
            row = env.row(sid)
            assert (row.status, row.resume_failures) == ("active", 0)
            # the tab whose answer won judges the reveal, whichever tab that is
            exchange(second, first)
            send(first, {"type": "resume_refused", "reason": "bad_proof"})
            assert recv(first, "error")["message"].endswith("(resume_refused)")
            send(second, {"type": "resume_refused", "reason": "bad_proof"})
            send(second, {"type": "answer", "sdp": SDP, "nonce": nonce()[0]})
            assert recv(second, "error")["message"].endswith("(answer)")  # the refusal had no reply
            [counted] = env.actions(sid, "session.resume_refused")
            assert (counted.details["by"], counted.details["failures"]) == ("console", 1)
            assert env.row(sid).status == "active"
            send(first, {"type": "hangup"})
            recv(agent, "ended")
    chain_ok(env)


def test_resume_messages_need_a_session_the_user_allowed(env: Env) -> None:
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        for message in (
            {"type": "interrupted", "cause": "heartbeat"},
            {"type": "resumed", "verified_by": "proof"},
            {"type": "verify_again"},
            {"type": "resume_refused", "reason": "bad_proof"},
            {"type": "offer", "sdp": SDP, "commitment": "b" * 64, "resume": True},
        ):
            send(agent, message)
            assert recv(agent, "error")["code"] == "out_of_order", message
        send(console, {"type": "resume_refused", "reason": "bad_proof"})
        assert recv(console, "error")["code"] == "out_of_order"
    assert env.actions(created["id"], "session.resume_refused") == []


def test_resume_offers_are_rate_limited_per_session(env: Env) -> None:
    env.hub.clock = env.clock
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as agent:
        active(console, agent, env, created)
        # an agent whose ``interrupted`` was lost with its network: the resume offer starts it
        _, commitment = nonce()
        send(agent, {"type": "offer", "sdp": SDP, "commitment": commitment, "resume": True})
        state = recv(console, "session_state")
        assert state["interrupted"] is True and state["resume_deadline"]
        assert recv(console, "offer")["resume"] is True
        recv(console, "session_state")
        [interrupted] = env.actions(created["id"], "session.interrupted")
        assert interrupted.details["link"] == "media" and interrupted.details["cause"] == "new_connection"
        for _ in range(MAX_RESUME_OFFERS_PER_MINUTE - 1):
            resume_offer(agent, console)
        send(agent, {"type": "offer", "sdp": SDP, "commitment": "f" * 64, "resume": True})
        assert recv(agent, "error")["code"] == "resume_rate_limited"
        env.clock.now += 60
        resume_offer(agent, console)
        send(console, {"type": "hangup"})
        recv(agent, "ended")


# ---------------------------------------------------------------- a server restart


@contextmanager
def restarted(env: Env) -> Iterator[TestClient]:
    """A new app and hub on the same database, as after a restart of the server process.

    The old hub stops and its memory is dropped first, as a crash would: its sockets' ends then
    change nothing, and only the new hub's start decides.
    """
    old: SignalingHub = env.hub
    assert env.client.portal is not None
    env.client.portal.call(old.close)
    old.store = MemoryRuntimeStore()
    old._agents.clear()
    app = FastAPI()
    app.state.settings = env.app.state.settings
    app.state.db = env.db
    users: dict[str, User] = env.users

    async def fake_user(request: Request) -> User:
        user = users.get(request.headers.get("x-test-user", ""))
        if user is None:
            raise ApiError(401, "not_authenticated", "sign in")
        return user

    async def fake_user_ws(websocket: WebSocket) -> User | None:
        return users.get(websocket.headers.get("x-test-user", ""))

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return JSONResponse({"code": exc.code, "message": exc.message}, status_code=exc.status)

    app.dependency_overrides[current_user] = fake_user
    app.dependency_overrides[current_user_ws] = fake_user_ws
    install(app)
    with TestClient(app) as client:  # its lifespan runs the new hub's start
        yield client


def test_a_server_restart_ends_nothing_and_the_agent_rejoins(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined = active(console, agent, env, created)
        with restarted(env) as client:
            row = env.row(sid)
            assert row.status == "active" and row.resume_deadline is not None
            [interrupted] = env.actions(sid, "session.interrupted")
            assert interrupted.details["link"] == "server_restart"
            with client.websocket_connect(
                f"/ws/console?session={sid}", headers={"x-test-user": "tech"}
            ) as new:
                state = recv(new, "session_state")
                assert state["status"] == "active" and state["interrupted"] is True
                assert state["granted"] == ["view", "control"]
                with client.websocket_connect("/ws/agent") as again:
                    rejoined = rejoin(again, sid, joined["resume_token"], media="lost")
                    assert rejoined["status"] == "active" and rejoined["renegotiate"] is False
                    assert recv(new, "session_state")["agent_connected"] is True
                    # the peer connection is being replaced: a resume offer, not a new negotiation
                    n_a, _ = resume_offer(again, new)
                    send(new, {"type": "answer", "sdp": SDP, "nonce": nonce()[0], "resume_proof": PROOF})
                    recv(again, "answer")
                    send(again, {"type": "reveal", "nonce": n_a, "resume_proof": PROOF})
                    recv(new, "reveal")
                    send(again, {"type": "resumed", "verified_by": "proof"})
                    assert recv(new, "session_state")["interrupted"] is False
                    send(new, {"type": "hangup"})
                    recv(again, "ended")
    row = env.row(sid)
    assert (row.ended_by, row.end_reason) == ("technician", "hangup")
    assert [e.details["verified_by"] for e in env.actions(sid, "session.resumed")] == ["proof"]
    chain_ok(env)


def test_after_a_restart_a_session_not_yet_allowed_renegotiates(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        assert recv(console, "session_state")["status"] == "waiting"
        token = join(agent, created["code"])["resume_token"]
        recv(console, "agent_joined")
        recv(console, "session_state")
        send(agent, {"type": "offer", "sdp": SDP, "commitment": "e" * 64})
        recv(console, "offer")
        recv(console, "session_state")
        with restarted(env) as client:
            assert env.row(sid).status == "connecting"
            with client.websocket_connect(
                f"/ws/console?session={sid}", headers={"x-test-user": "tech"}
            ) as new:
                assert recv(new, "session_state")["interrupted"] is True
                with client.websocket_connect("/ws/agent") as again:
                    rejoined = rejoin(again, sid, token, media="none")
                    assert rejoined["renegotiate"] is True and rejoined["status"] == "connecting"
                    state = recv(new, "session_state")
                    assert state["interrupted"] is False and state["agent_connected"] is True
                    negotiate(again, new)  # a fresh offer and a fresh code
                    send(again, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
                    recv(new, "consent")
                    assert recv(new, "session_state")["status"] == "active"
                    send(new, {"type": "hangup"})
                    recv(again, "ended")
    assert [e.details["verified_by"] for e in env.actions(sid, "session.resumed")] == ["rejoined"]
    assert env.row(sid).granted_permissions == ["view"]
    chain_ok(env)


def test_after_a_restart_a_session_nobody_comes_back_to_ends_after_its_grace(env: Env) -> None:
    set_grace(env, 1)
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        active(console, agent, env, created)
        with restarted(env):
            row = ended_row(env, sid)
    assert (row.ended_by, row.end_reason) == ("system", "connection_lost")
    assert [e.details["link"] for e in env.actions(sid, "session.interrupted")] == ["server_restart"]
    chain_ok(env)


def test_a_rejoin_that_fails_leaves_no_closed_socket_held(env: Env, monkeypatch: pytest.MonkeyPatch) -> None:
    """A rejoin whose step fails after its socket was registered (a database blip) is refused, and
    the closed socket is forgotten: no heartbeat claims the session for it."""
    created = env.create()
    sid = created["id"]
    hub = env.hub
    assert env.client.portal is not None
    with env.console(sid) as console:
        with env.agent() as agent:
            joined = active(console, agent, env, created)
        assert recv(console, "session_state")["interrupted"] is True

        async def blip(*args: Any, **kwargs: Any) -> Any:
            raise RuntimeError("database blip")

        with monkeypatch.context() as patched:
            patched.setattr(resuming, "rejoined", blip)
            with env.agent() as again:
                send(
                    again,
                    {"type": "rejoin", "session_id": sid, "token": joined["resume_token"], "media": "up"},
                )
                answer = recv(again, "error")
                assert answer["code"] == "server_error" and answer["fatal"] is True
                assert closed_with(again) == CLOSE_POLICY
        assert hub.agent_socket(sid) is None, "a closed socket is still held by this node"
        env.client.portal.call(hub.claim_held)
        rt = env.client.portal.call(hub.store.get, sid)
        assert rt is not None and rt.agent_node is None
    assert env.row(sid).resume_deadline is not None, "the interruption goes on until a real rejoin"
