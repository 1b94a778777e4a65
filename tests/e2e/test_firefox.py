"""The technician's console in Firefox (Debian's firefox-esr, offline: no OpenH264).

The real agent on Xvfb, ``veo server`` and the console in headless firefox-esr, all in the test
namespace, Firefox driven over WebDriver BiDi (``firefox.py``). Firefox here has no H.264, so the
agent's default offer (H.264, then VP8) is answered with VP8. The promises checked:

* the video shows the user's display, both sides show the same code, a click and typing from
  the console reach the user's application;
* the video element never offers Firefox's Picture-in-Picture pop-out: it carries
  ``disablepictureinpicture``, and a click at its right edge two thirds down (where Firefox draws
  the pop-out button) lands on the user's application. Firefox here never drew that button, not
  even with the attribute removed (headless, and headful on Xvfb with the pointer moved by
  xdotool: tried), so it is the attribute check that fails if the markup loses it; the click
  shows that this spot takes input like the rest of the picture;
* ``veo agent --codec h264`` (H.264 only) with this browser ends at once with a sentence in the
  console that names the codec, the agent ends with ``codec_unsupported_h264`` (not
  ``negotiation_failed``) and the server records it.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from .demo import DemoApp
from .demo_app import APP_BACKGROUND_RGB, BLOCK_RGB
from .firefox import FIREFOX, Firefox, default_route
from .firefox_console import FirefoxConsole
from .flow import request_session, start_session
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .stack import VeoAgent, VeoServer
from .xdisplay import HEIGHT, WIDTH, XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COLOUR_TOLERANCE = 40
#: Where Firefox draws its "Pop out this video" button: at the video's right edge, about two
#: thirds down. A second demo window is put there, so a click on that spot has a target.
PIP_SPOT = (1.0, 2 / 3)
PIP_INSET = 24  # CSS px in from the right edge, inside the area the button would cover
PIP_WINDOW = ("260x140+1020+420", (40, 160, 230))
#: keeps the page's peer connections, to read which codec the video arrives in
PC_SPY = """
  const Native = window.RTCPeerConnection;
  if (Native && !window.__e2ePcs) {
    window.__e2ePcs = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) { super(...args); window.__e2ePcs.push(this); }
    };
  }
"""
_RECEIVED_CODEC = """async () => {
  for (const pc of window.__e2ePcs || []) {
    const stats = [...(await pc.getStats()).values()];
    const inbound = stats.find((s) => s.type === "inbound-rtp" && s.kind === "video");
    const codec = inbound && stats.find((s) => s.id === inbound.codecId);
    if (codec) return codec.mimeType;
  }
  return null;
}"""


@pytest.fixture(scope="module")
def firefox(netns: NetworkNamespace, e2e_dir: Path) -> Iterator[Firefox]:
    if shutil.which(FIREFOX) is None:  # as conftest does for the other tools: CI must run it
        missing = "the Firefox tests need Debian's firefox-esr (run `make system-packages`)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(missing, pytrace=False)
        pytest.skip(missing)
    workdir = e2e_dir / "firefox"
    workdir.mkdir(exist_ok=True)
    with default_route(netns):
        browser = Firefox(netns, workdir, Logs())
        browser.add_preload(PC_SPY)
        yield browser
        browser.close()


@pytest.fixture
def ff_console(firefox: Firefox, veo_server: VeoServer, logs: Logs) -> FirefoxConsole:
    assert veo_server.process is not None
    logs.add(veo_server.process)
    logs.add(firefox.process)
    console = FirefoxConsole(firefox, veo_server.url, logs)
    if "/login" in firefox.url() or firefox.url() == "about:blank":
        console.login()
    return console


def test_firefox_console_video_code_click_typing_and_no_pip(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    ff_console: FirefoxConsole,
    workdir: Path,
    logs: Logs,
) -> None:
    pip_target = DemoApp(netns, xvfb, workdir, logs, name="pip-target", placement=PIP_WINDOW)
    try:
        live = start_session(
            netns=netns, server=veo_server, display=xvfb, app=demo_app, console=ff_console,  # type: ignore[arg-type]
            workdir=workdir, logs=logs, control=True,
        )  # fmt: skip
        try:
            console = ff_console
            # the video shows the display: the block, the app's background beside it, the bare root
            block = demo_app.widget("block")
            console.wait_video_colour(*block.center, BLOCK_RGB, COLOUR_TOLERANCE)
            console.wait_video_colour(block.x - 30, block.center[1], APP_BACKGROUND_RGB, COLOUR_TOLERANCE)
            console.wait_video_colour(WIDTH - 40, 60, (0, 0, 0), COLOUR_TOLERANCE)
            # over VP8: this Firefox has no OpenH264
            assert console.ff.call(_RECEIVED_CODEC) == "video/VP8"

            # the same code on both sides
            agent_sas = live.agent.log.sas()
            assert agent_sas is not None and console.sas() == agent_sas

            # a click and typing reach the user's application
            console.wait_control_state("active")
            button, entry = demo_app.widget("button"), demo_app.widget("entry")
            console.click_screen(*button.center)
            state = demo_app.wait_state("the console's click to press the button", lambda s: s.clicks == 1)
            assert state.label == "Pressed 1"
            console.click_screen(*entry.center)
            console.type_text("veo 42")
            demo_app.wait_state("the console's typing to fill the field", lambda s: s.text == "veo 42")

            # no Picture-in-Picture: the attribute is there, and a click on the spot lands remotely
            assert console.ff.call(
                "() => document.querySelector('#remote-video').hasAttribute('disablepictureinpicture')"
            )
            spot = _pip_spot(console)
            target = pip_target.widget("button")
            assert (
                target.x <= spot[0] < target.x + target.width
                and target.y <= spot[1] < target.y + target.height
            ), f"the pop-out spot maps to screen {spot}, not onto the target button {target}: fix PIP_WINDOW"
            # the technician sees that window there (its grey above the button; the root is black)
            console.wait_video_colour(
                target.x + target.width // 2, target.y - 8, APP_BACKGROUND_RGB, COLOUR_TOLERANCE
            )
            console.ff.click(*_pip_page_point(console))
            state = pip_target.wait_state(
                "a click on the pop-out spot to press the button", lambda s: s.clicks == 1
            )
            assert state.label == "Pressed 1"
            console.ff.screenshot(workdir / "firefox-console.png")
        finally:
            live.agent.stop()
    finally:
        pip_target.stop()


def _pip_page_point(console: FirefoxConsole) -> tuple[float, float]:
    """The page point at the video's right edge, two thirds down (inside the shown picture)."""
    box = console.ff.call(
        """() => { const v = document.querySelector('#remote-video');
                   const b = v.getBoundingClientRect();
                   const s = Math.min(b.width / v.videoWidth, b.height / v.videoHeight);
                   const w = v.videoWidth * s, h = v.videoHeight * s;
                   return {left: b.left + (b.width - w) / 2, top: b.top + (b.height - h) / 2, w, h}; }"""
    )
    return box["left"] + box["w"] * PIP_SPOT[0] - PIP_INSET, box["top"] + box["h"] * PIP_SPOT[1]


def _pip_spot(console: FirefoxConsole) -> tuple[int, int]:
    """The remote-screen point that the pop-out spot shows."""
    px, py = _pip_page_point(console)
    origin = console.geometry(0, 0)
    far = console.geometry(WIDTH, HEIGHT)
    assert origin is not None and far is not None
    sx = (px - origin["px"]) * WIDTH / (far["px"] - origin["px"])
    sy = (py - origin["py"]) * HEIGHT / (far["py"] - origin["py"])
    return int(sx), int(sy)


def test_forced_h264_ends_with_a_sentence_naming_the_codec(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    ff_console: FirefoxConsole,
    workdir: Path,
    logs: Logs,
) -> None:
    _ticket_id, session_id, code = request_session(ff_console, "Video in Firefox")  # type: ignore[arg-type]
    agent = VeoAgent(netns, xvfb, veo_server, code, workdir, extra_args=("--codec", "h264"))
    logs.add(agent.process)
    try:
        ff_console.wait_conn_state("ended")
        sentence = wait_for(
            "#end-reason to say why",
            lambda: ff_console.text("#end-reason") if "H.264" in ff_console.text("#end-reason") else None,
            30,
            logs,
            ff_console.diagnostics,
        )
        assert "cannot play H.264 video" in sentence and "--codec" in sentence, sentence
        ff_console.ff.screenshot(workdir / "firefox-codec-ended.png")

        ended = wait_for("the agent to log its end", agent.log.ended, 30, logs)
        assert ended == ("system", "codec_unsupported_h264")
        assert not agent.log.contains("negotiation_failed")
        assert not agent.log.contains("ICE username fragment")
        # the user is told too: the agent's end notice opens (its wording: agent/endings.py)
        wait_for("the agent's end notice", lambda: agent.log.geometry("ended"), 30, logs)
        xvfb.screenshot(workdir / "agent-codec-ended.png")

        response = veo_server.api("GET", f"/api/v1/sessions/{session_id}", token=veo_server.token())
        assert response.status_code == 200, response.text
        assert (response.json()["status"], response.json().get("end_reason")) == (
            "ended",
            "codec_unsupported_h264",
        )
    finally:
        agent.stop()
