"""Company devices end to end (issue 17), with the real agent service on Xvfb.

One device of the module is enrolled the way IT does it (``veo agent enrol`` with a token an
admin made over the API; the person at the device closes the notice with the mouse) and runs
``veo agent service`` on the test display for the whole module; each test sets its group's
policy to the one it proves. The revocation test enrols a second device of its own, so the
module's device stays usable whatever the order.

What each test proves (the issue's "How to prove it"):

* enrolment shows the notice (the window is found on the display and read) and the device appears
  in the API's list and on the ``/devices`` page;
* a second use of the same enrolment token is refused (exit code, sentence, ``device.enrol_refused``);
* *ask*: the consent dialog at once, no code typed anywhere; *Allow*; a console click lands;
* *notify*: no dialog, the bar is on the display, the user's *Stop* on it ends the session;
* *unattended*: refused (403 and a sentence) to a role without the capability, allowed to one with it;
* a revoked device forgets its key and cannot be reached; its old key is refused and audited;
* the audit log names the device, the policy, the reason and the technician of every session.
* a root service told only ``--display`` runs the session part as the display's owner (a throwaway
  account: its uid, gids and home; its own history records the session) and refuses root's display.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

import veo
from veo.agent.device import state as device_state

from .conftest import DISPLAY_KEY, WORKDIR_KEY, _unavailable
from .console import CHANNEL_SPY, Console
from .demo import DemoApp
from .demo_app import BLOCK_RGB
from .devices_support import (
    ADMIN_EMAIL,
    LEAD_CAPABILITIES,
    LEAD_EMAIL,
    LEAD_NAME,
    LEAD_PASSWORD,
    NOTICE_BUTTON,
    NOTICE_WINDOW,
    ORGANIZATION,
    AsAccount,
    DevicesApi,
    DeviceService,
    Enrolment,
    LocalAccount,
    People,
    SessionLog,
    children_running,
    create_people,
    drawn,
    enrol_refused,
    enrol_with_notice,
    expect,
    has_window,
    root_display,
    runner_for,
    wait_online,
)
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .stack import TECH_EMAIL, TECH_NAME, VEO, VeoServer
from .xdisplay import Rect, XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

GROUP_NAME = "Front desk (e2e)"
#: IT names the module's device; the revocation test's kiosk keeps the host name (the default)
DEVICE_NAME = "Reception PC 2"
DEVICE_FILES = ("device.json", "device.key")
#: H.264/VP8 in 4:2:0 blur colours a little; the demo app's flat block keeps its centre close
COLOUR_TOLERANCE = 40
VIDEO_WIDTH = "() => document.querySelector('#remote-video').videoWidth"
#: The agent's window titles (English: the device's desktop has LANG=en_US.UTF-8)
BAR_TITLE, CONNECTED_NOTICE_TITLE = "Remote support session", "Someone connected to this computer"


@dataclass
class Fleet:
    """The module's device: its group, token, enrolment, state directory and running service."""

    api: DevicesApi
    group: dict[str, Any]
    token: str
    enrolment: Enrolment
    state_dir: Path
    device_id: str
    device_name: str
    service: DeviceService
    logs: Logs
    #: (session id, policy, reason, technician e-mail) of every session the module started
    sessions: list[tuple[str, str, str, str]]


# ---------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def fleet_dir(e2e_dir: Path) -> Path:
    directory = e2e_dir / "devices"
    directory.mkdir(exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def people(veo_server: VeoServer) -> Iterator[People]:
    """The admin and the lead; the lead's role gets ``unattended`` for this module only."""
    before = veo_server.admin("policy", "lead")
    veo_server.admin("policy", "lead", "--max-permissions", LEAD_CAPABILITIES)
    yield create_people(veo_server)
    previous = next(
        (line.split(":", 1)[1].strip() for line in before.splitlines() if "may request" in line), ""
    )
    if previous and previous != "-":
        veo_server.admin("policy", "lead", "--max-permissions", previous)


@pytest.fixture(scope="module")
def fleet(
    netns: NetworkNamespace,
    xvfb: XvfbDisplay,
    veo_server: VeoServer,
    people: People,
    fleet_dir: Path,
) -> Iterator[Fleet]:
    """Group (policy ask, roles technician and lead), an unattended token, the enrolment, the service."""
    logs = Logs()
    assert veo_server.process is not None
    logs.add(veo_server.process)
    api = DevicesApi(veo_server, people)
    group = api.create_group(GROUP_NAME, "ask", ["technician", "lead"])
    token = api.create_token(group["id"], "Reception PCs, floor 2", unattended=True)
    state_dir = fleet_dir / "state"
    enrolment = enrol_with_notice(
        netns, xvfb, veo_server, token, state_dir, fleet_dir, logs, device_name=DEVICE_NAME
    )
    assert enrolment.returncode == 0, f"veo agent enrol failed:\n{enrolment.output}"
    stored = json.loads((state_dir / "device.json").read_text())
    device_id, device_name = stored["device_id"], stored["device_name"]
    service = DeviceService(netns, xvfb, state_dir, fleet_dir)
    logs.add(service.process)
    try:
        wait_online(api, device_id, logs)
        yield Fleet(api, group, token, enrolment, state_dir, device_id, device_name, service, logs, [])
    finally:
        service.stop()


@pytest.fixture
def device_logs(
    request: pytest.FixtureRequest, fleet: Fleet, logs: Logs, xvfb: XvfbDisplay, workdir: Path
) -> Logs:
    """The test's logs with the module's processes (server, enrolment, service) in them; a failure
    report also gets a screenshot of the device's display (conftest's hook)."""
    request.node.stash[DISPLAY_KEY] = xvfb
    request.node.stash[WORKDIR_KEY] = workdir
    for process in fleet.logs.processes:
        if process not in logs.processes:
            logs.add(process)
    return logs


@pytest.fixture(scope="module")
def lead_context(browser: Browser, veo_server: VeoServer, people: People) -> Iterator[BrowserContext]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    context.add_init_script(CHANNEL_SPY)
    page = context.new_page()
    Console(page, veo_server.url, Logs()).login(LEAD_EMAIL, LEAD_PASSWORD)
    page.close()
    yield context
    context.close()


# ---------------------------------------------------------------------------- helpers


def _open_console(console: Console, session_id: str) -> None:
    console.page.goto(f"{console.base_url}/sessions/{session_id}/console")


def _end_if_running(fleet: Fleet, console: Console, session_id: str) -> None:
    """A failed test must not leave the device busy for the next one: end it from the console page."""
    if fleet.api.session(session_id).get("status") == "ended":
        return
    console.page.evaluate(
        """async (url) => {
            const meta = document.querySelector("meta[name=csrf-token]");
            await fetch(url, {method: "POST", headers: {"X-CSRF-Token": meta ? meta.content : ""}});
        }""",
        f"/sessions/{session_id}/end",
    )
    wait_for(
        f"session {session_id} to end",
        lambda: fleet.api.session(session_id).get("status") == "ended",
        30,
        fleet.logs,
    )


def _settled(session: SessionLog, window: str, logs: Logs) -> dict[str, Rect]:
    """``window``'s layout once it stopped moving (a new window re-logs as it is placed)."""
    seen: list[dict[str, Rect] | None] = [None]

    def probe() -> dict[str, Rect] | None:
        before, seen[0] = seen[0], session.geometry(window)
        return seen[0] if seen[0] is not None and seen[0] == before else None

    def steady() -> dict[str, Rect] | None:
        layout = probe()
        time.sleep(0.4)
        return layout

    return wait_for(f"`ui-geometry {window}` to settle", steady, 30, logs)


def _click_if_shown(fleet: Fleet, session_id: str, window: str, button: str, logs: Logs) -> None:
    """Click ``button`` of ``window`` once it shows, unless the session part exits first."""
    session = fleet.service.session_log(session_id)
    exited = f"the session part of {session_id} ended"
    wait_for(
        f"the {window} window or the session part's exit",
        lambda: session.geometry(window) is not None or fleet.service.contains(exited),
        30,
        logs,
    )
    if not fleet.service.contains(exited):
        fleet.service.display.click_rect(_settled(session, window, logs)[button])


def _user_closes_the_end_windows(fleet: Fleet, session_id: str, logs: Logs) -> None:
    """What the person at the device does after a session: *OK* on the end window, *Skip* on the
    rating (asked after *ask* sessions only); then the session part exits and the device is free."""
    _click_if_shown(fleet, session_id, "ended", "ok", logs)
    _click_if_shown(fleet, session_id, "rating", "skip", logs)
    exited = f"the session part of {session_id} ended"
    wait_for("the session part to exit", lambda: fleet.service.contains(exited), 30, logs)


def _wait_idle(fleet: Fleet) -> None:
    """Every session part the module started has exited: the service runs one at a time
    (another request meanwhile is answered ``busy``)."""
    wait_for(
        "the previous session parts to exit",
        lambda: all(
            fleet.service.contains(f"the session part of {sid} ended")
            for sid, *_ in fleet.sessions
            if _launched(fleet, sid)
        ),
        60,
        fleet.logs,
    )


def _connect(
    fleet: Fleet, token: str, reason: str, technician: str, policy: str, mode: str | None = None
) -> str:
    _wait_idle(fleet)
    created = expect(fleet.api.connect(fleet.device_id, token, reason, mode), 201, "connect to the device")
    session_id = str(created["id"])
    assert created["policy"] == policy and created["reason"] == reason, created
    fleet.sessions.append((session_id, policy, reason, technician))
    return session_id


def _connect_from_page(fleet: Fleet, console: Console, reason: str, technician: str, policy: str) -> str:
    """The device's page: type the reason, keep the offered mode, *Connect*: the console opens."""
    _wait_idle(fleet)
    page = console.page
    page.goto(f"{console.base_url}/devices/{fleet.device_id}")
    page.fill("#connect-form #reason", reason)
    with page.expect_navigation():
        page.click("#connect-button")
    match = re.search(r"/sessions/([^/]+)/console", page.url)
    assert match is not None, f"Connect did not open a console ({page.url}):\n{page.inner_text('body')[:800]}"
    fleet.sessions.append((match.group(1), policy, reason, technician))
    return match.group(1)


def _launched(fleet: Fleet, session_id: str) -> bool:
    """The service started a session part for ``session_id`` (a refused request starts none)."""
    return any(
        f"session request {session_id} from " in line and line.endswith(": started")
        for line in fleet.service.log.lines()
    )


def _tell_policy(fleet: Fleet, policy: str, token: str, technician: str, logs: Logs) -> None:
    """The admin sets the group's ``policy``. A stronger one than the person at the device was
    told binds only once they were told (review R1-8): the next request is refused, the service
    shows the notice of the new policy on the display, the person closes it; then it applies."""
    fleet.api.set_policy(fleet.group, policy)
    config = device_state.DeviceConfig.model_validate_json((fleet.state_dir / "device.json").read_text())
    if not device_state.stronger(policy, config.told()):  # type: ignore[arg-type]
        return
    _wait_idle(fleet)
    reason = f"A {policy} session before the person was told"
    created = expect(fleet.api.connect(fleet.device_id, token, reason, policy), 201, "connect (not told)")
    session_id = str(created["id"])
    fleet.sessions.append((session_id, policy, reason, technician))
    wait_for(
        "the refused request to end the session (device_unavailable)",
        lambda: fleet.api.session(session_id).get("status") == "ended",
        60,
        logs,
    )
    assert fleet.api.session(session_id).get("end_reason") == "device_unavailable"
    assert not _launched(fleet, session_id)
    notice = _settled(fleet.service.session_log(session_id), NOTICE_WINDOW, logs)
    fleet.service.display.click_rect(notice[NOTICE_BUTTON])

    def told() -> bool:
        text = (fleet.state_dir / "device.json").read_text()
        return device_state.DeviceConfig.model_validate_json(text).told() == policy

    wait_for(f"the device to keep {policy} once its person was told", told, 30, logs)


def _wait_window(display: XvfbDisplay, title: str, logs: Logs) -> None:
    wait_for(f"the window {title!r} on the display", lambda: has_window(display, title), 30, logs)


def _history_text(fleet: Fleet) -> str:
    """``veo agent --history --print``: what the person at the device reads of its history."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("VEO_")}
    env.update({"VEO_AGENT_STATE_DIR": str(fleet.state_dir), "HOME": str(fleet.state_dir.parent / "reader")})
    result = subprocess.run(
        [*VEO, "agent", "--history", "--print", "--lang", "en"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _requested(fleet: Fleet, session_id: str) -> dict[str, Any]:
    events = fleet.api.audit(session_id=session_id, action="session.requested")
    assert len(events) == 1, events
    return events[0]


def _assert_audited(fleet: Fleet, session_id: str, policy: str, reason: str, technician: str) -> None:
    """``session.requested`` names the device, the policy that applied, the reason and who."""
    event = _requested(fleet, session_id)
    details = event["details"]
    assert event["actor"] == technician, event
    assert details.get("device_id") == fleet.device_id, event
    assert details.get("device_name") == fleet.device_name, event
    assert details.get("policy") == policy, event
    assert details.get("reason") == reason, event
    record = fleet.api.session(session_id)
    assert record.get("device_id", fleet.device_id) == fleet.device_id, record


def _wait_started(fleet: Fleet, session_id: str, logs: Logs) -> SessionLog:
    """Wait until the session part says the session started; fail at once if the service
    refused to launch it (its log line names the problem instead of ``started``)."""
    session = fleet.service.session_log(session_id)

    def probe() -> bool:
        refused = [
            line
            for line in fleet.service.log.lines()
            if f"session request {session_id} from " in line and not line.endswith(": started")
        ]
        assert not refused, f"the service did not launch the session part: {refused[-1]}"
        return session.granted() is not None

    wait_for("the session part to log `session started granted=`", probe, 90, logs)
    return session


# ---------------------------------------------------------------------------- the tests


def test_enrolment_shows_the_notice_and_the_device_is_listed(
    fleet: Fleet, console: Console, veo_server: VeoServer, device_logs: Logs
) -> None:
    enrolment = fleet.enrolment
    assert enrolment.returncode == 0
    # the notice was a window of its own on the display, and it said who manages the computer
    assert enrolment.notice_title, "no notice window appeared during the enrolment"
    assert enrolment.notice_title == "This computer is managed", enrolment.notice_title
    assert f"managed by {ORGANIZATION}" in enrolment.notice_text, (
        f"the notice window does not name {ORGANIZATION!r}: {enrolment.notice_text!r}"
    )
    assert f"managed by {ORGANIZATION}" in enrolment.output  # and the terminal of IT said it too
    # the key is the service's alone
    key = fleet.state_dir / "device.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()

    assert fleet.device_name == DEVICE_NAME
    listed = fleet.api.device(fleet.device_id)
    assert listed is not None, "the technician's device list does not show the enrolled device"
    assert (listed["name"], listed["group"], listed["policy"]) == (DEVICE_NAME, GROUP_NAME, "ask"), listed
    assert listed["online"] is True and listed["unattended"] is True, listed
    assert listed["enrolled_by"] == ADMIN_EMAIL, listed
    assert listed["agent_version"] == veo.__version__ and listed["os_name"], listed
    assert listed["hostname"] and listed["os_user"] == "root", listed  # the desktop's user, here root

    # the technician's Devices page lists it, online, with its group and who enrolled it
    page = console.page
    page.goto(f"{veo_server.url}/devices")
    row = page.locator(f"#device-list tr[data-device-id='{fleet.device_id}']")
    assert row.count() == 1, f"/devices does not list the device:\n{page.inner_text('body')[:1500]}"
    assert row.get_attribute("data-online") == "true"
    text = row.inner_text()
    for expected in (DEVICE_NAME, GROUP_NAME, "Online", veo.__version__, "Dana Admin"):
        assert expected in text, f"{expected!r} not in the device's row: {text!r}"

    enrolled = [
        e
        for e in fleet.api.audit(action="device.enrolled")
        if e["details"].get("device_id") == fleet.device_id
    ]
    assert len(enrolled) == 1, enrolled
    assert enrolled[0]["details"].get("unattended") is True
    # the device's own history, which its user can open, has the enrolment
    history = (fleet.state_dir / "history.jsonl").read_text().splitlines()
    assert any(json.loads(line).get("kind") == "enrolled" for line in history), history
    shown = _history_text(fleet)
    managed = f"this computer is managed by {ORGANIZATION} as “{DEVICE_NAME}” (group: {GROUP_NAME})."
    assert f"Enrolled: {managed}" in shown and "Enrolled by: Dana Admin" in shown, shown


def test_a_second_use_of_an_enrolment_token_is_refused(
    netns: NetworkNamespace,
    xvfb: XvfbDisplay,
    veo_server: VeoServer,
    fleet: Fleet,
    workdir: Path,
    device_logs: Logs,
) -> None:
    state_dir = workdir / "second-state"
    refusals_before = len(fleet.api.audit(action="device.enrol_refused"))
    outcome = enrol_refused(netns, xvfb, veo_server, fleet.token, state_dir, workdir, device_logs)
    assert outcome.returncode == 1, outcome.output
    # one sentence for IT, the server's reason in it; no trace
    assert outcome.output.strip().count("\n") == 0, outcome.output
    assert "refused the enrolment" in outcome.output and "already used" in outcome.output, outcome.output
    assert outcome.notice_title is None, f"a refused enrolment showed a window: {outcome.notice_title!r}"
    assert not (state_dir / "device.key").exists() and not (state_dir / "device.json").exists()

    refusals = fleet.api.audit(action="device.enrol_refused")
    assert len(refusals) == refusals_before + 1, refusals
    assert refusals[-1]["details"].get("reason") == "used", refusals[-1]
    assert sum(d["name"] == fleet.device_name for d in fleet.api.devices(fleet.api.people.admin)) == 1


def test_ask_shows_the_consent_dialog_without_a_code_and_a_console_click_lands(
    fleet: Fleet, console: Console, demo_app: DemoApp, xvfb: XvfbDisplay, device_logs: Logs
) -> None:
    fleet.api.set_policy(fleet.group, "ask")
    reason = "The printer queue is stuck"
    # the technician connects from the device's page: a typed reason, the group's mode
    session_id = _connect_from_page(fleet, console, reason, TECH_EMAIL, "ask")
    session = fleet.service.session_log(session_id)
    page = console.page
    try:
        # the console names the device, the policy and the reason, and has no code to read out
        line = page.locator("#device-line")
        assert line.get_attribute("data-policy") == "ask"
        assert DEVICE_NAME in line.inner_text() and reason in line.inner_text(), line.inner_text()
        assert page.locator("#session-code").count() == 0

        # the consent dialog comes at once on the device's display; nobody typed a code there
        wait_for("the consent dialog on the display", lambda: session.geometry("consent"), 60, device_logs)
        assert session.contains("consent dialog for a managed computer (policy ask)")
        assert session.geometry("code") is None
        wait_for("Allow to be enabled", lambda: session.contains("consent allow enabled"), 60, device_logs)
        # nothing starts without Allow: no grant on the device, no frame in the console
        assert session.granted() is None, "the session started before Allow"
        assert page.evaluate(VIDEO_WIDTH) == 0, "a frame reached the console before Allow"
        xvfb.click_rect(_settled(session, "consent", device_logs)["allow"])
        _wait_started(fleet, session_id, device_logs)
        console.wait_conn_state("active")
        console.wait_control_state("active")

        # the video shows the user's display (the demo app's block), then a click goes through
        console.wait_video_colour(*demo_app.widget("block").center, BLOCK_RGB, COLOUR_TOLERANCE)
        button = demo_app.widget("button")
        console.click_screen(*button.center)
        state = demo_app.wait_state("the console's click to press the button", lambda s: s.clicks == 1)
        assert state.label == "Pressed 1"

        page.click("#end-session")
        console.wait_conn_state("ended", timeout=30)
        _user_closes_the_end_windows(fleet, session_id, device_logs)
    finally:
        _end_if_running(fleet, console, session_id)
    _assert_audited(fleet, session_id, "ask", reason, TECH_EMAIL)
    record = fleet.api.session(session_id)
    assert record.get("ended_by") == "technician", record


def test_notify_starts_with_the_bar_visible_and_the_users_stop_ends_it(
    fleet: Fleet, console: Console, xvfb: XvfbDisplay, device_logs: Logs
) -> None:
    _tell_policy(fleet, "notify", fleet.api.people.technician, TECH_EMAIL, device_logs)
    reason = "Install the quarterly update"
    session_id = _connect(fleet, fleet.api.people.technician, reason, TECH_EMAIL, "notify")
    session = fleet.service.session_log(session_id)
    try:
        _open_console(console, session_id)
        _wait_started(fleet, session_id, device_logs)
        assert session.geometry("consent") is None, "notify showed the consent dialog"
        assert session.contains("consent given by the device's policy")
        # at once, on the display: the bar and the notice saying who, from where and why
        for title in (BAR_TITLE, CONNECTED_NOTICE_TITLE):
            _wait_window(xvfb, title, device_logs)
        said = f"{TECH_NAME} from {ORGANIZATION} connected to this computer. Reason: {reason}"
        wait_for(
            "the notice's words", lambda: session.contains(f"connected notice shown: {said}"), 30, device_logs
        )
        bar = _settled(session, "bar", device_logs)
        assert drawn(xvfb, bar["stop"]), f"nothing drawn where the bar's Stop is: {bar['stop']}"
        console.wait_conn_state("active")

        xvfb.click_rect(bar["stop"])
        console.wait_conn_state("ended", timeout=30)
        wait_for("the session part to log its end", session.ended, 30, device_logs)
        ended = session.ended()
        assert ended is not None and ended[0] == "user", ended
        _user_closes_the_end_windows(fleet, session_id, device_logs)
    finally:
        _end_if_running(fleet, console, session_id)
    record = fleet.api.session(session_id)
    assert (record["status"], record.get("ended_by")) == ("ended", "user"), record
    _assert_audited(fleet, session_id, "notify", reason, TECH_EMAIL)


def test_unattended_is_refused_to_a_role_without_the_capability_and_allowed_with_it(
    fleet: Fleet,
    console: Console,
    lead_context: BrowserContext,
    veo_server: VeoServer,
    demo_app: DemoApp,
    xvfb: XvfbDisplay,
    device_logs: Logs,
) -> None:
    _tell_policy(fleet, "unattended", fleet.api.people.lead, LEAD_EMAIL, device_logs)
    reason = "Nightly backup failed on the closet server"

    refused = fleet.api.connect(fleet.device_id, fleet.api.people.technician, reason, mode="unattended")
    assert refused.status_code == 403, refused.text
    body = refused.json()
    assert body.get("code") == "unattended_not_allowed", body
    assert len(body.get("message", "")) > 20 and "_" not in body["message"], body  # a sentence, not a code
    refusals = [
        e
        for e in fleet.api.audit(action="device.connect_refused")
        if e["details"].get("device_id") == fleet.device_id and e["actor"] == TECH_EMAIL
    ]
    assert refusals, "the refused unattended connection is not in the audit log"
    assert refusals[-1]["details"].get("mode") == "unattended", refusals[-1]
    assert refusals[-1]["details"].get("code") == "unattended_not_allowed", refusals[-1]

    session_id = _connect(fleet, fleet.api.people.lead, reason, LEAD_EMAIL, "unattended", mode="unattended")
    session = fleet.service.session_log(session_id)
    lead = Console(lead_context.new_page(), veo_server.url, device_logs)
    try:
        _open_console(lead, session_id)
        _wait_started(fleet, session_id, device_logs)
        assert session.geometry("consent") is None, "unattended showed the consent dialog"
        bar = wait_for("the session bar", lambda: session.geometry("bar"), 60, device_logs)
        assert "stop" in bar
        # whoever sits down sees who connected and why; they close the notice (the bar stays)
        notice = _settled(session, "connected_notice", device_logs)
        said = f"{LEAD_NAME} from {ORGANIZATION} connected to this computer. Reason: {reason}"
        assert session.contains(f"connected notice shown: {said}"), "\n".join(session.lines())
        xvfb.click_rect(notice["close"])
        lead.wait_conn_state("active")
        lead.wait_control_state("active")
        lead.wait_video_colour(*demo_app.widget("block").center, BLOCK_RGB, COLOUR_TOLERANCE)
        button = demo_app.widget("button")
        lead.click_screen(*button.center)
        demo_app.wait_state("the lead's click to press the button", lambda s: s.clicks == 1)
        lead.page.click("#end-session")
        lead.wait_conn_state("ended", timeout=30)
        _user_closes_the_end_windows(fleet, session_id, device_logs)
    finally:
        _end_if_running(fleet, lead, session_id)
        lead.page.close()
    _assert_audited(fleet, session_id, "unattended", reason, LEAD_EMAIL)
    # the device's own history records the unattended session, and its user can read it
    history = [json.loads(line) for line in (fleet.state_dir / "history.jsonl").read_text().splitlines()]
    assert any(e.get("session_id") == session_id and e.get("policy") == "unattended" for e in history), (
        history
    )
    shown = _history_text(fleet)
    assert f"Connection requested by {LEAD_NAME} ({ORGANIZATION})" in shown, shown
    assert f"Reason given: {reason}" in shown and "unattended access" in shown, shown


def test_a_revoked_device_forgets_its_key_and_cannot_be_reached(
    netns: NetworkNamespace,
    xvfb: XvfbDisplay,
    veo_server: VeoServer,
    fleet: Fleet,
    workdir: Path,
    device_logs: Logs,
) -> None:
    api = fleet.api
    token = api.create_token(fleet.group["id"], "Kiosk, to be revoked", unattended=False)
    state_dir = workdir / "kiosk-state"
    enrolment = enrol_with_notice(
        netns, xvfb, veo_server, token, state_dir, workdir, device_logs, "kiosk-enrol"
    )
    assert enrolment.returncode == 0, enrolment.output
    device_id = json.loads((state_dir / "device.json").read_text())["device_id"]
    stolen = workdir / "stolen-state"  # what an attacker copied before the revocation
    shutil.copytree(state_dir, stolen)
    service = DeviceService(netns, xvfb, state_dir, workdir, "kiosk-service")
    device_logs.add(service.process)
    try:
        wait_online(api, device_id, device_logs)
        # its token did not allow unattended access: even a role allowed it cannot have it here
        api.set_policy(fleet.group, "unattended")
        refused = api.connect(device_id, api.people.lead, "Unattended on a kiosk", mode="unattended")
        assert refused.status_code == 403, refused.text
        assert refused.json().get("code") == "unattended_not_enrolled", refused.text

        api.revoke(device_id)
        wait_for(
            "the service to forget its key (device.json and device.key deleted)",
            lambda: not any(name in service.state_files() for name in DEVICE_FILES),
            30,
            device_logs,
        )
        wait_for("the service to stop", lambda: not service.process.running(), 30, device_logs)
        assert service.process.proc.returncode == 0, service.process.tail()
    finally:
        service.stop()
    # what stays is the device's own history, which says the server ended the enrolment
    assert service.state_files() == ["history.jsonl"], service.state_files()
    history = [json.loads(line) for line in (state_dir / "history.jsonl").read_text().splitlines()]
    assert [(e["kind"], e.get("detail")) for e in history][-1] == ("unenrolled", "server"), history

    listed = api.device(device_id, api.people.admin)
    assert listed is not None and listed.get("revoked_at"), listed
    refused = api.connect(device_id, api.people.technician, "Should never reach it")
    assert refused.status_code == 409, refused.text
    assert refused.json().get("code") == "device_revoked", refused.text

    # the old key, from a copy: refused, audited, and that copy forgets it too
    auth_before = len(api.audit(action="device.auth_refused"))
    replay = DeviceService(netns, xvfb, stolen, workdir, "stolen-service")
    device_logs.add(replay.process)
    try:
        wait_for(
            "the server to refuse the old key (device.auth_refused)",
            lambda: len(api.audit(action="device.auth_refused")) > auth_before,
            30,
            device_logs,
        )
        wait_for("the copy to stop", lambda: not replay.process.running(), 30, device_logs)
    finally:
        replay.stop()
    event = api.audit(action="device.auth_refused")[-1]
    assert event["details"].get("device_id") == device_id, event
    assert event["details"].get("reason") == "revoked", event
    assert not any((stolen / name).exists() for name in DEVICE_FILES)
    revoked = [
        e for e in api.audit(action="device.revoked") if e["details"].get("device_id", "") == device_id
    ]
    assert revoked and revoked[-1]["details"].get("by") == "server", revoked


def test_the_audit_log_names_device_policy_reason_and_technician_for_each_session(
    fleet: Fleet, console: Console, device_logs: Logs
) -> None:
    # one session of this test's own, so it proves something run alone too
    _tell_policy(fleet, "notify", fleet.api.people.technician, TECH_EMAIL, device_logs)
    reason = "Audit trail check"
    session_id = _connect(fleet, fleet.api.people.technician, reason, TECH_EMAIL, "notify")
    try:
        _open_console(console, session_id)
        _wait_started(fleet, session_id, device_logs)
        console.wait_conn_state("active")
        # the typed reason made the ticket "<device>: <reason>"; its page offers the console and
        # never the device's join code (only the device may redeem it)
        ticket_id = fleet.api.session(session_id)["ticket_id"]
        ticket = console.page.context.new_page()
        try:
            ticket.goto(f"{console.base_url}/tickets/{ticket_id}")
            assert ticket.inner_text("#ticket-title") == f"{DEVICE_NAME}: {reason}", ticket.url
            assert ticket.locator("#join-code").count() == 0
            assert session_id in (ticket.get_attribute("#open-console", "href") or "")
        finally:
            ticket.close()
        console.page.click("#end-session")
        console.wait_conn_state("ended", timeout=30)
        _user_closes_the_end_windows(fleet, session_id, device_logs)
    finally:
        _end_if_running(fleet, console, session_id)

    for sid, policy, why, technician in fleet.sessions:
        _assert_audited(fleet, sid, policy, why, technician)
    requested = [
        e
        for e in fleet.api.audit(action="session.requested")
        if e["details"].get("device_id") == fleet.device_id
    ]
    assert {e["session_id"] for e in requested} == {sid for sid, *_ in fleet.sessions}
    # and the chain over all of it is intact
    assert fleet.api.server.cli("audit", "verify").startswith("OK")


def test_the_root_service_runs_the_session_as_the_displays_owner_and_refuses_a_root_display(
    netns: NetworkNamespace,
    xvfb: XvfbDisplay,
    veo_server: VeoServer,
    fleet: Fleet,
    console: Console,
    workdir: Path,
    device_logs: Logs,
) -> None:
    """A root service given ``--display`` and no ``--desktop-user`` starts the session part as the
    display socket's owner (uid, gids, HOME: a throwaway account signed in to its own Xvfb), whose
    own history then records the session. When root's display takes that number (the person
    signed out, a greeter's X server) a request is refused (``no_desktop``) and the technician
    sees the session end ``device_unavailable``; a service started on root's display without
    ``--desktop-user`` refuses to start at all."""
    api = fleet.api
    # notify from the start: the enrolment notice tells the person so (a stronger policy later
    # would first be shown to them and the request refused: R1-8, not this test's subject)
    api.set_policy(fleet.group, "notify")
    token = api.create_token(fleet.group["id"], "A person's desk", unattended=False)
    state_dir = workdir / "desk-state"
    enrolment = enrol_with_notice(
        netns, xvfb, veo_server, token, state_dir, workdir, device_logs, "desk-enrol"
    )
    assert enrolment.returncode == 0, enrolment.output
    device_id = json.loads((state_dir / "device.json").read_text())["device_id"]
    account = LocalAccount(f"veoe2e{os.getpid()}")
    services: list[DeviceService] = []
    display: XvfbDisplay | None = None
    greeter: LoggedProcess | None = None
    try:
        runner = runner_for(account)
        if runner is None:
            _unavailable(f"a Python that an unprivileged account can run veo with (tried {sys.executable})")
        assert runner is not None
        # the person's own display: its socket is theirs, which is all the service goes by
        display = XvfbDisplay(AsAccount(netns, account), workdir / "desk-xvfb.log")
        device_logs.add(display.process)
        socket = Path("/tmp/.X11-unix") / f"X{display.display.lstrip(':')}"
        assert socket.stat().st_uid == account.uid, socket.stat()
        service = DeviceService(
            netns, display, state_dir, workdir, "desk-service", desktop_user=None, runner=runner
        )
        services.append(service)
        device_logs.add(service.process)
        wait_online(api, device_id, device_logs)
        listed = api.device(device_id, api.people.admin)
        assert listed is not None and listed["os_user"] == account.name, listed

        desk = replace(fleet, device_id=device_id, state_dir=state_dir, service=service, sessions=[])
        reason = "Set up the new mail account"
        session_id = _connect(desk, api.people.technician, reason, TECH_EMAIL, "notify")
        try:
            _open_console(console, session_id)
            _wait_started(desk, session_id, device_logs)
            assert service.process.proc is not None
            parts = children_running(service.process.proc.pid, "--device-session")
            assert len(parts) == 1, parts
            part = parts[0]
            assert part.uids == (account.uid,) * 4, part  # real, effective, saved, filesystem
            assert part.gids == (account.gid,) * 4, part
            assert part.groups == tuple(account.groups) and 0 not in part.groups, part
            assert part.home == str(account.home), part
            _wait_window(display, BAR_TITLE, device_logs)  # on the person's display
            console.wait_conn_state("active")
            console.page.click("#end-session")
            console.wait_conn_state("ended", timeout=30)
            _user_closes_the_end_windows(desk, session_id, device_logs)
        finally:
            _end_if_running(desk, console, session_id)

        # the person's own history (in their home, theirs) records it, and they can read it
        own = account.home / ".local" / "share" / "veo" / "history.jsonl"
        assert own.stat().st_uid == account.uid, own.stat()
        entries = [json.loads(line) for line in own.read_text().splitlines()]
        assert any(
            e.get("session_id") == session_id
            and e.get("device_policy") == "notify"
            and e.get("access_reason") == reason
            for e in entries
        ), entries
        env = {"HOME": str(account.home), "PATH": "/usr/bin:/bin", "LANG": "en_US.UTF-8", **runner.env}
        read = account.run([*runner.veo, "agent", "--history", "--print", "--lang", "en"], env)
        assert read.returncode == 0, read.stdout + read.stderr
        assert "Managed computer: started without asking; you were shown who and why" in read.stdout, (
            read.stdout
        )
        assert f"Reason given: {reason}" in read.stdout and TECH_NAME in read.stdout, read.stdout
        # and the root service's (the device's) history records the request and for whom it ran
        device_history = [json.loads(line) for line in (state_dir / "history.jsonl").read_text().splitlines()]
        request = next(e for e in device_history if e.get("session_id") == session_id)
        assert (request["kind"], request["policy"], request["reason"]) == (
            "session_request",
            "notify",
            reason,
        )
        assert (request.get("problem", ""), request.get("detail")) == ("", account.name), request

        # the person signs out and root's display (a greeter's) takes the number: the service,
        # which looks at the socket's owner at each request, never runs a session as root
        number = display.display
        display.stop()
        greeter = root_display(netns, number, workdir / "greeter-xvfb.log")
        device_logs.add(greeter)
        socket = Path("/tmp/.X11-unix") / f"X{number.lstrip(':')}"
        assert socket.stat().st_uid == 0, socket.stat()
        refused_reason = "Should never run as root"
        created = expect(api.connect(device_id, api.people.technician, refused_reason), 201, "connect")
        refused_id = str(created["id"])
        _open_console(console, refused_id)
        wait_for(
            "the session to end", lambda: api.session(refused_id).get("status") == "ended", 60, device_logs
        )
        assert api.session(refused_id).get("end_reason") == "device_unavailable", api.session(refused_id)
        console.page.reload()
        wait_for(
            "the console to say the device could not start the session",
            lambda: "The device could not start the session" in console.page.inner_text("body"),
            30,
            device_logs,
        )
        failed = api.audit(session_id=refused_id, action="session.device_launch_failed")
        assert [e["details"].get("problem") for e in failed] == ["no_desktop"], failed
        assert service.contains(f"no session on display {number}: it belongs to root"), service.process.tail()
        assert service.contains(
            f"session request {refused_id} from {TECH_NAME!r} (policy notify): no_desktop"
        )
        assert children_running(service.process.proc.pid, "--device-session") == []
        device_history = [json.loads(line) for line in (state_dir / "history.jsonl").read_text().splitlines()]
        refused = next(e for e in device_history if e.get("session_id") == refused_id)
        assert (refused.get("problem"), refused.get("detail", "")) == ("no_desktop", ""), refused
        service.stop()

        # and a root service given root's display at start-up does not start at all
        refusing = DeviceService(
            netns, xvfb, state_dir, workdir, "root-display-service", desktop_user=None, runner=runner
        )
        services.append(refusing)
        device_logs.add(refusing.process)
        wait_for("the service to refuse to start", lambda: not refusing.process.running(), 60, device_logs)
        assert refusing.process.proc.returncode not in (0, None), refusing.process.tail()
        assert f"The display {xvfb.display} belongs to root" in refusing.process.text(), (
            refusing.process.text()
        )
    finally:
        for running in services:
            running.stop()
        for screen in (display, greeter):
            if screen is not None:
                screen.stop()
        account.remove()
