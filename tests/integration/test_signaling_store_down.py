"""The shared runtime store unreachable (Redis down), and an end the bus could not carry.

While the store cannot be reached, a message that needs the session's state is refused with
``server_error`` (the peer may send it again), but an end needs none (the database decides): the
technician's or the user's hang-up still ends the session and is relayed. An end that the bus
could not carry to a node (published during the outage, given up) reaches that node's sockets
when their subscription resyncs: the agent gets ``ended`` from the database and is closed, a
console gets ``session_state`` and ``ended``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager

import pytest
from tests.integration.test_signaling import Env, closed_with, env, join, joined_pair, negotiate, recv, send

from veo.server.bus.base import RESYNC
from veo.server.db.base import utcnow
from veo.server.sessions import service
from veo.server.sessions.models import RemoteSession
from veo.server.sessions.runtime import SessionRuntime
from veo.server.sessions.runtime_store import Held, RuntimeStoreError
from veo.tasks import spawn

pytestmark = pytest.mark.timeout(60)
__all__ = ["env"]


class UnreachableStore:
    """A store whose Redis is down: every call fails as ``RedisRuntimeStore``'s do then."""

    shared = True

    @asynccontextmanager
    async def edit(self, session_id: str) -> AsyncIterator[Held]:
        raise RuntimeStoreError("the runtime store is unreachable")
        yield Held(None)  # pragma: no cover - never reached

    async def get(self, session_id: str) -> SessionRuntime | None:
        raise RuntimeStoreError("the runtime store is unreachable")

    async def get_many(self, session_ids: Iterable[str]) -> dict[str, SessionRuntime]:
        raise RuntimeStoreError("the runtime store is unreachable")

    async def drop(self, session_id: str) -> None:
        raise RuntimeStoreError("the runtime store is unreachable")

    async def ping(self) -> None:
        raise RuntimeStoreError("the runtime store is unreachable")

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("who", ["console", "agent"])
def test_with_the_store_down_other_messages_are_refused_but_a_hangup_ends(env: Env, who: str) -> None:
    created = env.create()
    sid = created["id"]
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        negotiate(agent, console)
        working = env.hub.store
        env.hub.store = UnreachableStore()
        send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
        assert recv(agent, "error")["code"] == "server_error"
        send(console, {"type": "sas_confirm"})
        assert recv(console, "error")["code"] == "server_error"
        if who == "console":
            send(console, {"type": "hangup", "reason": "fixed"})
            assert recv(agent, "ended")["by"] == "technician"
            assert recv(console, "session_state")["status"] == "ended"
            assert recv(console, "ended")["by"] == "technician"
        else:
            send(agent, {"type": "hangup"})
            assert recv(console, "session_state")["status"] == "ended"
            assert recv(console, "ended")["by"] == "user"
        env.hub.store = working
    row = env.row(sid)
    assert row.status == "ended" and row.ended_by == ("technician" if who == "console" else "user")
    assert row.granted_permissions == [] and not row.technician_sas_confirmed, "nothing refused was recorded"


def test_an_end_the_bus_lost_reaches_both_sockets_at_their_resync(env: Env) -> None:
    created = env.create()
    sid = created["id"]
    assert env.client.portal is not None
    with env.console(sid) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        # another node ended it while the bus was down: the database knows, nobody was told
        with env.db.session() as s:
            assert service.end_session(s, sid, by="technician", reason="fixed", actor="tech@example.org")
        env.client.portal.call(env.hub.bus.publish, env.hub.agent_channel(sid), RESYNC)
        assert recv(agent, "ended") == {"v": 1, "type": "ended", "by": "technician", "reason": "fixed"}
        assert closed_with(agent) == 1000
        env.client.portal.call(env.hub.bus.publish, env.hub.console_channel(sid), RESYNC)
        assert recv(console, "session_state")["status"] == "ended"
        assert recv(console, "ended")["reason"] == "fixed"
        assert closed_with(console) == 1000
    assert len(env.actions(sid, "session.ended")) == 1


class EditsFail:
    """The store while Redis blinks: no session can be edited, everything else answers."""

    shared = True

    def __init__(self, working: object) -> None:
        self._working = working

    @asynccontextmanager
    async def edit(self, session_id: str) -> AsyncIterator[Held]:
        raise RuntimeStoreError("the runtime store is unreachable")
        yield Held(None)  # pragma: no cover - never reached

    def __getattr__(self, name: str) -> object:
        return getattr(self._working, name)


def test_an_agent_drop_the_store_could_not_record_is_recorded_by_the_next_sweep(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    created = env.create()
    sid = created["id"]
    hub = env.hub
    assert env.client.portal is not None
    working = hub.store
    with env.console(sid) as console:
        recv(console, "session_state")
        with env.agent() as agent:
            join(agent, created["code"])
            recv(console, "agent_joined")
            recv(console, "session_state")
            hub.store = EditsFail(working)  # type: ignore[assignment]
        # the socket closed while no edit could be made: its drop was not recorded
        failed = f"background task veo-agent-left-{sid} failed"
        for _ in range(250):
            if failed in caplog.text:
                break
            time.sleep(0.02)
        assert failed in caplog.text and hub.agent_socket(sid) is None
        hub.store = working
        rt = env.client.portal.call(working.get, sid)
        assert rt is not None and rt.agent_node == hub.node, "the drop was recorded without the store?"
        hub.agent_grace_seconds = 0
        env.client.portal.call(hub.sweep_now)
        for _ in range(200):
            if env.row(sid).status == "ended":
                break
            time.sleep(0.05)
        row = env.row(sid)
        assert row.status == "ended" and row.end_reason == "agent_disconnected", row.status
        state = recv(console, "session_state")  # the drop, then the end
        assert state["status"] == "joined" and state["agent_connected"] is False
        assert recv(console, "session_state")["status"] == "ended"


def test_codes_expire_and_their_consoles_are_told_with_the_store_down(env: Env) -> None:
    first, second = env.create(), env.create()
    assert env.client.portal is not None
    with env.console(first["id"]) as one, env.console(second["id"]) as two:
        assert recv(one, "session_state")["status"] == "waiting"
        assert recv(two, "session_state")["status"] == "waiting"
        with env.db.session() as s:
            for sid in (first["id"], second["id"]):
                row = s.get(RemoteSession, sid)
                assert row is not None
                row.code_expires_at = utcnow()
        working = env.hub.store
        env.hub.store = UnreachableStore()
        try:
            expired = env.client.portal.call(env.hub.expire_now)
        finally:
            env.hub.store = working
        assert sorted(expired) == sorted([first["id"], second["id"]])
        assert recv(one, "session_state")["status"] == "expired"
        assert recv(two, "session_state")["status"] == "expired"


def test_a_failed_round_of_code_expiry_does_not_stop_the_next(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    hub = env.hub
    assert env.client.portal is not None
    rounds: list[int] = []

    async def expire_now() -> list[str]:
        rounds.append(1)
        if len(rounds) == 1:
            raise RuntimeStoreError("the runtime store is unreachable")
        return []

    monkeypatch.setattr(hub, "expire_now", expire_now)
    hub.expiry_interval_seconds = 0.01

    async def run_three_rounds() -> BaseException | None:
        task = spawn(hub._expiry_loop(), name="test-expiry-loop")
        for _ in range(500):
            if len(rounds) >= 3 or task.done():
                break
            await asyncio.sleep(0.01)
        task.cancel()
        try:
            await task
        except asyncio.CancelledError:
            return None
        except BaseException as exc:
            return exc
        return None

    died = env.client.portal.call(run_three_rounds)
    assert died is None and len(rounds) >= 3, (
        f"the expiry loop stopped after {len(rounds)} round(s): {died!r}"
    )
