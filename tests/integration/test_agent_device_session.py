"""The session part of a managed device (``veo agent --device-session``, issue 17) as a process:
real Tk windows on Xvfb clicked with xdotool, real WebRTC against a stand-in server and console.

The stand-in answers ``join`` with a ``joined`` whose ``device`` says what the test wants and
records what the agent sends, on signaling and on the data channel: *notify* starts with no
dialog, consent (``sas_confirmed`` false) and the resume key without any "Codes match", the
connected notice and the bar; the notice's Stop ends it. *ask* shows the dialog with the
managed-computer line and waits for Allow. A ``joined`` that does not match the service's
launch description is refused. A personal agent joined by a typed code ignores
``joined.device`` and asks as always.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from tests.integration.stand_in import ThreadedServer
from tests.integration.test_agent_app import latest_geometry, wait_for_line
from tests.netns import private_netns
from tests.xvfb import click_rect, xvfb_display
from websockets.asyncio.server import ServerConnection

from veo.protocol.device import DevicePolicy, DeviceSession, LaunchSpec
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Consent, Hangup, Join, Joined, Offer, parse_agent_message

PORT = 18767
CODE = "123456789"
SESSION = "sess-device"
SECRET = "7e" * 32
pytestmark = [
    pytest.mark.timeout(150),
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "Xvfb", "xdotool")),
        reason="needs root, iproute2, Xvfb and xdotool",
    ),
]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display("-nolisten", "local", size="1366x768x24") as name:
        yield name


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    with private_netns("veo-agent-dev", "10.99.9") as name:
        yield name


class StandIn(ThreadedServer):
    """Server and console in one: ``joined`` with ``device``, an aiortc answer, what came back."""

    def __init__(self, netns: str, said: DevicePolicy | None) -> None:
        super().__init__(netns, PORT)
        self.said = said
        self.received: list[Any] = []
        self.data: list[dict[str, Any]] = []
        self.got = {k: threading.Event() for k in ("consent", "hangup", "offer", "resume_key", "control")}

    def of(self, kind: type) -> list[Any]:
        return [m for m in self.received if isinstance(m, kind)]

    async def handle(self, ws: ServerConnection) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            channel.on("message", on_message)

        def on_message(raw: str) -> None:
            message = json.loads(raw)
            self.data.append(message)
            if message["type"] == "control" and not message["active"]:
                return  # wait for the control that says it is active
            if message["type"] in self.got:
                self.got[message["type"]].set()

        @pc.on("track")
        def on_track(track: Any) -> None:
            async def pull() -> None:
                while True:
                    try:
                        await track.recv()
                    except Exception:
                        return

            self._pull = asyncio.get_running_loop().create_task(pull())

        device = (
            DeviceSession(device_name="pc-7", policy=self.said, reason="Printer jams") if self.said else None
        )
        try:
            async for raw in ws:
                message = parse_agent_message(raw)
                self.received.append(message)
                if isinstance(message, Join):
                    joined = Joined(
                        session_id=SESSION,
                        organization="ACME IT",
                        technician_name="Ana",
                        ticket_id=12,
                        ticket_title="pc-7: Printer jams",
                        requested=[Permission.VIEW, Permission.CONTROL],
                        device=device,
                    )
                    await ws.send(joined.dumps())
                elif isinstance(message, Offer):
                    self.got["offer"].set()
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=message.sdp, type="offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
                    await ws.send(
                        json.dumps(
                            {"type": "answer", "v": 1, "sdp": pc.localDescription.sdp, "nonce": "ab" * 32}
                        )
                    )
                elif isinstance(message, Consent):
                    self.got["consent"].set()
                elif isinstance(message, Hangup):
                    self.got["hangup"].set()
        finally:
            await pc.close()


def start_part(
    netns: str, display: str, tmp_path: Path, policy: DevicePolicy
) -> tuple[subprocess.Popen[bytes], Path]:
    """The session part as the service starts it: its launch description on standard input."""
    log = tmp_path / "agent.log"
    spec = LaunchSpec(
        server=f"http://127.0.0.1:{PORT}",
        code=CODE,
        secret=SECRET,
        session_id=SESSION,
        policy=policy,
        reason="Printer jams",
        technician_name="Ana",
        organization="ACME IT",
        device_name="pc-7",
        language="en",
    )
    part = subprocess.Popen(
        [
            "ip", "netns", "exec", netns,
            "env", f"DISPLAY={display}", f"VEO_AGENT_HISTORY={tmp_path / 'history.jsonl'}",
            sys.executable, "-m", "veo", "agent", "--device-session", "--log-file", str(log),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    assert part.stdin is not None
    part.stdin.write(spec.model_dump_json().encode())
    part.stdin.close()
    return part, log


def stop(part: subprocess.Popen[bytes]) -> None:
    if part.poll() is None:
        part.terminate()
        part.wait(30)


def test_notify_starts_at_once_and_the_notices_stop_ends_it(display: str, netns: str, tmp_path: Path) -> None:
    with StandIn(netns, "notify") as server:
        part, log = start_part(netns, display, tmp_path, "notify")
        try:
            wait_for_line(log, r"device session policy=notify mode=automatic device=pc-7")
            assert server.got["consent"].wait(30), "consent went out by itself"
            consent = server.of(Consent)[0]
            assert consent.granted == [Permission.VIEW, Permission.CONTROL] and consent.sas_confirmed is False
            assert server.of(Join)[0].device_secret == SECRET, "the join proves it is the device's"
            assert server.got["resume_key"].wait(30), "the key, with no Codes match from anybody"
            assert server.got["control"].wait(30), "control active without the technician's Codes match"
            control = next(m for m in server.data if m["type"] == "control" and m["active"])
            assert control["waiting_for"] == [] and control["granted"] == ["view", "control"]
            wait_for_line(
                log,
                r"connected notice shown: Ana from ACME IT connected to this computer\. Reason: Printer jams",
            )
            wait_for_line(log, r"ui-geometry bar ")
            wait_for_line(log, r"ui-geometry connected_notice ")
            notice = latest_geometry(log, "connected_notice")
            assert set(notice) == {"stop", "close"}
            assert "ui-geometry consent " not in log.read_text(), "no dialog on a notify device"
            click_rect(display, notice["stop"])
            assert server.got["hangup"].wait(30)
            assert server.of(Hangup)[-1].reason == "user_stopped"
            wait_for_line(log, r"session ended by=user reason=user_stopped")
            assert part.wait(60) == 0, "the part exits once the session ended (the service waits for it)"
            entry = json.loads((tmp_path / "history.jsonl").read_text().splitlines()[-1])
            assert (entry["device_policy"], entry["access_reason"]) == ("notify", "Printer jams")
            assert entry["ended_by"] == "user" and entry["granted"] == ["view", "control"]
        finally:
            stop(part)


def test_ask_shows_the_managed_dialog_and_waits_for_allow(display: str, netns: str, tmp_path: Path) -> None:
    with StandIn(netns, "ask") as server:
        part, log = start_part(netns, display, tmp_path, "ask")
        try:
            wait_for_line(log, r"device session policy=ask mode=ask")
            wait_for_line(log, r"consent dialog for a managed computer \(policy ask\)")
            wait_for_line(log, r"consent allow enabled")
            assert not server.got["consent"].is_set(), "nothing starts without Allow"
            wait_for_line(log, r"ui-geometry consent ")
            rects = latest_geometry(log, "consent")
            assert {"allow", "deny", "sas_differ"} <= set(rects)
            click_rect(display, rects["allow"])
            assert server.got["consent"].wait(30)
            assert server.of(Consent)[0].sas_confirmed is False
            assert server.got["resume_key"].wait(30)
            assert server.got["control"].wait(30)
            wait_for_line(log, r"session started granted=view,control")
            assert "connected notice shown" not in log.read_text(), "the user said yes: no notice"
        finally:
            stop(part)


def test_a_joined_that_does_not_match_the_launch_is_refused(display: str, netns: str, tmp_path: Path) -> None:
    with StandIn(netns, "ask") as server:
        part, log = start_part(netns, display, tmp_path, "notify")
        try:
            wait_for_line(
                log, r"device session refused: the server says policy=ask, the service accepted policy=notify"
            )
            assert server.got["hangup"].wait(30)
            assert server.of(Hangup)[-1].reason == "device_mismatch"
            wait_for_line(log, r"session ended by=system reason=device_mismatch")
            assert not server.got["offer"].is_set() and not server.got["consent"].is_set()
            wait_for_line(log, r"ui-geometry ended ")
            assert part.wait(60) == 0
        finally:
            stop(part)


def test_a_typed_code_agent_asks_even_when_the_server_says_notify(
    display: str, netns: str, tmp_path: Path
) -> None:
    with StandIn(netns, "notify") as server:
        log = tmp_path / "agent.log"
        agent = subprocess.Popen(
            [
                "ip", "netns", "exec", netns,
                "env", f"DISPLAY={display}", f"VEO_AGENT_HISTORY={tmp_path / 'history.jsonl'}",
                sys.executable, "-m", "veo", "agent",
                "--server", f"http://127.0.0.1:{PORT}", "--code", CODE, "--lang", "en",
                "--log-file", str(log),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            wait_for_line(log, r"the server calls this a device session: ignored")
            wait_for_line(log, r"consent allow enabled")
            assert "consent dialog for a managed computer" not in log.read_text()
            assert server.of(Join)[0].device_secret is None  # a typed code is no device's join
            assert not server.got["consent"].is_set()
            click_rect(display, latest_geometry(log, "consent")["deny"])
            wait_for_line(log, r"session ended by=user reason=denied")
            assert not server.got["consent"].is_set() and not server.got["resume_key"].is_set()
        finally:
            stop(agent)
