"""The harness on its own: namespace, display, demo application, real mouse, Chromium inside.

These pin down the pieces the session tests stand on, so a failure there points at the harness
(or the machine) rather than at veo.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser

from .console import Console
from .demo import DemoApp
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]
PEER = Path(__file__).with_name("webrtc_peer.py")


def test_real_click_on_the_display_presses_the_demo_button(xvfb: XvfbDisplay, demo_app: DemoApp) -> None:
    assert demo_app.initial.label == "Press me"
    assert demo_app.initial.clicks == 0

    xvfb.click_rect(demo_app.widget("button"))

    state = demo_app.wait_state("the button to count one press", lambda s: s.clicks == 1)
    assert state.label == "Pressed 1"


def test_real_keyboard_types_into_the_demo_field(xvfb: XvfbDisplay, demo_app: DemoApp) -> None:
    xvfb.click_rect(demo_app.widget("entry"))
    xvfb.xdotool("type", "--delay", "20", "hola 42")

    state = demo_app.wait_state("the field to hold the typed text", lambda s: s.text == "hola 42")
    assert state.clicks == 0


def test_chromium_in_the_namespace_loads_a_page_served_in_the_namespace(
    netns: NetworkNamespace, browser: Browser, workdir: Path, logs: Logs
) -> None:
    (workdir / "index.html").write_text("<title>inside</title><p id=where>10.99.0.1</p>")
    server = logs.add(
        LoggedProcess(
            "http.server",
            netns.command(
                [sys.executable, "-m", "http.server", "8099", "--bind", "10.99.0.1", "-d", str(workdir)]
            ),
            workdir / "http.log",
        )
    )
    try:
        wait_for(
            "the page server inside the namespace",
            lambda: _answers(netns, "http://10.99.0.1:8099/index.html"),
            timeout=20,
            logs=logs,
        )
        page = browser.new_page()
        try:
            page.goto("http://10.99.0.1:8099/index.html")
            assert page.title() == "inside"
            assert page.text_content("#where") == "10.99.0.1"
        finally:
            page.close()
    finally:
        server.stop()
    # nothing can leave the namespace: it has no default route, only its own two subnets
    routes = subprocess.run(
        ["ip", "-n", netns.name, "route", "show"], capture_output=True, text=True, check=True
    ).stdout
    assert "default" not in routes, routes


def _answers(netns: NetworkNamespace, url: str) -> bool:
    try:
        return netns.http("GET", url).status_code == 200
    except httpx.HTTPError:
        return False


ANSWER_JS = """
async (offer) => {
  const pc = new RTCPeerConnection({iceServers: []});
  window.__pc = pc;
  pc.ontrack = (event) => {
    const video = document.createElement("video");
    video.id = "remote-video"; video.muted = true; video.autoplay = true; video.playsInline = true;
    video.srcObject = event.streams[0] || new MediaStream([event.track]);
    document.body.appendChild(video);
  };
  await pc.setRemoteDescription({type: "offer", sdp: offer});
  await pc.setLocalDescription(await pc.createAnswer());
  await new Promise((resolve) => {
    if (pc.iceGatheringState === "complete") return resolve();
    pc.addEventListener("icegatheringstatechange", () => pc.iceGatheringState === "complete" && resolve());
  });
  return pc.localDescription.sdp;
}
"""


def test_aiortc_peer_in_the_namespace_streams_to_chromium(
    netns: NetworkNamespace, browser: Browser, workdir: Path, logs: Logs
) -> None:
    colour = (40, 200, 80)
    stderr = (workdir / "peer.log").open("wb")
    peer = subprocess.Popen(
        netns.command([sys.executable, str(PEER), *(str(c) for c in colour)]),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=stderr,
        start_new_session=True,
    )
    logs.add(LoggedProcess.adopt("aiortc peer", peer, workdir / "peer.log"))
    page = browser.new_page()
    try:
        assert peer.stdout is not None and peer.stdin is not None
        ready, _, _ = select.select([peer.stdout], [], [], 60)
        assert ready, f"the aiortc peer printed no offer\n{logs.report()}"
        offer = json.loads(peer.stdout.readline())["offer"]
        page.goto("about:blank")
        answer = page.evaluate(ANSWER_JS, offer)
        peer.stdin.write((json.dumps({"answer": answer}) + "\n").encode())
        peer.stdin.flush()

        page.wait_for_selector("#remote-video", state="attached", timeout=60_000)
        console = Console(page, "", logs)
        console.wait_video_colour(160, 120, colour, tolerance=40)
    finally:
        page.close()
        if peer.stdin is not None:
            peer.stdin.close()
        logs.processes[-1].stop()
        stderr.close()
