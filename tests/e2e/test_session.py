"""A whole support session with the real parts: server, agent on Xvfb, console in Chromium.

Each test follows one promise of the product (issue: end-to-end session) and fails if it breaks:
the technician sees the user's screen; input reaches the user's application only when and while
the user allows it; both sides show the same SAS and a forged reveal ends the session; *Stop*
on the user's side ends it everywhere and the ticket records it; *Deny* ends the request before
a single frame; *End session* in the console ends the agent and takes the resolution note.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from veo.server.web import wording

from .console import Console
from .demo import DemoApp
from .demo_app import APP_BACKGROUND_RGB, BLOCK_RGB
from .flow import LiveSession, request_session, settled_layout
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .stack import VeoAgent, VeoServer
from .xdisplay import HEIGHT, WIDTH, Rect, XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

StartSession = Callable[..., LiveSession]
#: H.264/VP8 in 4:2:0 blur colours a little; a flat 240x150 block keeps its centre close
COLOUR_TOLERANCE = 40
STANDIN = Path(__file__).with_name("standin_agent.py")
VIDEO_WIDTH = "() => document.querySelector('#remote-video').videoWidth"


def _press(x: int, y: int, down: bool) -> dict[str, Any]:
    return {"type": "pointer_button", "x": x, "y": y, "button": "left", "down": down}


def _assert_clear_of_bar(live: LiveSession, *targets: Rect) -> None:
    """The session bar is always on top: a target under it would be a broken test, not veo."""
    bar = live.agent_window("bar")
    for name, rect in bar.items():
        for target in targets:
            assert not rect.overlaps(target), f"agent bar {name} {rect} covers the demo app {target}"


def _leave_like_the_user(agent: VeoAgent, display: XvfbDisplay, logs: Logs, *, asked_to_rate: bool) -> None:
    """The user reads the end notice and presses *OK*, then *Skip* on the rating question when it
    comes (only after a session that really ran): the agent quits at once, as the user asked,
    rather than after the notice's own close timer and the question's idle time (about 36 s; those
    timers are held by tests/integration/test_rating_window.py)."""
    ended = wait_for("the end notice (`ui-geometry ended`)", lambda: agent.log.geometry("ended"), 30, logs)
    display.click_rect(ended["ok"])
    if asked_to_rate:
        rating = wait_for(
            "the rating question (`ui-geometry rating`)", lambda: agent.log.geometry("rating"), 30, logs
        )
        display.click_rect(rating["skip"])
        wait_for("the agent to log `rating skipped`", lambda: agent.log.contains("rating skipped"), 30, logs)


def test_console_video_shows_the_display_and_both_sides_show_the_same_sas(start: StartSession) -> None:
    live = start(control=True)
    block_x, block_y = live.app.widget("block").center

    block = live.app.widget("block")
    live.console.wait_video_colour(block_x, block_y, BLOCK_RGB, COLOUR_TOLERANCE)
    # at the right place: just left of the block the application's grey background shows
    live.console.wait_video_colour(block.x - 30, block_y, APP_BACKGROUND_RGB, COLOUR_TOLERANCE)
    # and it is a picture of the display, not a flat frame: the bare root window is black there
    live.console.wait_video_colour(WIDTH - 40, HEIGHT - 40, (0, 0, 0), COLOUR_TOLERANCE)

    agent_sas = live.agent.log.sas()
    assert agent_sas is not None and len(agent_sas) == 6
    wait_for("#sas-code to show the SAS", lambda: len(live.console.sas()) == 6, 30, live.logs)
    assert live.console.sas() == agent_sas


def test_console_click_and_typing_reach_the_application(start: StartSession) -> None:
    live = start(control=True)
    button, entry = live.app.widget("button"), live.app.widget("entry")
    _assert_clear_of_bar(live, button, entry)
    live.console.wait_control_state("active")

    live.console.click_screen(*button.center)
    state = live.app.wait_state("the console's click to press the button", lambda s: s.clicks == 1)
    assert state.label == "Pressed 1"

    live.console.click_screen(*entry.center)
    live.console.type_text("veo 42")
    state = live.app.wait_state("the console's typing to fill the field", lambda s: s.text == "veo 42")
    assert state.clicks == 1


def test_control_left_unticked_is_refused_by_the_agent(start: StartSession) -> None:
    live = start(control=False)
    button = live.app.widget("button")
    assert live.agent.log.granted() == ["view"]
    wait_for(
        "the console to list only `view` as granted",
        lambda: live.console.page.evaluate("() => window.veoConsole.granted") == ["view"],
        30,
        live.logs,
        live.console.diagnostics,
    )
    assert live.console.control_state() == "off"

    live.console.click_screen(*button.center)  # the console must not even send this
    x, y = button.center
    live.console.inject_raw(_press(x, y, down=True))  # a rogue console sends it anyway
    live.console.inject_raw(_press(x, y, down=False))

    wait_for(
        "the agent to drop the forged click (control_not_granted)",
        lambda: live.agent.log.dropped().count(("pointer_button", "control_not_granted")) >= 2,
        30,
        live.logs,
    )
    # the data channel is ordered: every earlier message was handled before these drops
    state = live.app.state()
    assert state is not None and state.clicks == 0 and state.label == "Press me"


def test_pause_control_on_the_bar_blocks_input_until_resumed(start: StartSession) -> None:
    live = start(control=True)
    button = live.app.widget("button")
    _assert_clear_of_bar(live, button)
    x, y = button.center

    live.display.click_rect(live.agent_window("bar")["pause"])
    live.wait_agent_log("control paused")
    live.console.wait_control_state("paused")

    live.console.click_screen(x, y)
    live.console.inject_raw(_press(x, y, down=True))
    live.console.inject_raw(_press(x, y, down=False))
    wait_for(
        "the agent to drop the click while paused (control_paused)",
        lambda: live.agent.log.dropped().count(("pointer_button", "control_paused")) >= 2,
        30,
        live.logs,
    )
    state = live.app.state()
    assert state is not None and state.clicks == 0

    resume = settled_layout(live.agent, "bar", after="control paused")["pause"]  # *Resume control*
    live.display.click_rect(resume)
    live.wait_agent_log("control resumed")
    live.console.wait_control_state("active")

    live.console.click_screen(x, y)
    state = live.app.wait_state("a click after Resume to press the button", lambda s: s.clicks == 1)
    assert state.label == "Pressed 1"


def test_stop_on_the_bar_ends_the_session_and_the_ticket_records_it(
    start: StartSession, veo_server: VeoServer
) -> None:
    live = start(control=True)

    live.display.click_rect(live.agent_window("bar")["stop"])
    live.console.wait_conn_state("ended", timeout=20)
    live.wait_agent_log("session ended by=user")
    _leave_like_the_user(live.agent, live.display, live.logs, asked_to_rate=True)
    wait_for("the agent to exit", lambda: not live.agent.process.running(), 60, live.logs)
    assert live.agent.process.proc.returncode == 0
    assert live.agent.log.contains("capture stopped, grant forgotten")
    assert live.console.page.is_visible("#note-form")

    token = veo_server.token()
    response = veo_server.api("GET", f"/api/v1/sessions/{live.session_id}", token=token)
    assert response.status_code == 200, response.text
    record = response.json()
    assert record["status"] == "ended"
    assert record["ended_by"] == "user"
    assert isinstance(record["duration_seconds"], int | float) and record["duration_seconds"] >= 0
    assert sorted(record["granted"]) == ["control", "view"]

    page = live.console.page
    page.goto(f"{veo_server.url}/tickets/{live.ticket_id}")
    assert page.locator(f"a[href*='/sessions/{live.session_id}']").count() >= 1
    text = page.inner_text("body")
    # The ticket page names each audit event in words (the codes stay in the API and the CSV).
    for action in ("session.requested", "session.joined", "session.consented", "session.ended"):
        assert wording.action(action) in text, f"ticket page does not show audit event {action}"
        assert action not in text, f"ticket page shows the code {action}"
    # and the hash chain over all of it is intact
    assert veo_server.cli("audit", "verify").startswith("OK")


def test_forged_reveal_aborts_the_session(
    netns: NetworkNamespace, veo_server: VeoServer, console: Console, workdir: Path, logs: Logs
) -> None:
    ticket_id, session_id, code = request_session(console, "Is this really my technician?")
    result_path = workdir / "standin.json"
    standin = logs.add(
        LoggedProcess(
            "stand-in agent (forged reveal)",
            netns.command([sys.executable, str(STANDIN), veo_server.url, code, str(result_path)]),
            workdir / "standin.log",
        )
    )
    try:
        console.wait_conn_state("aborted", timeout=60)
        wait_for("the stand-in agent to finish", lambda: not standin.running(), 60, logs)
    finally:
        standin.stop()
    result = json.loads(result_path.read_text())
    assert result.get("ended") == {"by": "system", "reason": "sas_commitment_mismatch"}, result
    assert console.sas() == ""  # no code is ever shown for a forged reveal

    response = veo_server.api("GET", f"/api/v1/sessions/{session_id}", token=veo_server.token())
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "ended"
    assert response.json().get("end_reason") == "sas_commitment_mismatch"

    console.page.goto(f"{veo_server.url}/tickets/{ticket_id}")
    assert wording.action("session.sas_mismatch") in console.page.inner_text("body")


def test_deny_on_the_consent_dialog_ends_the_request_before_any_frame(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    _ticket_id, session_id, code = request_session(console, "Just checking")
    agent = VeoAgent(netns, xvfb, veo_server, code, workdir)
    logs.add(agent.process)
    try:
        wait_for("the consent dialog", lambda: agent.log.geometry("consent"), 60, logs)
        console.wait_conn_state("connected")  # the peers are connected, the user has not allowed
        assert console.page.evaluate(VIDEO_WIDTH) == 0, "a frame reached the console before consent"

        xvfb.click_rect(wait_for("consent layout", lambda: agent.log.geometry("consent"), 10, logs)["deny"])
        console.wait_conn_state("ended", timeout=20)
        wait_for("the agent to log the end", agent.log.ended, 30, logs)
        assert agent.log.ended() == ("user", "denied")
        assert agent.log.granted() is None  # it never started
        assert console.page.evaluate(VIDEO_WIDTH) == 0
        _leave_like_the_user(agent, xvfb, logs, asked_to_rate=False)
        wait_for("the agent to exit", lambda: not agent.process.running(), 60, logs)
        assert agent.process.proc.returncode == 0
        # nothing was shared: nobody is asked how the help was
        assert agent.log.geometry("rating") is None
    finally:
        agent.stop()

    record = veo_server.api("GET", f"/api/v1/sessions/{session_id}", token=veo_server.token()).json()
    assert (record["status"], record["ended_by"], record.get("end_reason")) == ("ended", "user", "denied")


def test_end_session_in_the_console_ends_the_agent_and_takes_a_resolution_note(
    start: StartSession, veo_server: VeoServer
) -> None:
    live = start(control=True)

    live.console.page.click("#end-session")
    live.console.wait_conn_state("ended", timeout=20)
    ended_by, _reason = wait_for("the agent to log the end", live.agent.log.ended, 30, live.logs)
    assert ended_by == "technician"
    _leave_like_the_user(live.agent, live.display, live.logs, asked_to_rate=True)
    wait_for("the agent to exit", lambda: not live.agent.process.running(), 60, live.logs)
    assert live.agent.log.contains("capture stopped, grant forgotten")

    page = live.console.page
    page.wait_for_selector("#note-form", state="visible", timeout=20_000)
    note = "Printer driver reinstalled; the button works again."
    page.fill("#note-form textarea[name=note]", note)
    with page.expect_navigation():
        page.locator("#note-form [type=submit]").first.click()
    record = veo_server.api("GET", f"/api/v1/sessions/{live.session_id}", token=veo_server.token()).json()
    assert record["ended_by"] == "technician"
    assert record.get("resolution_note") == note
