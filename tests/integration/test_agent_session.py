"""The agent's session against a console-like aiortc answerer, through an in-memory signaling pipe.

Real parts: ``AgentSession`` (join, offer with commitment, reveal, SAS, consent gate, policy,
pause, end), aiortc on both sides, the agent's ``ScreenTrack`` and its conversion. Stand-ins:
the signaling server (a pair of queues that plays the server's replies), the screen (a
synthetic image) and the input backend (records what the policy let through).

aioice ignores 127.0.0.1, so both peers run inside a private network namespace with a veth
pair (as ``field-notes.md`` says): ICE uses its addresses and no packet can leave it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import threading
from collections.abc import Callable, Coroutine, Iterator
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from tests.netns import enter_netns, private_netns

from veo.agent.capture.base import CaptureError, ScreenCapture, Size
from veo.agent.events import ControlChanged, SasKnown, SessionEnded, ShowConsent, Started, UiEvent
from veo.agent.input.base import Button, InputInjector
from veo.agent.session import AgentSession, SessionDeps
from veo.agent.signaling import ChannelClosed
from veo.protocol import sas
from veo.protocol.datachannel import (
    Control,
    Dropped,
    Heartbeat,
    ResumeKey,
    Screen,
    parse_agent_data_message,
)
from veo.protocol.permissions import Permission
from veo.protocol.signaling import (
    Answer,
    Consent,
    ControlState,
    Ended,
    Error,
    Hangup,
    Join,
    Joined,
    Offer,
    Reveal,
    TechnicianConfirmed,
    parse_agent_message,
)

WIDTH, HEIGHT = 320, 240
pytestmark = pytest.mark.timeout(40)


# ---------------------------------------------------------------- network namespace


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.skip("needs root and iproute2 to create a private network namespace")
    with private_netns("veo-agent-it", "10.99.7") as name:
        yield name


def run_in_netns(name: str, scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``scenario`` on a fresh event loop in a thread that entered the namespace."""
    failure: list[BaseException] = []

    def body() -> None:
        try:
            enter_netns(name)
            asyncio.run(scenario())
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=body, name="netns-scenario")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


# ---------------------------------------------------------------- stand-ins


class Pipe:
    """One end of an in-memory signaling pipe (what the WebSocket is in production)."""

    def __init__(self, inbox: asyncio.Queue[str | None], outbox: asyncio.Queue[str | None]) -> None:
        self.inbox, self.outbox = inbox, outbox
        self.closed = False

    async def send(self, message: str) -> None:
        if self.closed:
            raise ChannelClosed
        await self.outbox.put(message)

    async def recv(self) -> str:
        item = await self.inbox.get()
        if item is None:
            self.closed = True
            raise ChannelClosed
        return item

    async def close(self) -> None:
        if not self.closed:
            self.closed = True
            await self.outbox.put(None)


def pipe_pair() -> tuple[Pipe, Pipe]:
    a: asyncio.Queue[str | None] = asyncio.Queue()
    b: asyncio.Queue[str | None] = asyncio.Queue()
    return Pipe(a, b), Pipe(b, a)


class SyntheticScreen(ScreenCapture):
    """A changing gradient, so the change detector always has something new."""

    def __init__(self) -> None:
        self.frame = 0

    def size(self) -> Size:
        return Size(WIDTH, HEIGHT)

    def grab(self) -> bytes:
        self.frame += 1
        return bytes([(self.frame * 7) % 256, 64, 128, 255]) * (WIDTH * HEIGHT)

    def close(self) -> None:
        pass


class RecordingInjector(InputInjector):
    def __init__(self, loop: asyncio.AbstractEventLoop, calls: asyncio.Queue[tuple[object, ...]]) -> None:
        self._loop, self._calls = loop, calls

    def _record(self, *call: object) -> None:
        self._loop.call_soon_threadsafe(self._calls.put_nowait, call)

    def pointer_move(self, x: int, y: int) -> None:
        self._record("move", x, y)

    def pointer_button(self, x: int, y: int, button: Button, down: bool) -> None:
        self._record("button", x, y, button, down)

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        self._record("wheel", x, y, dx, dy)

    def key(self, key: str, code: str, down: bool) -> None:
        self._record("key", key, code, down)

    def text(self, text: str) -> None:
        self._record("text", text)

    def release_all(self) -> None:
        self._record("release_all")

    def close(self) -> None:
        self._record("close")


class Console:
    """The technician's side as the browser does it: an aiortc answerer with its own nonce."""

    def __init__(self) -> None:
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.nonce_b = sas.new_nonce()
        self.data: asyncio.Queue[str] = asyncio.Queue()
        self.tracks: asyncio.Queue[Any] = asyncio.Queue()
        self.channel: Any = None
        self.channel_open = asyncio.Event()
        self.resume_key: bytes | None = None

        @self.pc.on("track")
        def on_track(track: Any) -> None:
            self.tracks.put_nowait(track)

        #: the agent's other channels by label (``veo-files`` when the files feature is on)
        self.others: dict[str, Any] = {}

        @self.pc.on("datachannel")
        def on_datachannel(channel: Any) -> None:
            if channel.label != "veo":
                self.others[channel.label] = channel
                return
            self.channel = channel
            channel.on("message", self.data.put_nowait)
            self.channel_open.set()

    async def answer(self, offer: Offer) -> Answer:
        await self.pc.setRemoteDescription(RTCSessionDescription(sdp=offer.sdp, type="offer"))
        await self.pc.setLocalDescription(await self.pc.createAnswer())
        return Answer(sdp=self.pc.localDescription.sdp, nonce=self.nonce_b.hex())

    async def next_data(self) -> Any:
        """The agent's next message, past heartbeats; a ``resume_key`` is kept, as the console does."""
        while True:
            message = parse_agent_data_message(await self.data.get())
            if isinstance(message, ResumeKey):
                self.resume_key = bytes.fromhex(message.key)
            elif not isinstance(message, Heartbeat):
                return message

    def send_input(self, message: dict[str, object]) -> None:
        self.channel.send(json.dumps(message))


async def expect(pipe: Pipe, kind: type[Any]) -> Any:
    message = parse_agent_message(await pipe.recv())
    assert isinstance(message, kind), message
    return message


# ---------------------------------------------------------------- the test


def test_negotiation_consent_sas_control_and_end(netns: str, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        agent_end, server_end = pipe_pair()
        events: asyncio.Queue[UiEvent] = asyncio.Queue()
        calls: asyncio.Queue[tuple[object, ...]] = asyncio.Queue()
        deps = SessionDeps(
            capture_factory=SyntheticScreen,
            injector_factory=lambda: RecordingInjector(loop, calls),
            post=events.put_nowait,  # the session posts from its own loop here
            language="es",
            record_history=False,
        )
        session = AgentSession(agent_end, "123456789", deps)
        running = loop.create_task(session.run())

        join = await expect(server_end, Join)
        assert join.code == "123456789" and join.language == "es"
        joined = Joined(
            session_id="sess-1",
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=7,
            ticket_title="Printer",
            requested=[Permission.VIEW, Permission.CONTROL],
            ice_servers=[],
        )
        await server_end.send(joined.dumps())
        assert isinstance(await events.get(), ShowConsent)

        offer = await expect(server_end, Offer)
        video_codecs = [line for line in offer.sdp.splitlines() if line.startswith("a=rtpmap:")]
        assert "H264" in video_codecs[0]  # H.264 preferred, VP8 after it
        assert any("VP8" in line for line in video_codecs)
        console = Console()
        answer = await console.answer(offer)
        await server_end.send(answer.dumps())
        reveal = await expect(server_end, Reveal)
        nonce_a = bytes.fromhex(reveal.nonce)
        assert sas.check_commitment(nonce_a, offer.commitment)

        # the console's own computation: the offer text's fingerprint, and the one it applied
        console_fp = sas.sha256_fingerprint(console.pc.localDescription.sdp)
        console_sas = sas.sas_code(
            sas.sha256_fingerprint(offer.sdp), console_fp, nonce_a, console.nonce_b, "sess-1"
        )
        shown = await events.get()
        assert isinstance(shown, SasKnown) and shown.code == console_sas == session.sas
        assert f"sas={console_sas}" in caplog.text

        # connected, but no consent yet: the agent announces itself and refuses input, no frame flows
        await console.channel_open.wait()
        screen = await console.next_data()
        assert isinstance(screen, Screen) and (screen.width, screen.height) == (WIDTH, HEIGHT)
        control = await console.next_data()
        assert isinstance(control, Control) and control.active is False and control.granted == []
        console.send_input({"type": "key", "key": "a", "code": "KeyA", "down": True})
        dropped = await console.next_data()
        assert isinstance(dropped, Dropped) and dropped.reason == "not_consented"
        assert "dropped type=key reason=not_consented" in caplog.text
        assert session._track is not None and session._track.frames_sent == 0
        assert calls.empty()

        # the user presses Allow
        session.allow([Permission.VIEW, Permission.CONTROL])
        consent = await expect(server_end, Consent)
        assert consent.granted == [Permission.VIEW, Permission.CONTROL] and consent.sas_confirmed
        started = await events.get()
        assert isinstance(started, Started)
        assert "session started granted=view,control" in caplog.text
        control = await console.next_data()
        assert isinstance(control, Control) and not control.active and not control.paused
        assert control.waiting_for == ["technician_sas"]  # the technician has not clicked "Codes match"
        console.send_input({"type": "key", "key": "b", "code": "KeyB", "down": True})
        dropped = await console.next_data()
        assert isinstance(dropped, Dropped) and dropped.reason == "technician_not_confirmed"

        # the role wants the user's identity confirmed first: "Codes match" alone is not enough
        await server_end.send(TechnicianConfirmed(sas_confirmed=True, identity_required=True).dumps())
        control = await console.next_data()
        assert isinstance(control, Control) and not control.active and control.waiting_for == ["identity"]
        await server_end.send(
            TechnicianConfirmed(sas_confirmed=True, identity_required=True, identity_confirmed=True).dumps()
        )
        control = await console.next_data()
        assert isinstance(control, Control) and control.active and not control.paused
        assert control.waiting_for == []
        assert "control enabled" in caplog.text

        track = await console.tracks.get()
        frame = await track.recv()
        assert (frame.width, frame.height) == (WIDTH, HEIGHT)

        console.send_input({"type": "pointer_move", "x": 100, "y": 50})
        assert await calls.get() == ("move", 100, 50)

        # pause: input dropped, the server and the console are told
        session.set_paused(True)
        assert (await expect(server_end, ControlState)).paused is True
        assert await calls.get() == ("release_all",)
        control = await console.next_data()
        assert isinstance(control, Control) and control.paused and not control.active
        console.send_input({"type": "text", "text": "rm -rf"})
        dropped = await console.next_data()
        assert isinstance(dropped, Dropped) and dropped.reason == "control_paused"
        assert "control paused" in caplog.text
        assert await events.get() == ControlChanged(paused=True)
        session.set_paused(False)
        assert (await expect(server_end, ControlState)).paused is False
        assert await events.get() == ControlChanged(paused=False)
        console.send_input({"type": "wheel", "x": 5, "y": 6, "dy": -2})
        assert await calls.get() == ("wheel", 5, 6, 0, -2)

        # a malformed server message is ignored, then the technician ends the session
        await server_end.send('{"type": "nonsense"}')
        await server_end.send(Error(code="weird", message="not fatal").dumps())
        await server_end.send(Ended(by="technician", reason="resolved").dumps())
        await running
        ended = await events.get()
        assert isinstance(ended, SessionEnded) and ended.by == "technician"
        assert await calls.get() == ("close",)  # InputInjector.close releases what is held
        assert session.policy.granted == frozenset() and not session.policy.consented
        lines = caplog.text.splitlines()
        end_line = next(
            i for i, line in enumerate(lines) if "session ended by=technician reason=resolved" in line
        )
        assert any("capture stopped, grant forgotten" in line for line in lines[end_line:])
        assert session._track.readyState == "ended"
        await console.pc.close()

    run_in_netns(netns, scenario)


def test_refused_join_reports_and_returns_false(caplog: pytest.LogCaptureFixture) -> None:
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        agent_end, server_end = pipe_pair()
        events: list[UiEvent] = []
        deps = SessionDeps(
            capture_factory=SyntheticScreen,
            injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
            post=events.append,
            language="en",
            record_history=False,
        )
        session = AgentSession(agent_end, "123456789", deps)
        running = loop.create_task(session.run())
        await expect(server_end, Join)
        await server_end.send("garbage")
        await server_end.send(Error(code="code_expired", message="expired", fatal=True).dumps())
        assert await running is False
        assert len(events) == 1
        assert getattr(events[0], "message", "") == (
            "This code has expired: codes work for 10 minutes. Ask your technician for a new one."
        )

    asyncio.run(scenario())


class BrokenScreen(SyntheticScreen):
    """Sizes fine, then fails to grab (display gone, permission withdrawn...)."""

    def grab(self) -> bytes:
        raise CaptureError("display went away")


def test_capture_failure_ends_the_session_and_tells_the_server(
    netns: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="veo")

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        agent_end, server_end = pipe_pair()
        events: asyncio.Queue[UiEvent] = asyncio.Queue()
        deps = SessionDeps(
            capture_factory=BrokenScreen,
            injector_factory=lambda: RecordingInjector(loop, asyncio.Queue()),
            post=events.put_nowait,
            record_history=False,
        )
        session = AgentSession(agent_end, "123456789", deps)
        running = loop.create_task(session.run())
        await expect(server_end, Join)
        joined = Joined(
            session_id="sess-2",
            organization="ACME IT",
            technician_name="Ana",
            ticket_id=8,
            ticket_title="Screen",
            requested=[Permission.VIEW],
        )
        await server_end.send(joined.dumps())
        offer = await expect(server_end, Offer)
        console = Console()
        await server_end.send((await console.answer(offer)).dumps())
        await expect(server_end, Reveal)
        while not isinstance(await events.get(), SasKnown):
            pass
        session.allow([Permission.VIEW])
        await expect(server_end, Consent)
        hangup = await expect(server_end, Hangup)
        assert hangup.reason == "capture_failed"
        await running
        assert session.end_by == "system" and session.end_reason == "capture_failed"
        assert "session ended by=system reason=capture_failed" in caplog.text
        await console.pc.close()

    run_in_netns(netns, scenario)
