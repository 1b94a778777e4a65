"""Trust inside a session, end to end: a technician whose role allows view only cannot obtain
control, not by asking the server and not by sending input from a modified console.

The role's policy is set with ``veo admin policy``; the technician signs in in a browser context
of their own. The rogue input goes straight into the data channel from the test (the console
itself would never send it); the agent must drop it and log why, and the application must never
see the click.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser

from .console import CHANNEL_SPY, Console
from .demo import DemoApp
from .flow import LiveSession, consent_layout
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .stack import VeoAgent, VeoServer
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

VIEWER_EMAIL = "vera.viewer@example.com"
VIEWER_PASSWORD = "view only, never control 42"


@pytest.fixture
def viewer_console(browser: Browser, veo_server: VeoServer, logs: Logs) -> Iterator[Console]:
    """A lead whose role's policy allows only viewing, signed in in a browser context of their own."""
    veo_server.admin("policy", "lead", "--max-permissions", "view")
    veo_server.admin(
        "create-user", VIEWER_EMAIL, "--name", "Vera Viewer", "--role", "lead", "--password-stdin",
        stdin=VIEWER_PASSWORD + "\n",
    )  # fmt: skip
    assert veo_server.process is not None
    logs.add(veo_server.process)
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    context.add_init_script(CHANNEL_SPY)
    page = context.new_page()
    console = Console(page, veo_server.url, logs)
    console.login(VIEWER_EMAIL, VIEWER_PASSWORD)
    yield console
    context.close()


def _press(x: int, y: int, down: bool) -> dict[str, object]:
    return {"type": "pointer_button", "x": x, "y": y, "button": "left", "down": down}


def test_a_view_only_role_cannot_obtain_control_even_from_a_modified_console(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    viewer_console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    console = viewer_console
    ticket_id = console.create_ticket("Only look, please")

    # the ticket page offers only what the role may ask for
    console.page.goto(f"{veo_server.url}/tickets/{ticket_id}")
    assert console.page.locator("#start-session-form input[value=control]").count() == 0
    assert console.page.is_visible("#policy-view-only")
    # a crafted request for control is refused by the server, with the reason, and nothing starts
    # (fetch from the page: Playwright's own request client lives outside the namespace)
    refused = console.page.evaluate(
        """async (url) => {
            const csrf = document.querySelector("meta[name=csrf-token]").content;
            const response = await fetch(url, {
                method: "POST",
                headers: {"Content-Type": "application/json", "X-CSRF-Token": csrf},
                body: JSON.stringify({permissions: ["view", "control"]}),
            });
            return {status: response.status, body: await response.json()};
        }""",
        f"/api/v1/tickets/{ticket_id}/sessions",
    )
    assert refused["status"] == 422, refused
    assert refused["body"]["code"] == "beyond_policy", refused

    # asking for view only works; the agent is asked for nothing more
    session_id = console.start_session(ticket_id)
    console.wait_conn_state("waiting", timeout=30)
    agent = VeoAgent(netns, xvfb, veo_server, console.session_code(), workdir)
    logs.add(agent.process)
    live = LiveSession(session_id, ticket_id, console, agent, xvfb, demo_app, logs)
    try:
        live.agent_window("consent")
        assert any(line.endswith("requested=view") for line in agent.log.lines())
        wait_for("the agent to show the SAS (`sas=`)", agent.log.sas, 60, logs)
        consent = consent_layout(agent, logs)
        assert "perm_control" not in consent, "the dialog offers control the role may not request"
        live.wait_agent_log("consent allow enabled")
        xvfb.click_rect(consent["allow"])
        live.wait_agent_log("session started granted=view")
        console.wait_conn_state("active")
        console.confirm_codes_match()
        live.wait_agent_log("technician confirmed sas=True")
        assert agent.log.granted() == ["view"]
        assert console.control_state() == "off"

        # the modified console: input straight into the data channel
        button = demo_app.widget("button")
        x, y = button.center
        for _ in range(2):
            console.inject_raw(_press(x, y, down=True))
            console.inject_raw(_press(x, y, down=False))
        console.inject_raw({"type": "text", "text": "rm -rf ~"})
        wait_for(
            "the agent to drop every forged input (control_not_granted)",
            lambda: (
                agent.log.dropped().count(("pointer_button", "control_not_granted")) >= 4
                and ("text", "control_not_granted") in agent.log.dropped()
            ),
            30,
            logs,
        )
        # the data channel is ordered: every earlier message was handled before these drops
        state = demo_app.state()
        assert state is not None and state.clicks == 0 and state.text == ""
    finally:
        agent.stop()

    token = veo_server.api(
        "POST", "/api/v1/auth/token", json={"email": VIEWER_EMAIL, "password": VIEWER_PASSWORD}
    ).json()["access_token"]
    record = veo_server.api("GET", f"/api/v1/sessions/{session_id}", token=token).json()
    assert record["requested"] == ["view"] and record["granted"] == ["view"]
