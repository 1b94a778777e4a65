"""The whole ``veo agent`` process: real Tk windows on Xvfb, clicked with xdotool, real WebRTC.

A stand-in server (a WebSocket on 127.0.0.1 that plays the server's replies and the console's
aiortc answer) runs with the agent inside a private network namespace; the agent's windows are
clicked where its ``ui-geometry`` log lines say, exactly as the end-to-end suite does.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from tests.e2e.agent_log import AgentLog
from tests.integration.stand_in import ThreadedServer
from tests.netns import private_netns
from tests.xvfb import click_rect, move_pointer, xdotool, xvfb_display
from websockets.asyncio.server import ServerConnection

from veo.agent import history as agent_history
from veo.protocol import sas
from veo.protocol.permissions import Permission
from veo.protocol.signaling import (
    Abort,
    Answer,
    Consent,
    ControlState,
    Deny,
    Error,
    Hangup,
    Join,
    Joined,
    Offer,
    Reveal,
    parse_agent_message,
)

PORT = 18765
VALID_CODE = "123456789"
#: codes the stand-in server refuses with a specific reason (any other wrong code: ``code_unknown``)
USED_CODE, LIMITED_CODE, BUSY_CODE = "999999999", "888888888", "777777777"
REFUSALS = {
    USED_CODE: Error(code="code_used", message="x", fatal=True),
    LIMITED_CODE: Error(code="rate_limited", message="x", fatal=True, retry_after=230),
    BUSY_CODE: Error(code="too_many_joins", message="x", fatal=True, retry_after=8),
}
pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(
        os.geteuid() != 0 or not all(shutil.which(t) for t in ("ip", "Xvfb", "xdotool")),
        reason="needs root, iproute2, Xvfb and xdotool",
    ),
]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display("-nolisten", "local") as name:
        yield name


@pytest.fixture(scope="module")
def netns() -> Iterator[str]:
    with private_netns("veo-agent-app", "10.99.8") as name:
        yield name


class StandInServer(ThreadedServer):
    """Server + console in one: answers ``join``, answers the offer with aiortc, records the rest."""

    def __init__(self, netns: str) -> None:
        super().__init__(netns, PORT, name="stand-in-server")
        self.received: list[Any] = []
        self.console_sas: str | None = None
        self.frames = 0
        self.first_frame = threading.Event()
        self.got: dict[str, threading.Event] = {
            k: threading.Event() for k in ("reveal", "consent", "control_state", "hangup", "deny", "abort")
        }
        #: when consent and hangup arrived: the server stamps started_at and ended_at at these moments
        self.at: dict[str, datetime] = {}

    async def handle(self, ws: ServerConnection) -> None:
        pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        nonce_b = sas.new_nonce()
        offer: Offer | None = None

        @pc.on("track")
        def on_track(track: Any) -> None:
            async def pull() -> None:
                while True:
                    try:
                        await track.recv()
                    except Exception:
                        return
                    self.frames += 1
                    self.first_frame.set()

            self._pull = asyncio.get_running_loop().create_task(pull())

        try:
            async for raw in ws:
                message = parse_agent_message(raw)
                self.received.append(message)
                if isinstance(message, Join) and message.code != VALID_CODE:
                    refusal = REFUSALS.get(message.code, Error(code="code_unknown", message="x", fatal=True))
                    await ws.send(refusal.dumps())
                    await ws.close()
                    return
                if isinstance(message, Join):
                    joined = Joined(
                        session_id="sess-app",
                        organization="ACME IT",
                        technician_name="Ana",
                        ticket_id=12,
                        ticket_title="Printer does not print",
                        requested=[Permission.VIEW, Permission.CONTROL],
                    )
                    await ws.send(joined.dumps())
                elif isinstance(message, Offer):
                    offer = message
                    await pc.setRemoteDescription(RTCSessionDescription(sdp=message.sdp, type="offer"))
                    await pc.setLocalDescription(await pc.createAnswer())
                    await ws.send(Answer(sdp=pc.localDescription.sdp, nonce=nonce_b.hex()).dumps())
                elif isinstance(message, Reveal):
                    assert offer is not None
                    nonce_a = bytes.fromhex(message.nonce)
                    assert sas.check_commitment(nonce_a, offer.commitment)
                    self.console_sas = sas.sas_code(
                        sas.sha256_fingerprint(offer.sdp),
                        sas.sha256_fingerprint(pc.localDescription.sdp),
                        nonce_a,
                        nonce_b,
                        "sess-app",
                    )
                    self.got["reveal"].set()
                elif isinstance(message, Consent):
                    self.at["consent"] = datetime.now(UTC)
                    self.got["consent"].set()
                elif isinstance(message, ControlState):
                    self.got["control_state"].set()
                elif isinstance(message, Deny):
                    self.got["deny"].set()
                elif isinstance(message, Hangup):
                    self.at["hangup"] = datetime.now(UTC)
                    self.got["hangup"].set()
                elif isinstance(message, Abort):
                    self.got["abort"].set()
        finally:
            await pc.close()


def wait_for_line(log: Path, pattern: str, after: int = 0) -> tuple[int, re.Match[str]]:
    """Block until the agent's log has a line matching ``pattern`` (pytest-timeout guards it)."""
    regex = re.compile(pattern)
    while True:
        if log.exists():
            lines = log.read_text(errors="replace").splitlines()
            for index in range(after, len(lines)):
                match = regex.search(lines[index])
                if match:
                    return index, match
        threading.Event().wait(0.05)


def consent_layout(log: Path, sas_line: int) -> dict[str, list[int]]:
    """The consent dialog's layout once it shows the SAS (logged at line ``sas_line``) and Allow is
    enabled, by the end-to-end harness's rule (:meth:`AgentLog.consent_layout`); pytest-timeout
    guards the wait."""
    agent_log = AgentLog(log)
    while (layout := agent_log.consent_layout(sas_line)) is None:
        threading.Event().wait(0.05)
    return {name: [rect.x, rect.y, rect.width, rect.height] for name, rect in layout.items()}


def latest_geometry(log: Path, window: str) -> dict[str, list[int]]:
    """The last layout the agent logged for ``window`` (windows re-log when they change)."""
    for line in reversed(log.read_text(errors="replace").splitlines()):
        match = re.search(rf"ui-geometry {window} (\{{.*\}})", line)
        if match:
            rects: dict[str, list[int]] = json.loads(match.group(1))
            return rects
    raise AssertionError(f"no ui-geometry {window} line")


def test_agent_process_consent_pause_stop(display: str, netns: str, tmp_path: Path) -> None:
    server = StandInServer(netns)
    server.start()
    log = tmp_path / "agent.log"
    history = tmp_path / "history.jsonl"
    agent = subprocess.Popen(
        [
            "ip", "netns", "exec", netns,
            "env", f"DISPLAY={display}", f"VEO_AGENT_HISTORY={history}",
            sys.executable, "-m", "veo", "agent",
            "--server", f"http://127.0.0.1:{PORT}", "--code", "123 456 789", "--lang", "en",
            "--log-file", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        index, sas_match = wait_for_line(log, r"sas=(\d{6})")
        # the agent shows its code as it sends the reveal; the stand-in works out its own on receipt
        assert server.got["reveal"].wait(30)
        assert sas_match.group(1) == server.console_sas
        # the dialog may re-lay out once the code is shown; click Allow where it is now
        rects = consent_layout(log, index)
        assert set(rects) == {"allow", "deny", "perm_view", "perm_control", "sas_differ"}
        assert not server.got["consent"].is_set() and server.frames == 0
        click_rect(display, rects["allow"])
        assert server.got["consent"].wait(30)
        wait_for_line(log, r"session started granted=view,control")
        assert server.first_frame.wait(30)

        _, bar = wait_for_line(log, r"ui-geometry bar (\{.*\})")
        bar_rects = json.loads(bar.group(1))
        click_rect(display, bar_rects["pause"])
        assert server.got["control_state"].wait(30)
        index, _ = wait_for_line(log, r"control paused")
        _, bar = wait_for_line(log, r"ui-geometry bar (\{.*\})", index)
        click_rect(display, json.loads(bar.group(1))["stop"])
        assert server.got["hangup"].wait(30)
        wait_for_line(log, r"session ended by=user reason=user_stopped")
        wait_for_line(log, r"capture stopped, grant forgotten")
        assert agent.wait(60) == 0
        entry = json.loads(history.read_text().splitlines()[-1])
        assert entry["ended_by"] == "user" and entry["granted"] == ["view", "control"]
        assert entry["ticket_id"] == 12
        # the history's duration follows the server's rule: from consent to the end
        written = agent_history.parse_line(json.dumps(entry))
        assert written is not None and written.allowed_at
        server_seconds = int((server.at["hangup"] - server.at["consent"]).total_seconds())
        assert abs((agent_history.duration_seconds(written) or 0) - server_seconds) <= 1
    finally:
        if agent.poll() is None:
            agent.terminate()
            agent.wait()
        server.stop()


def start_agent(netns: str, display: str, tmp_path: Path) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp_path / "agent.log"
    agent = subprocess.Popen(
        [
            "ip", "netns", "exec", netns,
            "env", f"DISPLAY={display}", f"VEO_AGENT_HISTORY={tmp_path / 'history.jsonl'}",
            sys.executable, "-m", "veo", "agent",
            "--server", f"http://127.0.0.1:{PORT}", "--code", "123 456 789", "--lang", "en",
            "--log-file", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    return agent, log


def test_global_hotkey_stops_the_session(display: str, netns: str, tmp_path: Path) -> None:
    """Ctrl+Alt+Shift+End, pressed with the focus anywhere, ends the session like *Stop*."""
    server = StandInServer(netns)
    server.start()
    agent, log = start_agent(netns, display, tmp_path)
    try:
        wait_for_line(log, r"stop hotkey grabbed")
        index, _ = wait_for_line(log, r"sas=\d{6}")
        click_rect(display, consent_layout(log, index)["allow"])
        wait_for_line(log, r"session started granted=view,control")
        wait_for_line(log, r"ui-geometry bar ")
        # the focus is on the root window, not on any veo window: the grab is global
        move_pointer(display, 5, 5)
        xdotool(display, "key", "ctrl+alt+shift+End")
        wait_for_line(log, r"stop hotkey pressed")
        assert server.got["hangup"].wait(30)
        hangups = [m for m in server.received if isinstance(m, Hangup)]
        assert hangups and hangups[-1].reason == "hotkey"
        wait_for_line(log, r"session ended by=user reason=hotkey")
        wait_for_line(log, r"capture stopped, grant forgotten")
        assert agent.wait(60) == 0
    finally:
        if agent.poll() is None:
            agent.terminate()
            agent.wait()
        server.stop()


def test_codes_differ_on_the_consent_dialog_aborts_as_interception(
    display: str, netns: str, tmp_path: Path
) -> None:
    server = StandInServer(netns)
    server.start()
    agent, log = start_agent(netns, display, tmp_path)
    try:
        index, _ = wait_for_line(log, r"sas=\d{6}")
        click_rect(display, consent_layout(log, index)["sas_differ"])
        assert server.got["abort"].wait(30)
        aborts = [m for m in server.received if isinstance(m, Abort)]
        assert aborts[-1].reason == "sas_mismatch"
        wait_for_line(log, r"session ended by=system reason=sas_mismatch_user")
        assert server.frames == 0 and not server.got["consent"].is_set()
        wait_for_line(log, r"the user declared that the verification codes differ")
        # the warning stays until the user closes it (no auto-close), so the agent still runs
        assert agent.poll() is None
        agent.terminate()
        assert agent.wait(60) == 0
    finally:
        if agent.poll() is None:
            agent.terminate()
            agent.wait()
        server.stop()


def test_code_window_retry_then_deny(display: str, netns: str, tmp_path: Path) -> None:
    server = StandInServer(netns)
    server.start()
    log = tmp_path / "agent.log"
    agent = subprocess.Popen(
        [
            "ip", "netns", "exec", netns,
            "env", f"DISPLAY={display}", f"VEO_AGENT_HISTORY={tmp_path / 'history.jsonl'}",
            sys.executable, "-m", "veo", "agent",
            "--server", f"http://127.0.0.1:{PORT}", "--lang", "en", "--log-file", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip

    def enter(code: str) -> None:
        wait_for_line(log, r"ui-geometry code ")
        rects = latest_geometry(log, "code")
        assert set(rects) == {"entry", "ok", "history"}
        click_rect(display, rects["entry"])
        xdotool(display, "key", "End", *["BackSpace"] * 16)
        xdotool(display, "type", code)
        click_rect(display, rects["ok"])

    try:
        enter("12345")
        index, _ = wait_for_line(log, r"code window: the entered code is not 9 digits")
        assert not any(isinstance(m, Join) for m in server.received)
        enter("999 999 999")
        index, _ = wait_for_line(log, r"join refused: code_used", index)
        wait_for_line(
            log, r"code window says: This code has already been used\. Each code works only once", index
        )
        enter("123 456 789")
        wait_for_line(log, r"sas=\d{6}", index)
        _, geometry = wait_for_line(log, r"ui-geometry consent (\{.*\})", index)
        click_rect(display, json.loads(geometry.group(1))["deny"])
        assert server.got["deny"].wait(30)
        wait_for_line(log, r"session ended by=user reason=denied")
        assert agent.wait(60) == 0
        assert server.frames == 0 and not server.got["consent"].is_set()
    finally:
        if agent.poll() is None:
            agent.terminate()
            agent.wait()
        server.stop()


@pytest.mark.parametrize(
    ("code", "said"),
    [
        (
            LIMITED_CODE,
            "Se probaron demasiados códigos incorrectos. Espere 4 minutos y vuelva a intentarlo.",
        ),
        (  # refused at the door (too many joins in flight): not "wrong codes", and seconds, not minutes
            BUSY_CODE,
            "Demasiadas conexiones de su red están intentando entrar al mismo tiempo. "
            "Vuelva a intentarlo en unos segundos.",
        ),
    ],
    ids=["rate-limited", "too-many-joins"],
)
def test_a_refused_code_from_the_terminal_is_said_there_too(
    display: str, netns: str, tmp_path: Path, code: str, said: str
) -> None:
    """``veo agent --code``: the server's reason (and how long to wait) on the terminal, no traceback."""
    server = StandInServer(netns)
    server.start()
    log = tmp_path / "agent.log"
    agent = subprocess.Popen(
        [
            "ip", "netns", "exec", netns,
            "env", f"DISPLAY={display}", f"VEO_AGENT_HISTORY={tmp_path / 'history.jsonl'}",
            sys.executable, "-m", "veo", "agent", "--server", f"http://127.0.0.1:{PORT}",
            "--code", code, "--lang", "es", "--log-file", str(log),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        wait_for_line(log, "code window says: " + re.escape(said))
        agent.terminate()
        _, err = agent.communicate(timeout=60)
        assert f"veo agent: {said}" in err
        assert "Traceback" not in err
    finally:
        if agent.poll() is None:
            agent.kill()
            agent.wait()
        server.stop()
