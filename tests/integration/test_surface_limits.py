"""Limits on the real app: join-code guessing slows down, stops and is audited; oversized
WebSocket messages and HTTP bodies are refused; the console socket wants a signed-in user.

The app is the one ``veo server`` runs (``create_app``), spoken to through Starlette's
TestClient; only the hub's ``sleep`` is swapped for a recorder, so the growing delay is
observed without waiting for it (the limiter deciding it is the real one).
"""

from __future__ import annotations

import functools
import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from starlette.exceptions import StarletteDeprecationWarning
from starlette.websockets import WebSocketDisconnect
from tests.support import make_user

from veo.config import Settings
from veo.protocol.base import MAX_MESSAGE_BYTES
from veo.server.app import create_app
from veo.server.audit.models import AuditEvent
from veo.server.auth import service
from veo.server.sessions.hub import SignalingHub

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from starlette.testclient import TestClient, WebSocketTestSession

pytestmark = pytest.mark.timeout(120)


@dataclass
class Live:
    app: FastAPI
    client: TestClient
    slept: list[float] = field(default_factory=list)

    def flush_refusals(self) -> None:
        """Write the refusal summaries now, as the hub's loop does when their window closes."""
        hub: SignalingHub = self.app.state.hub
        assert self.client.portal is not None
        self.client.portal.call(functools.partial(hub.write_refusals, everything=True))

    def events(self, action: str) -> list[AuditEvent]:
        with self.app.state.db.session() as s:
            return list(
                s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq))
            )


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    app = create_app(settings)
    hub: SignalingHub = app.state.hub
    env = Live(app, TestClient(app))

    async def record_sleep(seconds: float) -> None:
        env.slept.append(seconds)

    hub.sleep = record_sleep
    with env.client:
        yield env


def _join(ws: WebSocketTestSession, code: str) -> dict[str, Any]:
    ws.send_text(json.dumps({"v": 1, "type": "join", "code": code, "platform": "linux", "language": "en"}))
    answer: dict[str, Any] = ws.receive_json()
    return answer


def test_code_guessing_is_slowed_stopped_and_audited(live: Live) -> None:
    answers = []
    for guess in range(7):
        with live.client.websocket_connect("/ws/agent") as agent:
            answers.append(_join(agent, f"{100000000 + guess}")["code"])
    assert answers == ["code_unknown"] * 5 + ["rate_limited"] * 2
    assert live.slept == [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]  # nothing before the first try, then doubling
    # the first refusal of each reason at once; the others counted into one summary per window
    rejected = live.events("session.code_rejected")
    assert [e.details["reason"] for e in rejected] == ["unknown", "rate_limited"]
    live.flush_refusals()
    rejected = live.events("session.code_rejected")
    assert len(rejected) == 3
    summary = rejected[-1].details
    assert summary["count"] == 5 and summary["reasons"] == {"rate_limited": 1, "unknown": 4}
    assert summary["first_at"] <= summary["last_at"]
    assert all(e.address == "testclient" and e.actor == "agent" for e in rejected)
    assert all("100000" not in json.dumps(e.details) for e in rejected)  # never the code itself


def test_a_lead_sees_the_guessing_in_the_audit_api(live: Live) -> None:
    for guess in range(3):
        with live.client.websocket_connect("/ws/agent") as agent:
            _join(agent, f"{200000000 + guess}")
    live.flush_refusals()
    lead = make_user(live.app.state.db, "lead@example.org", role="lead").user
    with live.app.state.db.session() as s:
        token, _expires = service.issue_api_token(s, lead)
    response = live.client.get(
        "/api/v1/audit",
        params={"action": "session.code_rejected"},
        headers={"authorization": f"Bearer {token}"},
    )
    # one row for the first refusal, one summary for the two after it
    assert response.status_code == 200 and response.json()["total"] == 2


def test_oversized_websocket_message_is_refused(live: Live) -> None:
    big = json.dumps({"v": 1, "type": "join", "code": "1" * (MAX_MESSAGE_BYTES + 1)})
    with live.client.websocket_connect("/ws/agent") as agent:
        agent.send_text(big)
        answer = agent.receive_json()
        assert answer["type"] == "error" and answer["code"] == "too_large" and answer["fatal"] is True
        with pytest.raises(WebSocketDisconnect):
            agent.receive_text()


def test_console_socket_needs_a_signed_in_technician(live: Live) -> None:
    url = "/ws/console?session=0f3c2a9e-1111-4222-8333-444455556666"
    with live.client.websocket_connect(url) as console, pytest.raises(WebSocketDisconnect) as closed:
        console.receive_text()
    assert closed.value.code == 4401


def test_http_bodies_over_the_limit_are_refused_declared_or_chunked(live: Live) -> None:
    big = b"x" * (1024 * 1024 + 1)
    declared = live.client.post(
        "/api/v1/auth/token", content=big, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413 and declared.json()["code"] == "request_too_large"

    def chunks() -> Iterator[bytes]:
        for _ in range(17):
            yield b"x" * 65536

    chunked = live.client.post(
        "/api/v1/auth/token", content=chunks(), headers={"content-type": "application/json"}
    )
    assert chunked.status_code == 413
