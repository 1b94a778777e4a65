"""An interruption rebuilt from the database keeps the link it lost (``interruptions.interruption_link``).

The store lost a session's state (Redis restarted) while the peer connection was down. Another
node rebuilds the state from the row; this node, which holds the agent's socket, then claims it
back. A lost peer connection ends only with a resume proof or a new code: the claim must not end
it as ``connection_kept`` (that would clear the deadline and grant a new one at the next offer).
An interruption the sweep recorded for a dead node (``server_restart``) is still ended by the claim.
"""

from __future__ import annotations

import pytest
from tests.integration.test_signaling import Env, env, joined_pair, negotiate, recv, send

from veo.server.sessions import resuming
from veo.server.sessions.runtime_store import MemoryRuntimeStore

pytestmark = pytest.mark.timeout(60)
__all__ = ["env"]


def _rebuilt_elsewhere(env: Env, sid: str) -> None:
    """A fresh store, and the state rebuilt by a node that does not hold the agent's socket."""
    hub = env.hub
    assert env.client.portal is not None
    hub.store = MemoryRuntimeStore()
    mine = hub._agents.pop(sid)

    async def rebuild() -> None:
        async with hub.runtime(sid) as held:
            assert held.rebuilt and held.rt is not None and held.rt.agent_node is None

    try:
        env.client.portal.call(rebuild)
    finally:
        hub._agents[sid] = mine


def test_a_rebuilt_media_interruption_is_not_ended_by_a_claim(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    assert env.client.portal is not None
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
        recv(console, "consent")
        recv(console, "session_state")
        send(agent, {"type": "interrupted", "cause": "ice_failed"})
        assert recv(console, "session_state")["interrupted"] is True
        deadline = env.row(sid).resume_deadline
        assert deadline is not None
        _rebuilt_elsewhere(env, sid)
        env.client.portal.call(env.hub.claim_held)  # this node's heartbeat round
        rt = env.client.portal.call(env.hub.store.get, sid)
        assert rt is not None and rt.agent_node == env.hub.node, "the socket was not claimed back"
        assert rt.interruption is not None and rt.interruption.link == "media"
        assert env.row(sid).resume_deadline == deadline
        assert env.actions(sid, "session.resumed") == []


def test_a_rebuilt_server_interruption_is_ended_by_the_claim(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    hub = env.hub
    assert env.client.portal is not None
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        negotiate(agent, console)
        send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
        recv(console, "consent")
        recv(console, "session_state")
        # another node's sweep took this node for dead (its heartbeat lapsed)
        env.client.portal.call(lambda: _take_over(env, sid))
        assert env.row(sid).resume_deadline is not None
        _rebuilt_elsewhere(env, sid)
        env.client.portal.call(hub.claim_held)
        # asserted while the agent's socket is open (its close interrupts the session again)
        assert env.row(sid).resume_deadline is None
        assert [e.details["verified_by"] for e in env.actions(sid, "session.resumed")] == ["connection_kept"]


async def _take_over(env: Env, sid: str) -> None:
    hub = env.hub
    async with hub.runtime(sid) as held:
        assert held.rt is not None
        held.rt.agent_node = "a-dead-node"
    await resuming.take_over(hub, sid, holder="a-dead-node")
