"""Deeply nested JSON on the server's two WebSockets: a protocol error, never a traceback.

``[`` 100,000 deep is 100 KB, under the 128 KiB message limit; before the depth bound it raised
``RecursionError`` inside the parser, so every unauthenticated ``/ws/agent`` connection could
make the server log a full traceback (``agent join failed``) and answer ``server_error``.
"""

from __future__ import annotations

import logging

import pytest
from tests.integration.test_signaling import Env, closed_with, env, joined_pair, recv

__all__ = ["env"]  # the fixture, imported for pytest

DEEP = ["[" * 100_000, '{"type": "join", "code": ' + "[" * 100_000, '{"a":' * 20_000]


def _no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    traced = [r for r in caplog.records if r.exc_info is not None or r.levelno >= logging.ERROR]
    assert traced == [], [r.getMessage() for r in traced]


@pytest.mark.parametrize("raw", DEEP, ids=["array", "join_field", "object"])
def test_deep_first_message_on_ws_agent_is_a_protocol_error(
    env: Env, raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with env.agent() as agent:
        agent.send_text(raw)
        err = recv(agent, "error")
        assert (err["code"], err["fatal"]) == ("too_deep", True)
        assert closed_with(agent) == 1008
    _no_traceback(caplog)


def test_deep_messages_in_a_live_session_are_answered_and_the_connection_keeps_working(
    env: Env, caplog: pytest.LogCaptureFixture
) -> None:
    created = env.create()
    with env.console(created["id"]) as console, env.agent() as agent:
        joined_pair(env, console, agent, created["code"])
        caplog.set_level(logging.DEBUG)
        for raw in DEEP:
            for ws in (agent, console):
                ws.send_text(raw)
                err = recv(ws, "error")
                assert (err["code"], err["fatal"]) == ("too_deep", False)
                assert "deeply" in err["message"]
        # both connections still serve the session
        agent.send_text('{"v": 1, "type": "hangup"}')
        assert recv(agent, "ended")["by"] == "user"
    _no_traceback(caplog)
