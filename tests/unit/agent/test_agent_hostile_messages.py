"""The agent survives any message a hostile server or console sends: each is dropped and logged,
and the next one is still read and acted on.

Before the depth bound, ``[`` 100,000 deep raised ``RecursionError`` in ``parse_server_message``;
the receive loop caught only ``ProtocolError``, so its task died and the session went deaf.
Beyond the parsers' own promise, a failure of any kind while reading one message must not stop
the loop either: a stand-in parser that raises ``RuntimeError`` shows that.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from pathlib import Path
from typing import Any

import pytest
from tests.unit.agent.test_agent_files import _chunks, _offer, _service

import veo.agent.files as files_mod
import veo.agent.session as session_mod
from veo.agent.capture.base import ScreenCapture
from veo.agent.events import SessionEnded, UiEvent
from veo.agent.input.base import InputInjector
from veo.agent.session import AgentSession, SessionDeps
from veo.agent.signaling import ChannelClosed
from veo.protocol.datachannel import Chat
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Ended, Error
from veo.protocol.transfer import MAX_CHUNK, pack_chunk

#: what a hostile peer sends: deep nesting as text and bytes, open and closed, random bytes,
#: JSON of the wrong shape, and a real type with nested garbage in a field
HOSTILE: list[str | bytes] = [
    "[" * 100_000,
    "{" + '"a":{' * 20_000,
    ("[" * 60_000).encode(),
    "[" * 2_000 + "]" * 2_000,
    '{"type": "ended", "by": ' + "[" * 30_000 + "]" * 30_000 + "}",
    b"\xff\xfe\x00garbage\x80",
    "null",
    "",
    '{"type": "joined"}',
    "RAISE",  # the stand-in parser raises RuntimeError on this one
]


class ScriptedChannel:
    """A signaling channel that hands out a fixed list of messages, then reports the close."""

    def __init__(self, incoming: list[str | bytes]) -> None:
        self.incoming = list(incoming)
        self.sent: list[str] = []

    async def send(self, message: str) -> None:
        self.sent.append(message)

    async def recv(self) -> str:
        if not self.incoming:
            raise ChannelClosed()
        return self.incoming.pop(0)  # type: ignore[return-value]  # bytes too: a hostile server's

    async def close(self) -> None:
        return None


def _no_capture() -> ScreenCapture:
    raise AssertionError("no capture in this test")


def _no_input() -> InputInjector:
    raise AssertionError("no input in this test")


def _session(incoming: list[str | bytes]) -> tuple[AgentSession, list[UiEvent]]:
    posted: list[UiEvent] = []
    deps = SessionDeps(
        capture_factory=_no_capture, injector_factory=_no_input, post=posted.append, record_history=False
    )
    return AgentSession(ScriptedChannel(incoming), "123456789", deps), posted  # type: ignore[arg-type]


@pytest.fixture
def parser_that_can_raise(monkeypatch: pytest.MonkeyPatch) -> None:
    real = session_mod.parse_server_message

    def parse(raw: str | bytes) -> Any:
        if raw == "RAISE":
            raise RuntimeError("a failure no parser promises")
        return real(raw)

    monkeypatch.setattr(session_mod, "parse_server_message", parse)


@pytest.mark.usefixtures("parser_that_can_raise")
def test_receive_loop_keeps_going_after_hostile_messages(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo.agent.session")
    final = Ended(by="technician", reason="resolved").dumps()
    session, posted = _session([*HOSTILE, final])
    asyncio.run(asyncio.wait_for(session._receive_loop(), 30))
    # the message after the hostile ones was still read and acted on
    assert (session.end_by, session.end_reason) == ("technician", "resolved")
    assert [e for e in posted if isinstance(e, SessionEnded)] == [SessionEnded("technician", "resolved")]
    ignored = [r for r in caplog.records if r.getMessage().startswith("ignored a")]
    assert len(ignored) == len(HOSTILE)
    assert sum("too_deep" in r.getMessage() for r in ignored) == 5


@pytest.mark.usefixtures("parser_that_can_raise")
def test_first_reply_skips_hostile_messages() -> None:
    refusal = Error(code="code_unknown", message="not valid")
    session, _ = _session([*HOSTILE, refusal.dumps()])
    assert asyncio.run(asyncio.wait_for(session._first_reply(), 30)) == refusal


def test_data_channel_keeps_going_after_hostile_messages(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    session, _ = _session([])
    session.policy.grant(["view"], ["view"])  # consented: chat reaches its handler
    chats: list[Chat] = []
    session.on_data("chat", chats.append)
    real_judge = session.policy.judge

    def judge(raw: str | bytes) -> Any:
        if raw == "RAISE":
            raise RuntimeError("a failure no parser promises")
        return real_judge(raw)

    monkeypatch.setattr(session.policy, "judge", judge)
    for raw in HOSTILE:
        session._on_data_message(raw)  # never raises
    session._on_data_message(Chat(id="m1", text="still here").dumps())
    assert [c.text for c in chats] == ["still here"]
    assert any("could not be handled" in r.getMessage() for r in caplog.records)


def test_file_channel_keeps_going_after_a_frame_that_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A frame whose handling fails in a way nobody foresaw is dropped; the next frames still land."""
    peer, files, channel, _events = _service({Permission.VIEW, Permission.FILES})
    data = secrets.token_bytes(3 * MAX_CHUNK)
    offer = _offer(data)
    peer.handlers["file_offer"](offer)
    files.accept(offer.id, str(tmp_path))
    real_unpack = files_mod.unpack_chunk

    def unpack(raw: bytes) -> Any:
        if raw == b"RAISE":
            raise RuntimeError("a failure no parser promises")
        return real_unpack(raw)

    monkeypatch.setattr(files_mod, "unpack_chunk", unpack)
    for raw in (b"RAISE", "[" * 100_000, b"\x00" * 7):
        channel.handlers["message"](raw)  # never raises into aiortc's task
    for offset, chunk in _chunks(data):
        channel.handlers["message"](pack_chunk(offer.id, offset, chunk))
    assert (tmp_path / "data.bin").read_bytes() == data
    assert any("dropped a file frame" in r.getMessage() for r in caplog.records)
