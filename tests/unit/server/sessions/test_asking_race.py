"""Two consoles of one session ask at the same moment: one question reaches the agent.

The check "a question is already waiting" and the setting of the waiting question are separated
by database work (the audit, the session's request). Without the session's asking lock both
requests passed the check, two ``permission_ask`` went to the agent, the agent showed the first
and ignored the second, and the server then waited for the second: the user's answer to the
first was refused as ``permission_not_asked`` while the agent had already extended its grant.
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
from veo.server.sessions.steps import Step


class _Db:
    async def run(self, work: Callable[[Any], Any]) -> Any:
        await asyncio.sleep(0)  # a worker thread: the event loop runs others meanwhile
        await asyncio.sleep(0)
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

    async def publish_state(self, session_id: str) -> None:
        await asyncio.sleep(0)


def test_two_requests_at_once_send_one_question(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(grants, "record_request", lambda db, sid, asked, **kw: list(asked))
    hub, rt = _Hub(), SessionRuntime(consented=True)

    async def both() -> None:
        first = Step(hub, "s1", rt, "a@example.org", "")  # type: ignore[arg-type]
        second = Step(hub, "s1", rt, "b@example.org", "")  # type: ignore[arg-type]
        await asyncio.gather(
            asking.permission_request(first, PermissionRequest(permissions=[Permission.CONTROL])),
            asking.permission_request(second, PermissionRequest(permissions=[Permission.FILES])),
        )

    asyncio.run(both())
    asks = [m for channel, m in hub.bus.sent if channel == "agent" and m["type"] == "permission_ask"]
    errors = [m["code"] for channel, m in hub.bus.sent if channel == "console" and m["type"] == "error"]
    assert len(asks) == 1, asks
    assert errors == ["permission_pending"]
    assert rt.permission_ask is not None and rt.permission_ask.id == asks[0]["id"]
