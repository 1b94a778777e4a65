"""Two consoles of one session ask at the same moment: one question reaches the agent.

The check "a question is already waiting" and the setting of the waiting question are separated
by database work (the audit, the session's request). Without a lock around the whole step both
requests passed the check, two ``permission_ask`` went to the agent, the agent showed the first
and ignored the second, and the server then waited for the second: the user's answer to the
first was refused as ``permission_not_asked`` while the agent had already extended its grant.
The lock is the session's in the runtime store (the hub holds it around every step), which two
nodes share with Redis: both stores here.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from veo.protocol.asking import PermissionRequest
from veo.protocol.permissions import Permission
from veo.server.sessions import asking, grants
from veo.server.sessions.runtime import SessionRuntime
from veo.server.sessions.runtime_store import RuntimeStore
from veo.server.sessions.steps import Step

from .runtime_stores import KINDS, store_of


class _Db:
    async def run(self, work: Callable[[Any], Any]) -> Any:
        await asyncio.sleep(0)  # a worker thread: the event loop runs others meanwhile
        await asyncio.sleep(0.01)
        return work(None)


@dataclass
class _Bus:
    sent: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    async def publish(self, channel: str, raw: str) -> None:
        self.sent.append((channel, json.loads(raw)))


@dataclass
class _Hub:
    db: _Db = field(default_factory=_Db)
    bus: _Bus = field(default_factory=_Bus)
    clock: Callable[[], float] = lambda: 100.0

    @staticmethod
    def agent_channel(session_id: str) -> str:
        return "agent"

    @staticmethod
    def console_channel(session_id: str) -> str:
        return "console"

    async def publish_state(self, session_id: str, rt: SessionRuntime | None = None) -> None:
        await asyncio.sleep(0)


async def _ask(store: RuntimeStore, hub: _Hub, actor: str, permission: Permission) -> None:
    """What the hub does with a console message: the step under the session's lock."""
    async with store.edit("s1") as held:
        assert held.rt is not None
        step = Step(hub, "s1", held.rt, actor, "")  # type: ignore[arg-type]
        await asking.permission_request(step, PermissionRequest(permissions=[permission]))


@pytest.mark.parametrize("kind", KINDS)
async def test_two_requests_at_once_send_one_question(monkeypatch: pytest.MonkeyPatch, kind: str) -> None:
    monkeypatch.setattr(grants, "record_request", lambda db, sid, asked, **kw: list(asked))
    hub = _Hub()
    async with store_of(kind) as store:
        async with store.edit("s1") as held:
            held.rt = SessionRuntime(consented=True)
        await asyncio.gather(
            _ask(store, hub, "a@example.org", Permission.CONTROL),
            _ask(store, hub, "b@example.org", Permission.FILES),
        )
        rt = await store.get("s1")
    asks = [m for channel, m in hub.bus.sent if channel == "agent" and m["type"] == "permission_ask"]
    errors = [m["code"] for channel, m in hub.bus.sent if channel == "console" and m["type"] == "error"]
    assert len(asks) == 1, asks
    assert errors == ["permission_pending"]
    assert rt is not None and rt.permission_ask is not None and rt.permission_ask.id == asks[0]["id"]
