"""File transfer on the agent: names, frames, the receiver's states and the service's gate.

The service runs against a stand-in peer (the session's four hooks and a real ``Policy``), with
real files in a temporary folder: what is on disk afterwards is the outcome under test.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from veo.agent.events import FileOffered, FileTransferEnded, UiEvent
from veo.agent.files import STALE_PART_SECONDS, AgentFiles, Incoming, TransferError, remove_stale_parts
from veo.agent.policy import Policy
from veo.protocol.datachannel import AgentDataMessage
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined, TechnicianConfirmed
from veo.protocol.transfer import (
    FRAME_HEADER,
    MAX_CHUNK,
    FileAccept,
    FileCancel,
    FileDone,
    FileOffer,
    FileProgress,
    FileReject,
    FrameError,
    candidates,
    pack_chunk,
    safe_name,
    unpack_chunk,
)

# ---------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("../../etc/passwd", "passwd"),
        ("..\\..\\Windows\\system.ini", "system.ini"),
        ("..", "file"),
        (".", "file"),
        ("", "file"),
        (".bashrc", "bashrc"),
        ("report.pdf", "report.pdf"),
        ("a\x00b\x1bc.txt", "abc.txt"),
        ("con.txt", "_con.txt"),
        ("LPT1", "_LPT1"),
        ('what?<>|:"*.txt', "what_______.txt"),
        ("name. . .", "name"),
        ("inform\u202egnp.exe", "informgnp.exe"),  # right-to-left override stripped
    ],
)
def test_safe_name(given_name: str, expected: str) -> None:
    assert safe_name(given_name) == expected


def test_long_names_keep_their_extension() -> None:
    name = safe_name("x" * 400 + ".tar")
    assert name.endswith(".tar") and len(name.encode()) <= 200


def test_candidates_number_collisions() -> None:
    gen = candidates("report.pdf")
    assert [next(gen) for _ in range(3)] == ["report.pdf", "report (1).pdf", "report (2).pdf"]
    gen = candidates("README")
    assert [next(gen) for _ in range(2)] == ["README", "README (1)"]


@settings(max_examples=300, deadline=None)
@given(st.text(min_size=1, max_size=300))
def test_any_name_lands_inside_the_folder(tmp_path_factory: pytest.TempPathFactory, name: str) -> None:
    folder = tmp_path_factory.mktemp("dl")
    offer = _offer(b"x", name[:255] or "x")
    incoming = Incoming(offer, safe_name(offer.name))
    incoming.start(folder)
    incoming.write(0, b"x")
    path = incoming.finish()
    assert path.resolve().parent == folder.resolve()
    assert [p.name for p in folder.iterdir()] == [path.name]


# ---------------------------------------------------------------- frames


def test_frame_round_trip() -> None:
    tid = secrets.token_hex(16)
    frame = pack_chunk(tid, 123456789012, b"abc")
    assert len(frame) == FRAME_HEADER + 3
    assert unpack_chunk(frame) == (tid, 123456789012, b"abc")


def test_frames_refused_when_malformed() -> None:
    with pytest.raises(FrameError):
        unpack_chunk(b"\x00" * (FRAME_HEADER - 1))
    with pytest.raises(FrameError):
        unpack_chunk(b"\x00" * (FRAME_HEADER + MAX_CHUNK + 1))
    with pytest.raises(FrameError):
        pack_chunk(secrets.token_hex(16), 0, b"x" * (MAX_CHUNK + 1))


# ---------------------------------------------------------------- the receiver


def _offer(data: bytes, name: str = "data.bin", sha: str | None = None) -> FileOffer:
    return FileOffer(
        id=secrets.token_hex(16), name=name, size=len(data), sha256=sha or hashlib.sha256(data).hexdigest()
    )


def _chunks(data: bytes) -> list[tuple[int, bytes]]:
    return [(i, data[i : i + MAX_CHUNK]) for i in range(0, len(data), MAX_CHUNK)]


def test_receiver_links_the_file_only_when_complete_and_equal(tmp_path: Path) -> None:
    data = secrets.token_bytes(100_000)
    incoming = Incoming(_offer(data), "data.bin")
    incoming.start(tmp_path)
    for offset, chunk in _chunks(data):
        assert not (tmp_path / "data.bin").exists()
        incoming.write(offset, chunk)
    assert incoming.complete
    path = incoming.finish()
    assert path == tmp_path.resolve() / "data.bin"
    assert path.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir()] == ["data.bin"]  # no temporary file left


def test_receiver_never_replaces_an_existing_file(tmp_path: Path) -> None:
    (tmp_path / "data.bin").write_bytes(b"mine")
    incoming = Incoming(_offer(b"theirs"), "data.bin")
    incoming.start(tmp_path)
    incoming.write(0, b"theirs")
    assert incoming.finish().name == "data (1).bin"
    assert (tmp_path / "data.bin").read_bytes() == b"mine"


def test_checksum_mismatch_leaves_no_file(tmp_path: Path) -> None:
    incoming = Incoming(_offer(b"hello", sha="0" * 64), "data.bin")
    incoming.start(tmp_path)
    incoming.write(0, b"hello")
    with pytest.raises(TransferError, match="checksum_mismatch"):
        incoming.finish()
    assert list(tmp_path.iterdir()) == []


def test_cancel_midway_leaves_no_partial_file(tmp_path: Path) -> None:
    data = secrets.token_bytes(3 * MAX_CHUNK)
    incoming = Incoming(_offer(data), "data.bin")
    incoming.start(tmp_path)
    incoming.write(0, data[:MAX_CHUNK])
    assert len(list(tmp_path.iterdir())) == 1  # the hidden temporary file
    incoming.discard()
    assert list(tmp_path.iterdir()) == []
    assert incoming.state == "discarded"


@pytest.mark.parametrize(
    ("offset", "payload", "reason"), [(5, b"x", "out_of_order"), (0, b"toolong", "too_long")]
)
def test_receiver_refuses_gaps_and_excess(tmp_path: Path, offset: int, payload: bytes, reason: str) -> None:
    incoming = Incoming(_offer(b"abc"), "data.bin")
    incoming.start(tmp_path)
    with pytest.raises(TransferError, match=reason):
        incoming.write(offset, payload)


# ---------------------------------------------------------------- the service, end to end in-process


class FakeChannel:
    readyState = "open"
    bufferedAmount = 0
    bufferedAmountLowThreshold = 0

    def __init__(self) -> None:
        self.handlers: dict[str, Callable[..., Any]] = {}
        self.sent: list[bytes] = []

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        self.handlers[event] = handler

    def send(self, data: bytes) -> None:
        self.sent.append(data)


class FakePc:
    def __init__(self) -> None:
        self.channel = FakeChannel()

    def createDataChannel(self, label: str, ordered: bool) -> FakeChannel:
        assert label == "veo-files" and ordered
        return self.channel


class Peer:
    def __init__(self, granted: set[Permission], max_bytes: int = 10**9) -> None:
        self.policy = Policy()
        self.policy.grant(list(Permission), granted)
        self.policy.technician(TechnicianConfirmed(sas_confirmed=True))
        self.handlers: dict[str, Callable[[Any], None]] = {}
        self.sent: list[AgentDataMessage] = []
        self.hooks: list[Callable[[Any], None]] = []
        self.end_hooks: list[Callable[[], None]] = []
        self.lost_hooks: list[Callable[[], None]] = []
        self._joined = Joined(
            session_id="s",
            organization="Org",
            technician_name="Tech",
            ticket_id=1,
            ticket_title="t",
            requested=list(Permission),
            max_file_bytes=max_bytes,
        )

    @property
    def joined(self) -> Joined | None:
        return self._joined

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None:
        self.handlers[message_type] = handler

    def send_data(self, message: AgentDataMessage) -> None:
        self.sent.append(message)

    def on_peer(self, hook: Callable[[Any], None]) -> None:
        self.hooks.append(hook)

    def on_end(self, hook: Callable[[], None]) -> None:
        self.end_hooks.append(hook)

    def on_lost(self, hook: Callable[[], None]) -> None:
        self.lost_hooks.append(hook)


Service = tuple[Peer, AgentFiles, FakeChannel, list[UiEvent]]


def _service(granted: set[Permission], max_bytes: int = 10**9) -> Service:
    peer = Peer(granted, max_bytes)
    events: list[UiEvent] = []
    files = AgentFiles(peer, events.append)
    pc = FakePc()
    for hook in peer.hooks:
        hook(pc)
    return peer, files, pc.channel, events


def test_service_receives_into_the_chosen_folder(tmp_path: Path) -> None:
    peer, files, channel, events = _service({Permission.VIEW, Permission.FILES})
    data = secrets.token_bytes(300_000)
    offer = _offer(data, "../../etc/passwd")
    peer.handlers["file_offer"](offer)
    assert isinstance(events[-1], FileOffered) and events[-1].name == "passwd"
    files.accept(offer.id, str(tmp_path))
    assert FileAccept(id=offer.id) in peer.sent
    for offset, chunk in _chunks(data):
        channel.handlers["message"](pack_chunk(offer.id, offset, chunk))
    assert (tmp_path / "passwd").read_bytes() == data
    assert FileDone(id=offer.id, ok=True) in peer.sent
    assert any(isinstance(m, FileProgress) and m.received == len(data) for m in peer.sent)
    assert isinstance(events[-1], FileTransferEnded) and events[-1].outcome == "done"


def test_service_refuses_offers_over_the_policy_limit() -> None:
    peer, _files, _channel, events = _service({Permission.VIEW, Permission.FILES}, max_bytes=10)
    offer = _offer(b"x" * 11)
    peer.handlers["file_offer"](offer)
    assert peer.sent == [FileReject(id=offer.id, reason="too_large")]
    assert events == []


def test_frames_dropped_when_files_not_granted(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    _peer, files, channel, _events = _service({Permission.VIEW})
    caplog.set_level(logging.WARNING)
    channel.handlers["message"](pack_chunk(secrets.token_hex(16), 0, b"x"))
    assert "dropped type=file_chunk reason=files_not_granted" in caplog.text
    assert files.incoming == {}


def test_technician_cancel_and_session_end_leave_nothing(tmp_path: Path) -> None:
    peer, files, channel, events = _service({Permission.VIEW, Permission.FILES})
    data = secrets.token_bytes(3 * MAX_CHUNK)
    first, second = _offer(data), _offer(data)
    for offer in (first, second):
        peer.handlers["file_offer"](offer)
        files.accept(offer.id, str(tmp_path))
        channel.handlers["message"](pack_chunk(offer.id, 0, data[:MAX_CHUNK]))
    assert len(list(tmp_path.iterdir())) == 2
    peer.handlers["file_cancel"](FileCancel(id=first.id))
    assert len(list(tmp_path.iterdir())) == 1
    for hook in peer.end_hooks:
        hook()
    assert list(tmp_path.iterdir()) == []
    assert [e.outcome for e in events if isinstance(e, FileTransferEnded)] == ["cancelled", "cancelled"]


def test_a_lost_connection_stops_transfers_and_a_new_one_gets_its_own_channel(tmp_path: Path) -> None:
    peer, files, channel, events = _service({Permission.VIEW, Permission.FILES})
    data = secrets.token_bytes(3 * MAX_CHUNK)
    offer = _offer(data)
    peer.handlers["file_offer"](offer)
    files.accept(offer.id, str(tmp_path))
    channel.handlers["message"](pack_chunk(offer.id, 0, data[:MAX_CHUNK]))
    assert len(list(tmp_path.iterdir())) == 1
    for lost in peer.lost_hooks:
        lost()
    assert list(tmp_path.iterdir()) == []  # no partial file kept
    ended = [e for e in events if isinstance(e, FileTransferEnded)]
    assert [(e.outcome, e.detail) for e in ended] == [("cancelled", "connection_lost")]
    # the next peer connection (a resume) runs the hook again: a new file channel, transfers work
    pc = FakePc()
    for hook in peer.hooks:
        hook(pc)
    assert pc.channel is not channel
    again = _offer(data)
    peer.handlers["file_offer"](again)
    files.accept(again.id, str(tmp_path))
    channel.handlers["message"](pack_chunk(again.id, 0, data[:MAX_CHUNK]))  # nothing: the old one
    for offset, chunk in _chunks(data):
        pc.channel.handlers["message"](pack_chunk(again.id, offset, chunk))
    assert FileDone(id=again.id, ok=True) in peer.sent


def test_service_sends_a_file_with_a_window(tmp_path: Path) -> None:
    async def run() -> None:
        peer, files, channel, events = _service({Permission.VIEW, Permission.FILES})
        data = secrets.token_bytes(5 * 1024 * 1024 + 7)
        source = tmp_path / "report.bin"
        source.write_bytes(data)
        files.send_file(str(source))
        for _ in range(200):
            await asyncio.sleep(0.01)
            if peer.sent:
                break
        offer = peer.sent[-1]
        assert isinstance(offer, FileOffer) and offer.sha256 == hashlib.sha256(data).hexdigest()
        peer.handlers["file_accept"](FileAccept(id=offer.id))
        received = bytearray()
        for _ in range(2000):
            await asyncio.sleep(0)
            while channel.sent:
                tid, offset, payload = unpack_chunk(channel.sent.pop(0))
                assert tid == offer.id and offset == len(received)
                received += payload
            # the sender never runs more than its window ahead of what was acknowledged
            peer.handlers["file_progress"](FileProgress(id=offer.id, received=len(received)))
            if len(received) == len(data):
                break
        assert bytes(received) == data
        peer.handlers["file_done"](FileDone(id=offer.id, ok=True))
        assert isinstance(events[-1], FileTransferEnded) and events[-1].outcome == "done"

    asyncio.run(run())


def test_service_does_not_send_without_the_grant(tmp_path: Path) -> None:
    async def run() -> None:
        peer, files, _channel, events = _service({Permission.VIEW})
        source = tmp_path / "secret.txt"
        source.write_text("x")
        files.send_file(str(source))
        await asyncio.sleep(0.05)
        assert peer.sent == []
        assert isinstance(events[-1], FileTransferEnded) and events[-1].detail == "files_not_granted"

    asyncio.run(run())


def test_leftovers_of_a_killed_agent_are_removed_later(tmp_path: Path) -> None:
    old, fresh, mine = tmp_path / ".veo-old.part", tmp_path / ".veo-fresh.part", tmp_path / "old.part"
    for path in (old, fresh, mine):
        path.write_bytes(b"x")
    now = old.stat().st_mtime + STALE_PART_SECONDS + 10
    os.utime(fresh, (now, now))
    remove_stale_parts(tmp_path, now=now)
    assert sorted(p.name for p in tmp_path.iterdir()) == [".veo-fresh.part", "old.part"]
