"""Browser share (no install) end to end, then the upgrade to the agent in the same session.

The user is a second Chromium, headful on the test Xvfb display, that shares "Entire screen"
(field notes: ``--auto-select-desktop-capture-source``), so what the technician must see is the
demo application's colour block, a real picture of the display. The technician is the usual
headless console. Then the user presses *Install the veo app*, the real ``veo agent`` joins with
the continuation code, its consent dialog is clicked with the real mouse, and the session goes on
with the same id and ticket, in agent mode, with video from the agent.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from .browser import CHROMIUM_ARGS, chromium_wrapper
from .console import Console
from .demo import DemoApp
from .demo_app import BLOCK_RGB
from .flow import LiveSession, consent_layout, request_session
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .stack import VeoAgent, VeoServer
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COLOUR_TOLERANCE = 45
#: The user's browser window stays on the right half of the display, clear of the demo app.
USER_WINDOW = ["--window-position=680,0", "--window-size=600,720"]
#: The console's data channel to the user, spied on (console.CHANNEL_SPY): what the user sends.
_RECEIVED_SPY = """
() => {
  window.__e2eReceived = window.__e2eReceived || [];
  for (const ch of window.__e2eChannels || []) {
    if (ch.__e2eSpied) continue;
    ch.__e2eSpied = true;
    ch.addEventListener("message", (e) => {
      if (typeof e.data === "string") window.__e2eReceived.push(e.data);
    });
  }
  return (window.__e2eChannels || []).length;
}
"""

#: How many pixels of the page's overlay canvas are the annotation red (#ff0040).
_OVERLAY_RED = """
() => {
  const c = document.querySelector("#share-overlay");
  if (!c.width || !c.height) return 0;
  const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
  let n = 0;
  for (let i = 0; i < d.length; i += 4) if (d[i] > 200 && d[i + 1] < 80 && d[i + 3] > 100) n += 1;
  return n;
}
"""


@pytest.fixture
def user_page(
    browser: Browser, netns: NetworkNamespace, xvfb: XvfbDisplay, e2e_dir: Path, veo_server: VeoServer
) -> Iterator[Page]:
    """The person being helped: a headful Chromium on the test display that may capture it."""
    wrapper = chromium_wrapper(netns, e2e_dir)
    args = [*CHROMIUM_ARGS, "--auto-select-desktop-capture-source=Entire screen", *USER_WINDOW]
    env: dict[str, str | float | bool] = dict(xvfb.env())
    user_browser = browser.browser_type.launch(
        executable_path=str(wrapper), headless=False, args=args, env=env
    )
    context = user_browser.new_context(no_viewport=True, locale="en-US")
    # Chromium offers host ICE candidates only to pages with a camera/microphone permission, and the
    # test namespace has no default route to fall back on: with none on either side (the console has
    # none either) nothing connects. Real users have a route and the server's STUN/TURN.
    context.grant_permissions(["camera", "microphone"], origin=veo_server.url)
    page = context.new_page()
    yield page
    context.close()
    user_browser.close()


def _corner(step: int) -> tuple[str, str]:
    """The pointer in the display's top-left corner, one pixel further each time (it is in the capture)."""
    return str(4 + step % 8), "4"


def _screen_point(console: Console, x: int, y: int) -> tuple[int, int]:
    """A display point in the coordinates of the screen the console was told (a capture may be scaled)."""
    screen = console.page.evaluate("() => window.veoConsole.screen")
    assert screen, console.diagnostics()
    return round(x * screen["width"] / 1280), round(y * screen["height"] / 720)


def _digits(text: str | None) -> str:
    return "".join(c for c in text or "" if c.isdigit())


def _share_state(page: Page) -> str | None:
    return page.get_attribute("#share", "data-state")


def test_browser_share_view_chat_and_upgrade_to_the_agent_in_the_same_session(
    user_page: Page,
    console: Console,
    veo_server: VeoServer,
    netns: NetworkNamespace,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    workdir: Path,
    logs: Logs,
) -> None:
    ticket_id, session_id, code = request_session(console, "Cannot install anything here")
    block = demo_app.widget("block")

    # --- the user shares from the join page: consent with the same facts as the agent, then the SAS
    user_page.goto(f"{veo_server.url}/join?code={code}")
    user_page.click("#share-start")
    wait_for("the consent step", lambda: _share_state(user_page) == "consent", 30, logs)
    who = user_page.text_content("#share-who") or ""
    assert "Ana Técnica" in who, who
    assert f"#{ticket_id}" in (user_page.text_content("#share-ticket") or "")
    assert "Only continue if you asked" in (user_page.text_content("#share-consent") or "")
    wait_for(
        "the page to show the SAS",
        lambda: len(user_page.get_attribute("#share-sas", "data-code") or "") == 6,
        60,
        logs,
        console.diagnostics,
    )
    wait_for("#sas-code in the console", lambda: len(console.sas()) == 6, 60, logs, console.diagnostics)
    assert console.sas() == user_page.get_attribute("#share-sas", "data-code")

    user_page.click("#share-allow")
    wait_for("the page to share", lambda: _share_state(user_page) == "sharing", 30, logs)
    assert (user_page.text_content("#share-label") or "").startswith("You are sharing:")
    console.wait_conn_state("active")

    # --- the technician sees the display (the demo app's block), and that control is unavailable
    wait_for("the screen size", lambda: console.page.evaluate("() => window.veoConsole.screen"), 30, logs)
    bx, by = _screen_point(console, *block.center)
    wiggle = iter(range(1_000_000))
    console.wait_video_colour(
        bx, by, BLOCK_RGB, COLOUR_TOLERANCE, nudge=lambda: xvfb.xdotool("mousemove", *_corner(next(wiggle)))
    )
    assert console.control_state() == "off"
    console.open_tool("session")
    why = console.page.locator("#control-why")
    wait_for("#control-why to say why", lambda: why.is_visible(), 30, logs, console.diagnostics)
    assert "Control is not available" in (why.text_content() or "")
    assert why.get_attribute("data-mode") == "browser"
    assert console.page.evaluate("() => window.veoConsole.mode") == "browser"

    # --- chat both ways: the console's chat panel and the page's
    console.open_tool("chat")
    console.page.fill("#chat-input", "Hola, ¿me ve?")
    console.page.click("#chat-send")
    wait_for(
        "the technician's line on the user's page",
        lambda: "Hola, ¿me ve?" in (user_page.text_content("#chat-log") or ""),
        30,
        logs,
    )
    user_page.fill("#chat-input", "Sí, le veo")
    user_page.click("#chat-send")
    wait_for(
        "the user's line in the console",
        lambda: "Sí, le veo" in (console.page.text_content("#chat-log") or ""),
        30,
        logs,
        console.diagnostics,
    )

    # --- the technician's drawing and pointer show on the user's preview of what they share
    console.inject_raw(
        {
            "type": "annotate",
            "id": "s1",
            "tool": "rect",
            "points": [[40, 40], [400, 300]],
            "width": 8,
            "done": True,
        }
    )
    console.inject_raw({"type": "tech_pointer", "x": 600, "y": 400})
    wait_for(
        "the stroke on the page's preview",
        lambda: user_page.evaluate(_OVERLAY_RED) > 50,
        30,
        logs,
        lambda: f"red pixels={user_page.evaluate(_OVERLAY_RED)}",
    )

    # --- input from a rogue console is refused by the page (there is nothing to control)
    console.page.evaluate(_RECEIVED_SPY)
    console.inject_raw({"type": "pointer_move", "x": 10, "y": 10})
    wait_for(
        "the page to refuse input",
        lambda: any(
            "control_not_granted" in raw for raw in console.page.evaluate("() => window.__e2eReceived || []")
        ),
        30,
        logs,
    )

    # --- the upgrade: a continuation code for THIS session, the real agent, its own consent dialog
    user_page.click("#share-upgrade")
    wait_for(
        "the continuation code",
        lambda: len(_digits(user_page.text_content("#share-upgrade-code"))) == 9,
        30,
        logs,
    )
    continuation = _digits(user_page.text_content("#share-upgrade-code"))
    command = user_page.text_content("#share-upgrade-command") or ""
    assert command == f"veo agent --server {veo_server.url} --code {continuation}"
    assert continuation != code

    agent = VeoAgent(netns, xvfb, veo_server, continuation, workdir)
    logs.add(agent.process)
    live = LiveSession(session_id, ticket_id, console, agent, xvfb, demo_app, logs)
    try:
        live.agent_window("consent")
        wait_for("the agent to show the SAS (`sas=`)", agent.log.sas, 60, logs)
        consent = consent_layout(agent, logs)
        live.wait_agent_log("consent allow enabled", timeout=30)
        xvfb.click_rect(consent["allow"])
        live.wait_agent_log("session started granted=", timeout=30)

        wait_for("the page to say the app took over", lambda: _share_state(user_page) == "upgraded", 30, logs)
        console.wait_conn_state("active")
        new_sas = agent.log.sas
        wait_for(
            "the agent's SAS in the console",
            lambda: console.sas() == new_sas(),
            60,
            logs,
            console.diagnostics,
        )
        console.confirm_codes_match()
        live.wait_agent_log("technician confirmed sas=True")
        wait_for(
            "the console to leave browser mode",
            lambda: console.page.evaluate("() => window.veoConsole.mode") == "agent",
            30,
            logs,
        )
        # video from the agent now: the display at full size, the block where the app is
        console.wait_video_colour(*block.center, BLOCK_RGB, COLOUR_TOLERANCE)

        token = veo_server.token()
        data = veo_server.api("GET", f"/api/v1/sessions/{session_id}", token).json()
        assert data["id"] == session_id and data["ticket_id"] == ticket_id, data
        assert data["mode"] == "agent" and data["upgraded_at"], data
        assert data["status"] == "active", data
        assert "view" in data["granted"], data
    finally:
        agent.stop()


def test_stop_on_the_page_ends_the_session_for_the_technician(
    user_page: Page, console: Console, veo_server: VeoServer, demo_app: DemoApp, logs: Logs
) -> None:
    ticket_id, session_id, code = request_session(console, "Only a browser here")
    user_page.goto(f"{veo_server.url}/join")
    user_page.fill("#share-code", code[:3] + " " + code[3:6] + " " + code[6:])
    user_page.click("#share-start")
    wait_for(
        "the page to show the SAS",
        lambda: len(user_page.get_attribute("#share-sas", "data-code") or "") == 6,
        60,
        logs,
    )
    user_page.click("#share-allow")
    wait_for("the page to share", lambda: _share_state(user_page) == "sharing", 30, logs)
    console.wait_conn_state("active")

    user_page.click("#share-stop")
    wait_for("the page to stop", lambda: _share_state(user_page) == "ended", 30, logs)
    assert user_page.evaluate("() => document.querySelector('#share-preview').srcObject") is None
    console.wait_conn_state("ended")
    data = veo_server.api("GET", f"/api/v1/sessions/{session_id}", veo_server.token()).json()
    assert data["status"] == "ended" and data["ended_by"] == "user" and data["end_reason"] == "user_stopped"
    assert data["mode"] == "browser" and data["granted"] == ["view"] and data["ticket_id"] == ticket_id
