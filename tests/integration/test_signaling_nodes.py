"""Two server nodes share one database, one Redis bus, one runtime store and the heartbeats.

Any node serves either peer of any session (issue 16): the agent on node A and the console on
node B run a whole session; an agent that rejoins on B takes the session over and its older
socket on A is closed; when A is gone (no heartbeat) B's liveness sweep interrupts A's session
once, even with two sweeping nodes, and the agent's rejoin on B carries it on; a node that starts
interrupts nothing another live node holds. Real WebSockets (Starlette's TestClient), one app per
node, each on its own event loop as two processes would be. Redis keys under a random prefix;
skipped when Redis does not answer, except in CI.
"""

from __future__ import annotations

import asyncio
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from tests.integration.test_signaling import (
    REDIS_URL,
    SDP,
    build_app,
    closed_with,
    install_with_stand_in_sign_in,
    join,
    negotiate,
    nonce,
    recv,
    send,
)
from tests.unit.server.sessions.runtime_stores import delete_prefix, random_prefix, redis_or_skip

from veo.server.audit.models import AuditEvent
from veo.server.audit.verify import verify_chain
from veo.server.auth.models import User
from veo.server.bus.redis import RedisBus
from veo.server.db.engine import Database
from veo.server.sessions.hub import CLOSE_REPLACED, SignalingHub
from veo.server.sessions.liveness import RedisLiveness
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import SessionRuntime
from veo.server.sessions.runtime_store import MemoryRuntimeStore, RedisRuntimeStore

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient

pytestmark = pytest.mark.timeout(90)


@dataclass
class Node:
    app: FastAPI
    client: TestClient
    db: Database
    bus: RedisBus

    @property
    def hub(self) -> SignalingHub:
        hub: SignalingHub = self.app.state.hub
        return hub

    def call(self, work: Any, *args: Any) -> Any:
        """Run ``work`` (async) on this node's event loop."""
        assert self.client.portal is not None
        return self.client.portal.call(work, *args)

    def console(self, session_id: str) -> Any:
        return self.client.websocket_connect(
            f"/ws/console?session={session_id}", headers={"x-test-user": "tech"}
        )

    def agent(self) -> Any:
        return self.client.websocket_connect("/ws/agent")


@dataclass
class Pair:
    a: Node
    b: Node
    prefix: str
    ticket_id: int

    def create(self) -> dict[str, Any]:
        r = self.a.client.post(
            f"/api/v1/tickets/{self.ticket_id}/sessions", json={}, headers={"x-test-user": "tech"}
        )
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def row(self, session_id: str) -> RemoteSession:
        with self.a.db.session() as s:
            row = s.get(RemoteSession, session_id)
            assert row is not None
            return row

    def events(self, session_id: str, action: str) -> list[AuditEvent]:
        with self.a.db.session() as s:
            return list(
                s.query(AuditEvent)
                .filter(AuditEvent.session_id == session_id, AuditEvent.action == action)
                .order_by(AuditEvent.seq)
            )

    def shared_hub(self, url: str) -> SignalingHub:
        """Another node's hub on the same database and Redis (driven on node B's loop)."""
        return SignalingHub(
            db=Database(url),
            bus=RedisBus(REDIS_URL, prefix=self.prefix),
            settings=self.a.app.state.settings,
            store=RedisRuntimeStore(REDIS_URL, prefix=self.prefix),
            liveness=RedisLiveness(REDIS_URL, prefix=self.prefix),
        )


def node_app(app_a: FastAPI, database_url: str, users: dict[str, User]) -> FastAPI:
    """A second node: the same settings and database (its own engine), the same stand-in sign-in."""
    app = FastAPI()
    app.state.settings = app_a.state.settings
    app.state.db = Database(database_url)
    install_with_stand_in_sign_in(app, users)
    return app


def _on_redis(app: FastAPI, prefix: str) -> RedisBus:
    """What ``install`` makes with ``VEO_REDIS_URL``, under the test's own key prefix."""
    hub: SignalingHub = app.state.hub
    bus = RedisBus(REDIS_URL, prefix=prefix)
    hub.bus = app.state.bus = bus
    hub.store = RedisRuntimeStore(REDIS_URL, prefix=prefix)
    hub.liveness = RedisLiveness(REDIS_URL, prefix=prefix)
    hub.agent_grace_seconds = 0

    async def no_wait(seconds: float) -> None:
        return None

    hub.sleep = no_wait
    return bus


@contextmanager
def running_on_redis(
    app_a: FastAPI, app_b: FastAPI, prefix: str
) -> Iterator[tuple[tuple[TestClient, RedisBus], tuple[TestClient, RedisBus]]]:
    """Both nodes on Redis under ``prefix``, each served by its TestClient (its own event loop);
    afterwards their buses closed, their engines disposed and the keys under ``prefix`` deleted.
    The session nodes here and the device nodes (``test_device_socket_nodes.py``)."""
    bus_a, bus_b = _on_redis(app_a, prefix), _on_redis(app_b, prefix)
    try:
        with TestClient(app_a) as client_a, TestClient(app_b) as client_b:
            try:
                yield (client_a, bus_a), (client_b, bus_b)
            finally:
                for client, bus in ((client_a, bus_a), (client_b, bus_b)):
                    assert client.portal is not None
                    client.portal.call(bus.close)
    finally:
        app_a.state.db.dispose()
        app_b.state.db.dispose()
        asyncio.run(delete_prefix(prefix))


@pytest.fixture
def pair(tmp_path: Path, database_url: str) -> Iterator[Pair]:
    asyncio.run(redis_or_skip())
    prefix = random_prefix()
    app_a, users, ticket_id = build_app(tmp_path, database_url)
    app_b = node_app(app_a, database_url, users)
    with running_on_redis(app_a, app_b, prefix) as ((client_a, bus_a), (client_b, bus_b)):
        a = Node(app_a, client_a, app_a.state.db, bus_a)
        b = Node(app_b, client_b, app_b.state.db, bus_b)
        yield Pair(a, b, prefix, ticket_id)


def _active(pair: Pair, console: Any, agent: Any, created: dict[str, Any]) -> dict[str, Any]:
    """Join (the agent's node) and consent, the console on the other node; the agent's ``joined``."""
    assert recv(console, "session_state")["status"] == "waiting"
    joined = join(agent, created["code"])
    assert joined["type"] == "joined"
    recv(console, "agent_joined")
    assert recv(console, "session_state")["agent_connected"] is True
    negotiate(agent, console)
    send(agent, {"type": "consent", "granted": ["view", "control"], "sas_confirmed": True})
    assert recv(console, "consent")["granted"] == ["view", "control"]
    assert recv(console, "session_state")["status"] == "active"
    return joined


def _rejoin(ws: Any, session_id: str, token: str, media: str) -> dict[str, Any]:
    send(ws, {"type": "rejoin", "session_id": session_id, "token": token, "media": media})
    return recv(ws, "rejoined")


def _runtime(node: Node, session_id: str) -> SessionRuntime | None:
    """The session's shared state once the step that relayed the last message saved it (its lock)."""

    async def read() -> SessionRuntime | None:
        async with node.hub.store.edit(session_id) as held:
            return held.rt

    result: SessionRuntime | None = node.call(read)
    return result


def _chain_ok(pair: Pair) -> None:
    with pair.a.db.session() as s:
        verdict = verify_chain(s)
    assert verdict.ok, verdict


def test_agent_on_node_a_and_console_on_node_b_run_the_whole_session(pair: Pair) -> None:
    created = pair.create()
    sid = created["id"]
    with pair.b.console(sid) as console, pair.a.agent() as agent:
        _active(pair, console, agent, created)
        rt = _runtime(pair.b, sid)
        assert rt is not None and rt.agent_node == pair.a.hub.node and rt.consented
        send(console, {"type": "sas_confirm"})
        assert recv(agent, "technician_confirmed")["sas_confirmed"] is True
        assert recv(console, "session_state")["technician_sas_confirmed"] is True
        send(console, {"type": "permission_request", "permissions": ["files"]})
        ask = recv(agent, "permission_ask")
        assert recv(console, "permission_status")["state"] == "pending"
        assert recv(console, "session_state")["permission_pending"] == ["files"]
        send(
            agent, {"type": "permission_answer", "id": ask["id"], "outcome": "accepted", "granted": ["files"]}
        )
        assert recv(console, "permission_status")["state"] == "accepted"
        assert recv(console, "session_state")["granted"] == ["view", "control", "files"]
        send(console, {"type": "hangup", "reason": "fixed"})
        assert recv(agent, "ended")["by"] == "technician"
        assert recv(console, "session_state")["status"] == "ended"
        recv(console, "ended")
    row = pair.row(sid)
    assert (row.status, row.ended_by, row.end_reason) == ("ended", "technician", "fixed")
    assert pair.events(sid, "session.interrupted") == []
    assert _runtime(pair.b, sid) is None
    _chain_ok(pair)


def test_a_rejoin_on_node_b_closes_the_agents_older_socket_on_node_a(pair: Pair) -> None:
    created = pair.create()
    sid = created["id"]
    with pair.b.console(sid) as console, pair.a.agent() as agent:
        joined = _active(pair, console, agent, created)
        with pair.b.agent() as again:
            rejoined = _rejoin(again, sid, joined["resume_token"], media="up")
            assert rejoined["status"] == "active" and rejoined["renegotiate"] is False
            assert closed_with(agent) == CLOSE_REPLACED
            assert recv(console, "session_state")["agent_connected"] is True
            rt = _runtime(pair.a, sid)
            assert rt is not None and rt.agent_node == pair.b.hub.node and rt.agent_generation == 2
            # the session goes on through node B: a resume offer, relayed to the console
            _, commitment = nonce()
            send(again, {"type": "offer", "sdp": SDP, "commitment": commitment, "resume": True})
            state = recv(console, "session_state")  # the resume offer starts an interruption
            assert state["interrupted"] is True
            assert recv(console, "offer")["commitment"] == commitment
            send(console, {"type": "hangup"})
            assert recv(again, "ended")["by"] == "technician"
    assert pair.row(sid).end_reason == "hangup"
    assert [e.details["link"] for e in pair.events(sid, "session.interrupted")] == ["media"]
    _chain_ok(pair)


def test_when_node_a_is_gone_its_session_is_interrupted_once_and_goes_on_through_node_b(
    pair: Pair, database_url: str
) -> None:
    created = pair.create()
    sid = created["id"]
    with pair.b.console(sid) as console, pair.a.agent() as agent:
        joined = _active(pair, console, agent, created)
        # node A dies: its loops stop and its heartbeat goes; its sockets' ends change nothing
        a = pair.a.hub
        pair.a.call(a.close)
        a.store, a._agents = MemoryRuntimeStore(), {}
        other = pair.shared_hub(database_url)

        async def two_sweeps() -> None:
            for hub in (pair.b.hub, other):
                hub.dead_nodes.patience_seconds = 0  # no need to wait a heartbeat's TTL here
            await asyncio.gather(pair.b.hub.sweep_now(), other.sweep_now())
            await other.close()
            await other.bus.close()

        pair.b.call(two_sweeps)
        other.db.dispose()
        state = recv(console, "session_state")
        assert state["interrupted"] is True and state["agent_connected"] is False
        [interrupted] = pair.events(sid, "session.interrupted")
        assert interrupted.details["link"] == "server_restart"
        assert interrupted.details["cause"] == "node_lost"
        # the agent's socket to A broke; it reconnects through the load balancer to B
        with pair.b.agent() as again:
            rejoined = _rejoin(again, sid, joined["resume_token"], media="up")
            assert rejoined["status"] == "active"
            state = recv(console, "session_state")
            assert state["interrupted"] is False and state["agent_connected"] is True
            send(again, {"type": "control_state", "paused": True})
            assert recv(console, "control_state")["paused"] is True
            send(console, {"type": "hangup"})
            assert recv(again, "ended")["by"] == "technician"
        del agent
    assert [e.details["verified_by"] for e in pair.events(sid, "session.resumed")] == ["connection_kept"]
    assert len(pair.events(sid, "session.interrupted")) == 1
    assert pair.row(sid).end_reason == "hangup"
    _chain_ok(pair)


def test_a_node_that_starts_interrupts_nothing_another_live_node_holds(pair: Pair, database_url: str) -> None:
    created = pair.create()
    sid = created["id"]
    with pair.b.console(sid) as console, pair.a.agent() as agent:
        _active(pair, console, agent, created)
        later = pair.shared_hub(database_url)

        async def start_and_stop() -> None:
            await later.start()  # its heartbeat and a first sweep, as at a node's start
            await pair.b.hub.sweep_now()
            await later.close()
            await later.bus.close()

        pair.b.call(start_and_stop)
        later.db.dispose()
        assert pair.row(sid).resume_deadline is None
        assert pair.events(sid, "session.interrupted") == []
        send(agent, {"type": "control_state", "paused": True})
        assert recv(console, "control_state")["paused"] is True
        send(console, {"type": "hangup"})
        assert recv(agent, "ended")["by"] == "technician"
    assert pair.events(sid, "session.interrupted") == []


def test_a_node_taken_for_dead_while_it_lives_claims_its_agent_back_and_the_interruption_ends(
    pair: Pair,
) -> None:
    """Node A's heartbeat lapsed (a stall) while its agent stayed connected: B's sweep interrupts
    the session, then A's next heartbeat round claims the agent's socket back and ends it."""
    created = pair.create()
    sid = created["id"]
    with pair.b.console(sid) as console, pair.a.agent() as agent:
        _active(pair, console, agent, created)

        async def stall() -> None:  # A's heartbeat loop stops and its key goes
            for task in list(pair.a.hub._tasks):
                if task.get_name() == "veo-node-heartbeat":
                    task.cancel()
            await pair.a.hub.liveness.forget(pair.a.hub.node)

        pair.a.call(stall)
        pair.b.hub.dead_nodes.patience_seconds = 0
        pair.b.call(pair.b.hub.sweep_now)
        assert recv(console, "session_state")["interrupted"] is True
        pair.a.call(pair.a.hub.claim_held)
        state = recv(console, "session_state")
        assert state["interrupted"] is False and state["agent_connected"] is True
        rt = _runtime(pair.b, sid)
        assert rt is not None and rt.agent_node == pair.a.hub.node and rt.interruption is None
        send(agent, {"type": "control_state", "paused": True})
        assert recv(console, "control_state")["paused"] is True
        send(console, {"type": "hangup"})
        assert recv(agent, "ended")["by"] == "technician"
    assert [e.details["cause"] for e in pair.events(sid, "session.interrupted")] == ["node_lost"]
    assert [e.details["verified_by"] for e in pair.events(sid, "session.resumed")] == ["connection_kept"]
    assert pair.row(sid).end_reason == "hangup"
    _chain_ok(pair)


def test_a_session_the_store_lost_that_no_node_claims_is_interrupted_after_the_grace(pair: Pair) -> None:
    """Redis lost the session's state and the node that held the agent is gone too: the first
    sweep only writes the state back (a live holder might still claim it), a sweep after the
    grace interrupts it; nothing is ended for it."""
    created = pair.create()
    sid = created["id"]
    with pair.b.console(sid) as console, pair.a.agent() as agent:
        _active(pair, console, agent, created)
        a = pair.a.hub
        pair.a.call(a.close)
        a.store, a._agents = MemoryRuntimeStore(), {}
        pair.b.call(pair.b.hub.store.drop, sid)

        async def forget_tombstone() -> None:  # as after a Redis restart: no trace at all
            await delete_prefix(f"{pair.prefix}ended:")

        pair.b.call(forget_tombstone)
        pair.b.call(pair.b.hub.sweep_now)
        rt = _runtime(pair.b, sid)
        assert rt is not None and rt.agent_node is None and rt.unheld_since is not None and rt.consented
        assert pair.events(sid, "session.interrupted") == []
        pair.b.hub.unheld_grace_seconds = 0
        pair.b.call(pair.b.hub.sweep_now)
        assert recv(console, "session_state")["interrupted"] is True
        [interrupted] = pair.events(sid, "session.interrupted")
        assert interrupted.details["cause"] == "unattended"
        send(console, {"type": "hangup"})
        assert recv(console, "session_state")["status"] == "ended"
        del agent
    assert pair.row(sid).ended_by == "technician"
    _chain_ok(pair)
