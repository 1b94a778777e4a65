"""The device line's bus notices on one node, without a database: which socket each reaches, and
that a device which stopped reading cannot hold up the notices of the others."""

from __future__ import annotations

import asyncio
import json
from types import SimpleNamespace
from typing import Any

import pytest

from veo.protocol.base import Message
from veo.protocol.device import SessionRequest
from veo.server.devices import line as line_module
from veo.server.devices.line import CLOSE_REPLACED, CLOSE_STALLED, DeviceLine
from veo.server.devices.presence import DeviceConnection


class FakePeer:
    def __init__(self, *, stuck: bool = False) -> None:
        self.stuck = stuck
        self.sent: list[dict[str, Any]] = []
        self.closed: int | None = None

    async def send(self, message: Message | str) -> None:
        if self.stuck:
            await asyncio.Event().wait()  # its buffers are full: never returns
        raw = message if isinstance(message, str) else message.dumps()
        self.sent.append(json.loads(raw))

    async def close(self, code: int = 1000) -> None:
        self.closed = code


def _line(waiting: bool = True) -> DeviceLine:
    """A line whose database says every session is (or none is) still waiting for its device."""
    hub: Any = SimpleNamespace(db=None, settings=None, node="node-a", bus=None)
    line = DeviceLine(hub)

    async def still_waiting(session_id: str, device_id: str) -> bool:
        return waiting

    line._still_waiting = still_waiting  # type: ignore[method-assign]
    return line


def _conn(line: DeviceLine, device_id: str, peer: FakePeer, since: int = 1) -> DeviceConnection:
    conn = DeviceConnection(device_id, peer, "10.0.0.1", since=since)  # type: ignore[arg-type]
    line.presence.take(conn)
    return conn


def _request(session_id: str) -> SessionRequest:
    return SessionRequest(
        session_id=session_id,
        code="123456789",
        secret="e5" * 32,
        policy="ask",
        reason="Printer offline",
        technician_name="Ana",
        organization="ACME",
        ticket_id=1,
        ticket_title="Printer offline",
    )


def _notice(kind: str, device: str, **extra: Any) -> str:
    return json.dumps({"kind": kind, "node": "node-b", "device": device, **extra})


async def test_a_request_notice_reaches_only_the_device_it_names() -> None:
    line = _line()
    a, b = FakePeer(), FakePeer()
    conn_a = _conn(line, "a" * 32, a)
    _conn(line, "b" * 32, b)
    await line._message(_notice("request", "a" * 32, request=_request("s1").dumps()))
    assert [m["type"] for m in a.sent] == ["session_request"] and b.sent == []
    assert conn_a.answered("s1") and not conn_a.answered("s1")  # expected once, answered once


async def test_a_request_replayed_after_its_session_ended_is_not_delivered() -> None:
    line = _line(waiting=False)
    peer = FakePeer()
    conn = _conn(line, "a" * 32, peer)
    await line._message(_notice("request", "a" * 32, request=_request("s1").dumps()))
    assert peer.sent == [] and not conn.answered("s1")


async def test_a_stalled_device_is_closed_and_the_next_notice_still_goes_out(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(line_module, "SEND_SECONDS", 0.05)
    line = _line()
    stuck, fine = FakePeer(stuck=True), FakePeer()
    _conn(line, "a" * 32, stuck)
    _conn(line, "b" * 32, fine)
    await line._message(_notice("request", "a" * 32, request=_request("s1").dumps()))
    assert stuck.closed == CLOSE_STALLED
    await line._message(_notice("revoke", "b" * 32))
    assert fine.sent == [{"v": 1, "type": "device_revoked"}] and fine.closed == 1000


async def test_a_replaced_notice_closes_only_an_older_socket() -> None:
    line = _line()
    peer = FakePeer()
    conn = _conn(line, "a" * 32, peer, since=100)
    await line._message(_notice("replaced", "a" * 32, since=50))  # an older socket elsewhere
    assert peer.closed is None and line.presence.holder("a" * 32) is conn
    await line._message(_notice("replaced", "a" * 32, since=200))
    assert peer.closed == CLOSE_REPLACED and line.presence.holder("a" * 32) is None


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        "{}",
        json.dumps({"kind": "request", "device": "a" * 32, "request": "{}"}),
        "\x00veo-bus-resync",
    ],
)
async def test_malformed_notices_are_ignored(raw: str) -> None:
    line = _line()
    peer = FakePeer()
    _conn(line, "a" * 32, peer)
    await line._message(raw)
    assert peer.sent == [] and peer.closed is None
