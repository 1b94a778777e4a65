"""The bus's ``RESYNC`` (it reconnected; messages of the gap may be lost) on the hub's sockets.

A console's socket gets ``session_state`` and the offer still waiting for an answer again; an
agent's socket claims its session back in the runtime store, which after a Redis restart has
nothing (rebuilt from the database, this node holding the agent). The marker itself never
reaches a peer. The memory bus stands in: the marker is put on the channel as a Redis bus's
subscription would yield it.
"""

from __future__ import annotations

import time

import pytest
from tests.integration.test_signaling import SDP, Env, env, join, joined_pair, recv, send

from veo.server.bus.base import RESYNC
from veo.server.sessions.runtime_store import MemoryRuntimeStore

pytestmark = pytest.mark.timeout(60)
__all__ = ["env"]


def test_a_console_gets_the_state_and_the_waiting_offer_again(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    assert env.client.portal is not None
    with env.console(sid) as console, env.agent() as agent:
        assert recv(console, "session_state")["status"] == "waiting"
        join(agent, created["code"])
        recv(console, "agent_joined")
        recv(console, "session_state")
        send(agent, {"type": "offer", "sdp": SDP, "commitment": "e" * 64})
        recv(console, "offer")
        recv(console, "session_state")
        env.client.portal.call(env.hub.bus.publish, env.hub.console_channel(sid), RESYNC)
        state = recv(console, "session_state")
        assert state["status"] == "connecting" and state["agent_connected"] is True
        assert recv(console, "offer")["commitment"] == "e" * 64
        send(console, {"type": "hangup"})
        assert recv(agent, "ended")["by"] == "technician"


def test_the_marker_never_reaches_the_agent(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    assert env.client.portal is not None
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        env.hub.store = MemoryRuntimeStore()  # Redis restarted: every session's state is gone
        env.client.portal.call(env.hub.bus.publish, env.hub.agent_channel(sid), RESYNC)
        # the marker is not forwarded (it is not JSON: receiving it would fail here): the next
        # thing the agent hears is the end the console's hang-up caused
        send(console, {"type": "hangup"})
        assert recv(agent, "ended")["by"] == "technician"
    assert env.row(sid).end_reason == "hangup"


def test_a_resync_writes_the_state_back_with_this_node_holding_the_agent(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    created = env.create()
    sid = created["id"]
    portal = env.client.portal
    assert portal is not None

    async def nothing() -> None:
        return None

    # only the resync may write the state back here: not the heartbeat, not the liveness sweep
    monkeypatch.setattr(env.hub, "claim_held", nothing)
    monkeypatch.setattr(env.hub, "sweep_now", nothing)
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        env.hub.store = store = MemoryRuntimeStore()
        portal.call(env.hub.bus.publish, env.hub.agent_channel(sid), RESYNC)
        # before anything is sent (a message's step would rebuild the state too)
        for _ in range(250):
            rt = portal.call(store.get, sid)
            if rt is not None:
                break
            time.sleep(0.02)
        assert rt is not None, "the resync did not write the session's state back"
        assert rt.agent_node == env.hub.node and rt.agent_generation == 1 and rt.unheld_since is None
        send(agent, {"type": "offer", "sdp": SDP, "commitment": "e" * 64})
        assert recv(console, "offer")["commitment"] == "e" * 64
        state = recv(console, "session_state")
        assert state["agent_connected"] is True and state["interrupted"] is False
        rt = portal.call(store.get, sid)
        assert rt is not None and rt.agent_node == env.hub.node and rt.offered and rt.restored is False
        send(console, {"type": "hangup"})
        recv(agent, "ended")


def test_the_heartbeat_writes_back_a_held_session_the_store_lost_without_a_resync(env: Env) -> None:
    """An active agent may say nothing over signaling for hours: its state may expire, or a Redis
    restart's resync may be missed. The node holding the socket writes it back anyway."""
    created = env.create()
    sid = created["id"]
    assert env.client.portal is not None
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        env.hub.store = store = MemoryRuntimeStore()
        env.client.portal.call(env.hub.claim_held)
        rt = env.client.portal.call(store.get, sid)
        assert rt is not None and rt.agent_node == env.hub.node and rt.agent_generation == 1
        assert rt.restored and rt.unheld_since is None
        send(console, {"type": "hangup"})
        recv(agent, "ended")
