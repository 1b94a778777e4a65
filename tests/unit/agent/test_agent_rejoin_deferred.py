"""A rejoin the server defers because its database is down is tried again, not given up.

The server answers such a rejoin with a non-fatal ``database_unavailable`` error and closes the
socket with 1013 (``veo.server.sessions.join``). The agent's session ends only on a fatal
error; its reconnecting channel treats that close like any other drop and rejoins again on a
new socket. Here the second socket is the deferred one and the third is accepted.
"""

from __future__ import annotations

import asyncio
import json

from tests.unit.agent.test_agent_resuming import REJOIN, FakeChannel, Listener

from veo.agent.reconnect import Backoff, ReconnectingChannel
from veo.agent.signaling import SignalingChannel
from veo.protocol.signaling import Error, parse_server_message
from veo.tasks import spawn

DEFERRED = Error(
    code="database_unavailable", message="The server cannot reach its database.", fatal=False, retry_after=5
).dumps()


async def test_a_deferred_rejoin_is_retried_on_a_new_socket() -> None:
    parsed = parse_server_message(DEFERRED)
    assert isinstance(parsed, Error) and parsed.fatal is False  # the session does not end on it
    first = FakeChannel("first")
    made: list[FakeChannel] = []

    async def connect() -> SignalingChannel:
        channel = FakeChannel(f"n{len(made) + 1}")
        made.append(channel)
        if len(made) == 1:  # the deferred one: the error, then the server's close
            channel.inbox.put_nowait(DEFERRED)
            channel.inbox.put_nowait(None)
        else:
            channel.inbox.put_nowait('{"type": "rejoined"}')
        return channel

    channel = ReconnectingChannel(first, connect, Backoff((0.01,), 0.01))
    listener = Listener(REJOIN)
    channel.listen(listener)
    first.inbox.put_nowait(None)
    assert await asyncio.wait_for(channel.recv(), 5) == DEFERRED
    assert await asyncio.wait_for(spawn(channel.recv()), 5) == '{"type": "rejoined"}'
    assert [json.loads(c.sent[0])["type"] for c in made] == ["rejoin", "rejoin"]
    assert channel.reconnects == 2 and channel.up
