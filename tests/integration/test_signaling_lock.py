"""A step that outlasts the session's Redis lock (a slow database: a pool wait, a row lock,
PostgreSQL restarting) keeps the lock and its state: the lock is renewed while the step runs
(``runtime_store.RedisRuntimeStore``), so no other message of the session runs on the old state
and the step's changes are saved.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from tests.integration.test_signaling import Env, env, joined_pair, negotiate, recv, send
from tests.unit.server.sessions.runtime_stores import REDIS_URL, delete_prefix, random_prefix, redis_or_skip

from veo.server.sessions import service
from veo.server.sessions.runtime_store import RedisRuntimeStore

pytestmark = pytest.mark.timeout(60)
__all__ = ["env"]


def test_a_consent_slower_than_the_lock_is_saved_and_the_session_goes_on(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    asyncio.run(redis_or_skip())
    prefix = random_prefix()
    hub = env.hub
    portal = env.client.portal
    assert portal is not None
    hub.store = RedisRuntimeStore(REDIS_URL, prefix=prefix, lock_seconds=1.5)
    record_consent = service.record_consent

    def slow_consent(*args: Any, **kwargs: Any) -> Any:
        time.sleep(3.5)  # in the step's worker thread: more than two lock lifetimes
        return record_consent(*args, **kwargs)

    monkeypatch.setattr(service, "record_consent", slow_consent)
    try:
        created = env.create()
        sid = created["id"]
        with env.console(sid) as console, env.agent() as agent:
            joined_pair(env, console, agent, created["code"])
            negotiate(agent, console)
            send(agent, {"type": "consent", "granted": ["view"], "sas_confirmed": True})
            recv(console, "consent")
            assert recv(console, "session_state")["status"] == "active"
            # the step relays before its block ends and saves: wait for the save
            for _ in range(250):
                rt = portal.call(hub.store.get, sid)
                if rt is not None and rt.consented:
                    break
                time.sleep(0.02)
            assert rt is not None and rt.consented, "the slow step's state was not saved"
            send(agent, {"type": "control_state", "paused": True})
            assert recv(console, "control_state")["paused"] is True
    finally:
        portal.call(hub.store.close)
        asyncio.run(delete_prefix(prefix))
