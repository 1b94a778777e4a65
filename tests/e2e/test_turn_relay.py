"""A whole session through coturn, with no other path between the agent and the console.

Issue 13, point 1. The agent runs in one network namespace, the console (Chromium) in another,
and the two cannot exchange a packet (``relay_net.py``: proved here by a connect that fails from
the agent's side to a listener on the console's side while the relay's side reaches it). Both
reach coturn, started by the test from the shipped ``deploy/turnserver.conf`` in a third namespace
with veo's REST secret; veo runs with ``VEO_ICE_TRANSPORT_POLICY=relay`` (the operators' setting),
so the console creates its ``RTCPeerConnection`` with ``iceTransportPolicy: "relay"`` and the
agent gathers relay candidates only, over the one TURN URL the server chose for it
(``turns:`` on 443). Then the promises of a session must hold: the video shows the user's
display, a click lands in the demo app, chat and a file transfer go through, the console's
selected candidate pair is relay on both ends, and no TURN credential or the secret is in any
log (server with its access log, agent, coturn).

Prints (``-s``) the time from *Allow* to the first right-coloured frame and the bytes the
console received over the relay.
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import os
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser

from .browser import CHROMIUM_ARGS, chromium_wrapper
from .conftest import _unavailable
from .console import CHANNEL_SPY, Console
from .demo import DemoApp
from .demo_app import BLOCK_RGB
from .flow import LiveSession, start_session
from .procs import LoggedProcess, Logs, wait_for
from .relay_net import (
    AGENT_LINK,
    CONSOLE_LINK,
    RELAY_ADDRESS,
    TURN_PORT,
    TURNS_PORT,
    RelayNetwork,
    connect_result,
    forward,
    listener,
    start_coturn,
    tcp_peers,
)
from .stack import SERVER_PORT, TECH_PASSWORD, VeoServer
from .test_transfer import accept_on_agent, console_offer, downloads, random_file, sha256_of
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COLOUR_TOLERANCE = 40
PROBE_PORT = 9099
FILE_BYTES = 256 * 1024

#: Keeps every RTCPeerConnection the console makes, and the configuration it was made with.
PEER_SPY = """
(() => {
  const Native = window.RTCPeerConnection;
  if (!Native || window.__e2ePeers) return;
  window.__e2ePeers = [];
  window.RTCPeerConnection = class extends Native {
    constructor(config, ...rest) {
      super(config, ...rest);
      window.__e2ePeers.push({ pc: this, config: JSON.parse(JSON.stringify(config || {})) });
    }
  };
})();
"""

#: The selected candidate pair of the console's newest connection, from getStats().
SELECTED_PAIR = """
async () => {
  const entry = (window.__e2ePeers || []).at(-1);
  if (!entry) return null;
  const stats = await entry.pc.getStats();
  let pair = null;
  stats.forEach((r) => {
    if (r.type === "transport" && r.selectedCandidatePairId) pair = stats.get(r.selectedCandidatePairId);
  });
  if (!pair || pair.state !== "succeeded") return null;
  const local = stats.get(pair.localCandidateId), remote = stats.get(pair.remoteCandidateId);
  const sdp = entry.pc.remoteDescription ? entry.pc.remoteDescription.sdp : "";
  return {
    local: local.candidateType, localRelayProtocol: local.relayProtocol || null,
    localAddress: local.address, remote: remote.candidateType, remoteAddress: remote.address,
    bytesReceived: pair.bytesReceived, bytesSent: pair.bytesSent,
    policy: entry.config.iceTransportPolicy || null,
    urls: (entry.config.iceServers || []).flatMap((s) => [].concat(s.urls)),
    credentials: (entry.config.iceServers || []).filter((s) => s.credential)
      .map((s) => ({ username: s.username, credential: s.credential })),
    remoteCandidates: sdp.split(/\\r?\\n/).filter((l) => l.startsWith("a=candidate:")),
  };
}
"""


@pytest.fixture(scope="module")
def relay_dir(e2e_dir: Path) -> Path:
    directory = e2e_dir / "turn-relay"
    directory.mkdir(exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def relay_network(netns: Any) -> Iterator[RelayNetwork]:
    """``netns`` first: it checks root and the tools (and fails in CI when they are missing)."""
    if shutil.which("turnserver") is None or shutil.which("ss") is None:
        _unavailable("coturn's turnserver and ss (run `make system-packages`)")
    network = RelayNetwork(f"veo-turn-{os.getpid()}")
    network.create()
    yield network
    network.delete()


def _rest_password(secret: str, username: str) -> str:
    """What coturn computes from the shared secret for a REST username."""
    return base64.b64encode(hmac.new(secret.encode(), username.encode(), hashlib.sha1).digest()).decode()


def _possible_credentials(secret: str, session_id: str, first: float, last: float) -> dict[str, str]:
    """username -> password of every credential the server can have made for this session
    between ``first`` and ``last`` (expiry = issue time + 600 s, one per second and peer)."""
    found = {}
    for expiry in range(int(first) + 600 - 1, int(last) + 600 + 2):
        for peer in ("agent", "browser"):
            username = f"{expiry}:{session_id}.{peer}"
            found[username] = _rest_password(secret, username)
    return found


def test_session_crosses_coturn_only(
    relay_network: RelayNetwork,
    browser: Browser,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    relay_dir: Path,
    logs: Logs,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    network, workdir = relay_network, relay_dir
    secret = secrets.token_hex(32)
    started = time.time()
    console_username: list[str] = []
    coturn, turn_cert = start_coturn(network, secret, workdir, logs)

    urls = [
        f"turns:{RELAY_ADDRESS}:{TURNS_PORT}?transport=tcp",  # listed out of order on purpose:
        f"turn:{RELAY_ADDRESS}:{TURN_PORT}?transport=tcp",  # the server orders them per peer
        f"turn:{RELAY_ADDRESS}:{TURN_PORT}",
        f"stun:{RELAY_ADDRESS}:{TURN_PORT}",
    ]
    server = VeoServer(
        network.relay,
        workdir,
        host="0.0.0.0",
        settings={
            "VEO_TURN_URLS": json.dumps(urls),
            "VEO_TURN_SECRET": secret,
            "VEO_ICE_TRANSPORT_POLICY": "relay",
        },
    )
    helpers: list[LoggedProcess] = []  # the forwarders and the probe's listener: stopped at the end
    try:
        server.start()
        assert server.process is not None
        logs.add(server.process)
        for side in (network.agent, network.console):
            helpers.append(forward(side, SERVER_PORT, RELAY_ADDRESS, workdir, logs))

        # No path between the two sides: the relay's side reaches a listener on the console's
        # side, the agent's side does not (and reaches coturn and the server, so it is no
        # broken probe).
        helpers.append(listener(network.console, CONSOLE_LINK[1], PROBE_PORT, workdir, logs))
        assert connect_result(network.relay, CONSOLE_LINK[1], PROBE_PORT) == "ok"
        blocked = connect_result(network.agent, CONSOLE_LINK[1], PROBE_PORT)
        assert blocked != "ok" and "Network is unreachable" in blocked, blocked
        assert connect_result(network.agent, RELAY_ADDRESS, TURN_PORT) == "ok"
        assert connect_result(network.console, RELAY_ADDRESS, TURN_PORT) == "ok"

        # The console: its own Chromium inside the console's namespace.
        wrapper_dir = workdir / "chromium"
        wrapper_dir.mkdir(exist_ok=True)
        console_browser = browser.browser_type.launch(
            executable_path=str(chromium_wrapper(network.console, wrapper_dir)),
            headless=True,
            args=CHROMIUM_ARGS,
        )
        try:
            context = console_browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
            context.add_init_script(CHANNEL_SPY)
            context.add_init_script(PEER_SPY)
            console = Console(context.new_page(), server.url, logs)
            console.login()
            # the agent trusts coturn's test certificate for turns: (aioice verifies it)
            monkeypatch.setenv("SSL_CERT_FILE", str(turn_cert))
            live = start_session(
                netns=network.agent,
                server=server,
                display=xvfb,
                app=demo_app,
                console=console,
                workdir=workdir,
                logs=logs,
                control=True,
                request=("files",),
            )
            try:
                _session_works_over_the_relay(live, console, secret, network, workdir, logs, console_username)
            finally:
                live.agent.stop()
        finally:
            console_browser.close()
    finally:
        for helper in helpers:
            helper.stop()
        server.stop()
        coturn.stop()

    # Credentials and the secret are in no log, the access log included.
    passwords = _possible_credentials(secret, live.session_id, started, time.time())
    assert console_username[0] in passwords, "the candidates include the credential really issued"
    texts = {path.name: path.read_text(errors="replace") for path in workdir.glob("*.log")}
    assert {"server.log", "agent.log", "agent-output.log", "coturn-turn.log"} <= texts.keys()
    assert "GET /sessions/" in texts["server.log"], "the access log is on (else this proves less)"
    for name, text in texts.items():
        assert secret not in text, f"the TURN secret is in {name}"
        assert TECH_PASSWORD not in text, f"the technician's password is in {name}"
        for username, password in passwords.items():
            assert password not in text, f"the TURN password of {username} is in {name}"


def _allowed_at(live: LiveSession) -> float:
    """When the user pressed *Allow*: the agent's ``session started`` line (local time, ms)."""
    line = next(line for line in live.agent.log.lines() if "session started granted=" in line)
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def _session_works_over_the_relay(
    live: LiveSession,
    console: Console,
    secret: str,
    network: RelayNetwork,
    workdir: Path,
    logs: Logs,
    issued: list[str],
) -> None:
    """The promises of a session, checked over the relay; ``issued`` gets the console's username."""
    block = live.app.widget("block")
    live.console.wait_video_colour(*block.center, BLOCK_RGB, COLOUR_TOLERANCE)
    first_frame = time.time() - _allowed_at(live)

    pair = wait_for(
        "the console's selected candidate pair (getStats)",
        lambda: console.page.evaluate(SELECTED_PAIR),
        30,
        logs,
        console.diagnostics,
    )
    # the console applied the operator's policy and got every URL, UDP first, TLS last
    assert pair["policy"] == "relay", pair
    assert pair["urls"] == [
        f"stun:{RELAY_ADDRESS}:{TURN_PORT}",
        f"turn:{RELAY_ADDRESS}:{TURN_PORT}",
        f"turn:{RELAY_ADDRESS}:{TURN_PORT}?transport=tcp",
        f"turns:{RELAY_ADDRESS}:{TURNS_PORT}?transport=tcp",
    ], pair
    # the media crosses coturn on both ends: relay to relay
    assert (pair["local"], pair["remote"]) == ("relay", "relay"), pair
    assert pair["localAddress"] == pair["remoteAddress"] == RELAY_ADDRESS, pair
    # the agent offered relay candidates only (RTCIceTransportPolicy.RELAY)
    assert pair["remoteCandidates"], pair
    assert all(" typ relay" in line for line in pair["remoteCandidates"]), pair["remoteCandidates"]
    # the console's credentials are its own, REST-shaped, and expire within ten minutes
    (mine,) = pair["credentials"]
    expiry, _, who = mine["username"].partition(":")
    assert who == f"{live.session_id}.browser", mine["username"]
    assert 0 < int(expiry) - time.time() <= 600, mine["username"]
    assert mine["credential"] == _rest_password(secret, mine["username"])
    issued.append(mine["username"])

    # the agent's relay runs over TLS: the one TURN URL it was given is turns: on 443, and coturn
    # holds a TCP connection on 443 from the agent's side (Chromium may try turns: too: not asserted)
    assert AGENT_LINK[1] in tcp_peers(network.relay, TURNS_PORT)

    # input: a click on the video lands in the demo application
    live.console.wait_control_state("active")
    button = live.app.widget("button")
    live.console.click_screen(*button.center)
    state = live.app.wait_state("the console's click to press the button", lambda s: s.clicks == 1)
    assert state.label == "Pressed 1"

    # chat: the technician's line reaches the agent's chat window
    page = console.page
    page.wait_for_selector("#chat-input:not([disabled])", timeout=30_000)
    page.fill("#chat-input", "Hola por el relé")
    page.click("#chat-send")
    mine_line = page.wait_for_selector("#chat-log li[data-from=me]", timeout=10_000)
    assert mine_line is not None
    live.wait_agent_log(f"chat received id={mine_line.get_attribute('data-id')} chars=16")

    # a file, console -> user, arrives whole
    source = workdir / "relay-file.bin"
    digest = random_file(source, FILE_BYTES)
    console_offer(live, source)
    accept_on_agent(live)
    saved = downloads(live) / source.name
    wait_for(
        "the file in the user's Downloads with the same SHA-256",
        lambda: saved.exists() and saved.stat().st_size == FILE_BYTES and sha256_of(saved) == digest,
        60,
        logs,
    )

    after = console.page.evaluate(SELECTED_PAIR)
    assert after is not None and (after["local"], after["remote"]) == ("relay", "relay"), after
    print(
        f"\nTURN relay: first frame {first_frame:.2f} s after Allow; console received "
        f"{after['bytesReceived'] / 1e6:.2f} MB and sent {after['bytesSent'] / 1e6:.2f} MB over "
        f"relay/relay (console {pair['localRelayProtocol']} to coturn, agent over turns:)"
    )
