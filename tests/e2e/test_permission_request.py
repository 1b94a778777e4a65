"""More permission mid-session, with the real parts: the console asks, the user answers on the display.

A view-only session (the user unticked control on the consent dialog). The technician clicks
*Ask for control* in the console; the agent opens its own prompt on the Xvfb display, clicked
like a person would (xdotool at the rectangles the agent logs). Accepted: a click from the
console then lands on the demo application and the bar offers *Pause control*. Refused: the
console says so in a sentence, a click injected into the data channel is dropped by the agent
(``control_not_granted``) and the application never sees it. The ticket's audit trail has the
question and the answer.
"""

from __future__ import annotations

from typing import Any

import pytest

from .flow import LiveSession, settled_layout
from .procs import wait_for
from .stack import VeoServer
from .test_session import StartSession

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]


def _press(x: int, y: int, down: bool) -> dict[str, Any]:
    return {"type": "pointer_button", "x": x, "y": y, "button": "left", "down": down}


def _ask_for_control(live: LiveSession) -> None:
    page = live.console.page
    wait_for(
        "the console to offer *Ask for control*",
        lambda: page.is_visible("#ask-permission") and page.is_enabled("#ask-permission"),
        30,
        live.logs,
        live.console.diagnostics,
    )
    assert page.inner_text("#ask-permission").strip() == "Ask for control"
    page.click("#ask-permission")
    live.wait_agent_log("permission asked id=")
    wait_for(
        "the console to say it waits for the user's answer",
        lambda: page.get_attribute("#ask-status", "data-state") == "ask.pending",
        30,
        live.logs,
        live.console.diagnostics,
    )


def _audit(server: VeoServer, session_id: str) -> list[tuple[str, dict[str, Any]]]:
    response = server.api("GET", f"/api/v1/audit?session_id={session_id}", token=server.token())
    assert response.status_code == 200, response.text
    return [(e["action"], e["details"]) for e in response.json()["items"] if "permission" in e["action"]]


def test_control_asked_mid_session_and_accepted_lets_a_click_land(
    start: StartSession, veo_server: VeoServer
) -> None:
    live = start(control=False)
    button = live.app.widget("button")
    assert live.agent.log.granted() == ["view"]
    assert live.console.control_state() == "off"

    _ask_for_control(live)
    prompt = live.agent_window("permission")
    assert set(prompt) >= {"perm_control", "allow", "refuse"}
    live.display.click_rect(prompt["allow"])

    live.wait_agent_log("grant extended added=control")
    live.console.wait_control_state("active")
    wait_for(
        "the console to say the user allowed control",
        lambda: live.console.page.get_attribute("#ask-status", "data-state") == "ask.accepted",
        30,
        live.logs,
        live.console.diagnostics,
    )
    assert "The user allowed: Control mouse and keyboard." in live.console.page.inner_text("#ask-status")
    # control is no longer offered; the role's clipboard and files still are
    wait_for(
        "the console to stop offering control",
        lambda: live.console.page.inner_text("#ask-permission").strip() == "Ask for more…",
        10,
        live.logs,
        live.console.diagnostics,
    )
    assert not live.console.page.is_visible("#ask-more")
    # the session bar follows the new grant: Pause control is there now, clear of the demo app
    bar = settled_layout(live.agent, "bar", after="grant extended")
    assert "pause" in bar
    for rect in bar.values():
        assert not rect.overlaps(button)

    live.console.click_screen(*button.center)
    state = live.app.wait_state("the console's click to press the button", lambda s: s.clicks == 1)
    assert state.label == "Pressed 1"

    assert _audit(veo_server, live.session_id) == [
        ("session.permission_requested", {"asked": ["control"]}),
        ("session.permission_granted", {"asked": ["control"], "granted": ["control"], "refused": []}),
    ]
    record = veo_server.api("GET", f"/api/v1/sessions/{live.session_id}", token=veo_server.token()).json()
    assert sorted(record["granted"]) == ["control", "view"]


def test_control_asked_mid_session_and_refused_keeps_the_click_out(
    start: StartSession, veo_server: VeoServer
) -> None:
    live = start(control=False)
    button = live.app.widget("button")

    _ask_for_control(live)
    prompt = live.agent_window("permission")
    live.display.click_rect(prompt["refuse"])
    live.wait_agent_log("permission answered id=")
    assert live.agent.log.contains("outcome=refused")
    wait_for(
        "the console to say the user refused",
        lambda: live.console.page.get_attribute("#ask-status", "data-state") == "ask.refused",
        30,
        live.logs,
        live.console.diagnostics,
    )
    assert (
        live.console.page.inner_text("#ask-status").strip() == "The user refused: Control mouse and keyboard."
    )
    assert live.console.control_state() == "off"

    x, y = button.center
    live.console.click_screen(x, y)  # the console must not even send this
    live.console.inject_raw(_press(x, y, down=True))  # a rogue console sends it anyway
    live.console.inject_raw(_press(x, y, down=False))
    wait_for(
        "the agent to drop the forged click (control_not_granted)",
        lambda: live.agent.log.dropped().count(("pointer_button", "control_not_granted")) >= 2,
        30,
        live.logs,
    )
    state = live.app.state()
    assert state is not None and state.clicks == 0 and state.label == "Press me"

    # asking again at once is refused by the server, with a sentence beside the button
    page = live.console.page
    wait_for("the button to come back", lambda: page.is_enabled("#ask-permission"), 30, live.logs)
    page.click("#ask-permission")
    wait_for(
        "the console to say it is too soon to ask again",
        lambda: page.get_attribute("#ask-status", "data-state") == "ask.error.permission_cooldown",
        30,
        live.logs,
        live.console.diagnostics,
    )
    assert "The user just refused this" in page.inner_text("#ask-status")
    assert live.agent.log.count("permission asked id=") == 1, "the user was not asked twice"

    assert _audit(veo_server, live.session_id) == [
        ("session.permission_requested", {"asked": ["control"]}),
        ("session.permission_refused", {"asked": ["control"], "reason": "refused"}),
    ]
