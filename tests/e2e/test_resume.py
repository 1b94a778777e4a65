"""A session outlives a lost connection without asking the user again (issue 13, point 2).

The real parts: ``veo agent`` on the Xvfb display with the demo app, ``veo server`` and the
console in headless Chromium, in two network namespaces (``resume_net.py``): the agent alone
behind a link the test sets down and up, with its signaling through a forwarder the test can
kill; the server and the browser on the other side. Each case breaks one thing for real and then
checks the promises: both sides say *reconnecting* within 5 s, the session carries on without a
new code (or ends after the role's grace with the stated reason), a console click presses the
demo app's button again, the audit trail has ``session.interrupted`` / ``session.resumed`` (or
the end), and ``veo audit verify`` passes.

One server, one browser and one network serve every case of the module; each case has its own
session, agent and demo app. Run with ``-s`` to see the measured times.
"""

from __future__ import annotations

import datetime
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext

from veo.bench.chromium import UNTHROTTLED_ARGS

from .browser import CHROMIUM_ARGS, chromium_wrapper
from .conftest import _unavailable
from .console import CHANNEL_SPY, Console
from .demo import DemoApp
from .flow import LiveSession, settled_layout, start_session
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .resume_net import Forwarder, ResumeNetwork, restart_server
from .stack import VeoServer
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(180)]

#: Issue 13: "a drop is noticed within 5 s on both sides".
NOTICE_SECONDS = 5.0
#: How long the resume tests give a resumed session to be usable again (ICE on a fresh
#: connection, proof exchange, first frame); generous for a shared 2-core machine.
RESUME_TIMEOUT = 45.0
#: The grace period of the "down for longer than the grace" case (set on the role's policy).
SHORT_GRACE = 6
#: After the grace, how long each side may take to say the session ended.
ENDING_SLACK = 10.0
CONNECTION_LOST_SENTENCE = "The connection to the user's computer was lost and did not come back in time."

# The agent's log contract for resume (``agent/session.py``, ``agent/reconnect.py``).
AGENT_RECONNECTING = "peer connection lost cause="
AGENT_RESUMED = "session resumed verified_by="
AGENT_REJOINED = "signaling reconnected"
AGENT_RECONNECT_FAILED = "signaling reconnect failed"
AGENT_SAS_SHOWN = "SAS shown to the user"
AGENT_ASKS_AGAIN = "the codes must be compared again sas="
REVERIFY_WINDOW = "reverify"

PHASE = "() => window.veoConsole ? window.veoConsole.phase : null"


# ---------------------------------------------------------------------------- module fixtures


@pytest.fixture(scope="module")
def resume_network(netns: NetworkNamespace) -> Iterator[ResumeNetwork]:
    """``netns`` first: it checks root and the tools (and fails in CI when they are missing)."""
    if shutil.which("ss") is None:
        _unavailable("ss (iproute2)")
    network = ResumeNetwork(f"veo-res-{os.getpid()}")
    network.create()
    yield network
    network.delete()


@pytest.fixture(scope="module")
def resume_dir(e2e_dir: Path) -> Path:
    directory = e2e_dir / "resume"
    directory.mkdir(exist_ok=True)
    return directory


@pytest.fixture(scope="module")
def resume_server(resume_network: ResumeNetwork, resume_dir: Path) -> Iterator[VeoServer]:
    server = VeoServer(resume_network.server, resume_dir, host="0.0.0.0")
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def forwarder(resume_network: ResumeNetwork, resume_dir: Path) -> Iterator[Forwarder]:
    relay = Forwarder(resume_network, resume_dir, Logs())
    relay.start()
    yield relay
    relay.stop()


@pytest.fixture(scope="module")
def resume_browser(browser: Browser, resume_network: ResumeNetwork, resume_dir: Path) -> Iterator[Browser]:
    """Chromium inside the server's namespace (the session's ``browser`` lives in another one)."""
    wrapper_dir = resume_dir / "chromium"
    wrapper_dir.mkdir(exist_ok=True)
    launched = browser.browser_type.launch(
        executable_path=str(chromium_wrapper(resume_network.server, wrapper_dir)),
        headless=True,
        args=[*CHROMIUM_ARGS, *UNTHROTTLED_ARGS],  # the 5 s to notice a drop is measured here
    )
    yield launched
    launched.close()


def _technician_context(browser: Browser, server: VeoServer) -> BrowserContext:
    """A signed-in technician in a browser context of its own (its own sessionStorage)."""
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, locale="en-US")
    context.add_init_script(CHANNEL_SPY)
    page = context.new_page()
    Console(page, server.url, Logs()).login()
    page.close()
    return context


@pytest.fixture(scope="module")
def resume_context(resume_browser: Browser, resume_server: VeoServer) -> Iterator[BrowserContext]:
    context = _technician_context(resume_browser, resume_server)
    yield context
    context.close()


# ---------------------------------------------------------------------------- per case


@dataclass
class Case:
    """One case's session with what breaks it: the link, the forwarder, the server process."""

    network: ResumeNetwork
    server: VeoServer
    forwarder: Forwarder
    live: LiveSession
    logs: Logs

    @property
    def console(self) -> Console:
        return self.live.console

    def phase(self) -> str | None:
        try:
            value: str | None = self.console.page.evaluate(PHASE)
        except Exception:  # a page between two documents (reload) has no veoConsole for a moment
            return None
        return value

    def wait_phase(self, phase: str, timeout: float) -> float:
        """Wait for ``veoConsole.phase``; returns when it was first seen (time.monotonic())."""
        wait_for(
            f"veoConsole.phase == {phase!r}",
            lambda: self.phase() == phase,
            timeout,
            self.logs,
            self.console.diagnostics,
        )
        return time.monotonic()

    def click_lands(self, clicks_before: int) -> None:
        """A console click on the demo app's button presses it: the session carries input again."""
        self.console.wait_control_state("active", timeout=RESUME_TIMEOUT)
        button = self.live.app.widget("button")
        want = clicks_before + 1
        self.console.click_screen(*button.center)
        state = self.live.app.wait_state(
            f"the console's click to press the button ({want} presses)", lambda s: s.clicks >= want
        )
        assert state.clicks == want, state
        assert state.label == f"Pressed {want}"

    def clicks(self) -> int:
        state = self.live.app.state()
        assert state is not None
        return state.clicks

    def audit(self) -> list[tuple[str, dict[str, Any]]]:
        response = self.server.api(
            "GET", f"/api/v1/audit?session_id={self.live.session_id}", token=self.server.token()
        )
        assert response.status_code == 200, response.text
        return [(e["action"], e["details"]) for e in response.json()["items"]]

    def actions(self, name: str) -> list[dict[str, Any]]:
        return [details for action, details in self.audit() if action == name]

    def record(self) -> dict[str, Any]:
        response = self.server.api(
            "GET", f"/api/v1/sessions/{self.live.session_id}", token=self.server.token()
        )
        assert response.status_code == 200, response.text
        record: dict[str, Any] = response.json()
        return record

    def server_log(self) -> str:
        """The server's log, every process of it (a restarted server appends to the same file)."""
        assert self.server.process is not None
        return self.server.process.text()

    def audit_verifies(self) -> None:
        out = self.server.cli("audit", "verify")
        assert out.startswith("OK"), out

    def agent_line_time(self, text: str, after: int = 0) -> float | None:
        """When the agent logged the first line containing ``text`` after line ``after``
        (its own timestamp, as epoch seconds), or None."""
        for line in self.live.agent.log.lines()[after:]:
            if text in line:
                stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
                return stamp.timestamp()
        return None


@pytest.fixture
def case(
    resume_network: ResumeNetwork,
    resume_server: VeoServer,
    forwarder: Forwarder,
    resume_context: BrowserContext,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    workdir: Path,
    logs: Logs,
) -> Iterator[Any]:
    """``case()`` starts a session up to *Codes match* with control; everything broken by a
    case is repaired afterwards (link up, forwarder and server running) for the next one."""
    assert resume_server.process is not None
    logs.add(resume_server.process)
    forwarder.logs = logs
    if forwarder.process is not None:
        logs.add(forwarder.process)
    started: list[Case] = []
    page = resume_context.new_page()

    def run() -> Case:
        console = Console(page, resume_server.url, logs)
        live = start_session(
            netns=resume_network.agent, server=resume_server, display=xvfb, app=demo_app, console=console,
            workdir=workdir, logs=logs, control=True,
        )  # fmt: skip
        started.append(Case(resume_network, resume_server, forwarder, live, logs))
        return started[-1]

    try:
        yield run
    finally:
        for one in started:
            one.live.agent.stop()
        if not page.is_closed():
            page.close()
        resume_network.link_up()
        if forwarder.process is None or not forwarder.process.running():
            forwarder.start()
        if resume_server.process is None or not resume_server.process.running():
            restart_server(resume_server, logs)


def _not_asked_again(case: Case, shown_before: int) -> None:
    """The session came back without a new code: no SAS shown to the user, no verification step
    in the console, and the technician's earlier *Codes match* still stands."""
    assert case.live.agent.log.count(AGENT_SAS_SHOWN) == shown_before, "the agent showed a new code"
    assert not case.live.agent.log.contains(AGENT_ASKS_AGAIN), "the agent asked to compare the code again"
    assert case.live.agent.log.geometry(REVERIFY_WINDOW) is None, "the agent asked to check the code again"
    page = case.console.page
    assert not page.is_visible("#sas-match"), case.console.diagnostics()
    assert page.evaluate("() => window.veoConsole.technicianSasConfirmed") is True


def _resumed_by(case: Case, verified_by: str) -> dict[str, Any]:
    resumed = wait_for(
        f"the audit to record session.resumed (verified_by={verified_by})",
        lambda: [d for d in case.actions("session.resumed") if d.get("verified_by") == verified_by] or None,
        20,
        case.logs,
    )
    return resumed[-1]


# ---------------------------------------------------------------------------- the cases


def test_link_down_for_ten_seconds_and_back_resumes_without_a_new_code(case: Any) -> None:
    c: Case = case()
    shown = c.live.agent.log.count(AGENT_SAS_SHOWN)
    lines_before = len(c.live.agent.log.lines())
    c.click_lands(clicks_before=0)

    down_at, down_wall = time.monotonic(), time.time()
    c.network.link_down()
    console_seen = c.wait_phase("reconnecting", timeout=NOTICE_SECONDS + 5) - down_at
    agent_seen_at = wait_for(
        "the agent to log that it is reconnecting",
        lambda: c.agent_line_time(AGENT_RECONNECTING, after=lines_before),
        NOTICE_SECONDS + 5,
        c.logs,
    )
    agent_seen = agent_seen_at - down_wall
    assert console_seen <= NOTICE_SECONDS, (
        f"the console said reconnecting {console_seen:.1f} s after the drop"
    )
    assert agent_seen <= NOTICE_SECONDS, f"the agent noticed the drop {agent_seen:.1f} s after it"
    assert c.record()["status"] == "active"
    # input is held while the link is down: the console says a click was not sent
    c.console.click_screen(*c.live.app.widget("button").center)
    wait_for(
        "the console to say the click was not sent (notice.reconnecting)",
        lambda: (
            c.console.page.get_attribute("#input-notice", "data-key") == "notice.reconnecting"
            and c.console.page.is_visible("#input-notice")
        ),
        5,
        c.logs,
        c.console.diagnostics,
    )

    time.sleep(max(0.0, down_at + 10 - time.monotonic()))
    c.network.link_up()
    up_at = time.monotonic()
    c.wait_phase("active", timeout=RESUME_TIMEOUT)
    back = time.monotonic() - up_at
    c.live.wait_agent_log(AGENT_RESUMED, timeout=RESUME_TIMEOUT)
    _not_asked_again(c, shown)
    assert c.clicks() == 1, "the click held during the drop was replayed"
    c.click_lands(clicks_before=1)
    landed = time.monotonic() - up_at

    # audited once, as the media's loss or (when the server heard of it first) the agent's socket
    interrupted = c.actions("session.interrupted")
    assert len(interrupted) == 1 and interrupted[0].get("link") in ("media", "signaling"), c.audit()
    assert _resumed_by(c, "proof")
    assert not c.actions("session.ended")
    assert c.record()["status"] == "active"
    c.audit_verifies()
    print(
        f"\nresume/link 10 s: reconnecting after {console_seen:.1f} s (console), {agent_seen:.1f} s (agent); "
        f"active {back:.1f} s after the link came back, click landed after {landed:.1f} s"
    )


def test_link_down_longer_than_the_grace_ends_with_connection_lost(
    case: Any, resume_server: VeoServer
) -> None:
    resume_server.admin("policy", "technician", "--resume-grace", str(SHORT_GRACE))
    try:
        c: Case = case()
    finally:
        resume_server.admin("policy", "technician", "--resume-grace", "120")
    lines_before = len(c.live.agent.log.lines())
    c.network.link_down()
    down_at, down_wall = time.monotonic(), time.time()
    c.wait_phase("reconnecting", timeout=NOTICE_SECONDS + 5)

    # generous waits, then the bounds: a failure says how late each side was
    agent_ended_at = wait_for(
        "the agent to end by connection_lost",
        lambda: c.agent_line_time("session ended by=system reason=connection_lost", after=lines_before),
        SHORT_GRACE + 60,
        c.logs,
    )
    c.console.wait_conn_state("ended", timeout=SHORT_GRACE + 60)
    console_after = time.monotonic() - down_at
    agent_after = agent_ended_at - down_wall
    for side, after in (("agent", agent_after), ("console", console_after)):
        assert after >= SHORT_GRACE, f"the {side} ended {after:.1f} s after the drop, before the grace"
        assert after <= SHORT_GRACE + NOTICE_SECONDS + ENDING_SLACK, (
            f"the {side} ended {after:.1f} s after the drop (grace {SHORT_GRACE} s)"
        )
    sentence = c.console.page.inner_text("#end-reason").strip()
    assert sentence == CONNECTION_LOST_SENTENCE, sentence
    assert c.live.agent.log.ended() == ("system", "connection_lost")
    assert c.live.agent.log.count("session ended by=") == 1, "ended once"
    wait_for(
        "the agent to show the user its end notice", lambda: c.live.agent.log.geometry("ended"), 10, c.logs
    )

    c.network.link_up()
    record = c.record()
    assert (record["status"], record["ended_by"], record["end_reason"]) == (
        "ended",
        "system",
        "connection_lost",
    )
    assert c.actions("session.interrupted"), c.audit()
    ended = c.actions("session.ended")
    assert [d["reason"] for d in ended] == ["connection_lost"], ended
    assert not c.actions("session.resumed")
    state = c.live.app.state()
    assert state is not None and state.clicks == 0
    c.audit_verifies()
    print(
        f"\nresume/grace {SHORT_GRACE} s: the agent ended {agent_after:.1f} s and the console "
        f"{console_after:.1f} s after the drop"
    )


def test_session_ended_while_the_agent_was_away_is_said_on_its_return(case: Any) -> None:
    """The technician ends the session while the user's link is down; when the link comes back the
    agent's rejoin is refused as ended and the user is told the session has ended."""
    c: Case = case()
    lines_before = len(c.live.agent.log.lines())
    c.network.link_down()
    c.wait_phase("reconnecting", timeout=NOTICE_SECONDS + 5)
    wait_for(
        "the agent to notice the drop",
        lambda: c.agent_line_time(AGENT_RECONNECTING, after=lines_before),
        NOTICE_SECONDS + 5,
        c.logs,
    )
    c.console.page.click("#end-session")
    c.console.wait_conn_state("ended", timeout=20)
    # the link stays down until the agent tried a new socket: until its old one is closed (up to
    # its close timeout) the server's `ended`, retransmitted there once the link is back, would
    # tell it, and the rejoin this case is about would never be made
    wait_for(
        "the agent to try a new signaling socket",
        lambda: c.agent_line_time(AGENT_RECONNECT_FAILED, after=lines_before),
        30,
        c.logs,
    )
    assert c.live.agent.log.ended() is None, "the agent cannot know yet: its link is down"

    c.network.link_up()
    up_at = time.monotonic()
    wait_for(
        "the agent to end: the session had ended (session_ended)",
        lambda: c.live.agent.log.ended() == ("system", "session_ended"),
        RESUME_TIMEOUT,
        c.logs,
    )
    told = time.monotonic() - up_at
    wait_for(
        "the agent to show the user its end notice", lambda: c.live.agent.log.geometry("ended"), 10, c.logs
    )
    assert not c.live.agent.log.contains(AGENT_RESUMED)
    record = c.record()
    assert (record["status"], record["ended_by"]) == ("ended", "technician"), record
    assert len(c.actions("session.ended")) == 1
    assert not c.actions("session.resumed")
    c.audit_verifies()
    print(f"\nresume/ended while away: the agent said so {told:.1f} s after the link came back")


def test_console_reload_resumes_by_proof(case: Any) -> None:
    c: Case = case()
    shown = c.live.agent.log.count(AGENT_SAS_SHOWN)
    c.click_lands(clicks_before=0)

    reload_at = time.monotonic()
    c.console.page.reload()
    c.wait_phase("active", timeout=RESUME_TIMEOUT)
    c.live.wait_agent_log(AGENT_RESUMED, timeout=RESUME_TIMEOUT)
    _not_asked_again(c, shown)
    c.click_lands(clicks_before=1)
    landed = time.monotonic() - reload_at

    assert _resumed_by(c, "proof")
    assert [d.get("link") for d in c.actions("session.interrupted")] == ["media"], c.audit()
    assert c.record()["status"] == "active"
    c.audit_verifies()
    print(f"\nresume/reload: click landed {landed:.1f} s after the reload")


def test_agent_signaling_cut_rejoins_and_carries_on(case: Any) -> None:
    c: Case = case()
    shown = c.live.agent.log.count(AGENT_SAS_SHOWN)
    c.click_lands(clicks_before=0)
    rejoins = c.live.agent.log.count(AGENT_REJOINED)
    lines_before = len(c.live.agent.log.lines())

    cut_at = time.monotonic()
    c.forwarder.cut()
    time.sleep(0.5)
    c.forwarder.start()
    wait_for(
        "the agent to rejoin",
        lambda: c.live.agent.log.count(AGENT_REJOINED) > rejoins,
        RESUME_TIMEOUT,
        c.logs,
    )
    rejoined = time.monotonic() - cut_at
    c.wait_phase("active", timeout=RESUME_TIMEOUT)
    _not_asked_again(c, shown)
    c.click_lands(clicks_before=1)

    assert not c.actions("session.ended")
    assert c.record()["status"] == "active"
    interrupted = c.actions("session.interrupted")
    assert [d.get("link") for d in interrupted] == ["signaling"], c.audit()
    # the media never stopped: no new connection, the old one was kept
    assert c.agent_line_time(AGENT_RECONNECTING, after=lines_before) is None
    assert _resumed_by(c, "connection_kept")
    c.audit_verifies()
    print(f"\nresume/signaling cut: rejoined {rejoined:.1f} s after the cut")


@pytest.mark.parametrize("how", ["stopped", "killed"])
def test_server_restart_mid_session_ends_nothing(case: Any, how: str) -> None:
    c: Case = case()
    shown = c.live.agent.log.count(AGENT_SAS_SHOWN)
    c.click_lands(clicks_before=0)
    rejoins = c.live.agent.log.count(AGENT_REJOINED)
    lines_before = len(c.live.agent.log.lines())
    console_socket = f"/ws/console?session={c.live.session_id}"
    console_sockets = c.server_log().count(console_socket)

    restart_at = time.monotonic()
    restart_server(c.server, c.logs, down_seconds=1.0, crash=how == "killed")
    wait_for(
        "the agent to rejoin the restarted server",
        lambda: c.live.agent.log.count(AGENT_REJOINED) > rejoins,
        RESUME_TIMEOUT,
        c.logs,
    )
    wait_for(
        "the console to open a new socket to the restarted server",
        lambda: c.server_log().count(console_socket) > console_sockets,
        RESUME_TIMEOUT,
        c.logs,
    )
    c.wait_phase("active", timeout=RESUME_TIMEOUT)
    back = time.monotonic() - restart_at
    _not_asked_again(c, shown)
    c.click_lands(clicks_before=1)

    record = c.record()
    assert record["status"] == "active", record
    assert not c.actions("session.ended")
    # one interruption: a killed server audits nothing, the new process finds the session live
    # (server_restart); a stopping server may audit the agent's socket closing (signaling) first
    interrupted = c.actions("session.interrupted")
    links = ("server_restart",) if how == "killed" else ("server_restart", "signaling")
    assert len(interrupted) == 1 and interrupted[0].get("link") in links, c.audit()
    # the media between the agent and the browser never depended on the server
    assert c.agent_line_time(AGENT_RECONNECTING, after=lines_before) is None
    assert _resumed_by(c, "connection_kept")
    c.audit_verifies()
    print(
        f"\nresume/server {how} and started: console active again {back:.1f} s after the restart began; "
        f"interruption audited as link={interrupted[0].get('link')}"
    )


def _forged_click_is_dropped(c: Case, console: Console) -> None:
    """A press and release sent straight into the new data channel (as a console that skipped the
    code would) are dropped by the agent, and the demo app is not pressed."""
    x, y = c.live.app.widget("button").center
    before = c.clicks()
    dropped = len(c.live.agent.log.dropped())

    def inject() -> bool:
        try:
            for down in (True, False):
                console.inject_raw({"type": "pointer_button", "x": x, "y": y, "button": "left", "down": down})
        except AssertionError:  # the new data channel is not open yet
            return False
        return True

    wait_for("an open data channel to inject into", inject, RESUME_TIMEOUT, c.logs, console.diagnostics)
    reasons = wait_for(
        "the agent to drop the forged click",
        lambda: [r for t, r in c.live.agent.log.dropped()[dropped:] if t == "pointer_button"][1:] or None,
        20,
        c.logs,
    )
    assert c.clicks() == before, f"a forged click before the code check landed (dropped: {reasons})"


def test_console_in_another_browser_needs_the_code_again(
    case: Any, resume_browser: Browser, resume_server: VeoServer
) -> None:
    c: Case = case()
    shown = c.live.agent.log.count(AGENT_SAS_SHOWN)
    c.click_lands(clicks_before=0)
    lines_before = len(c.live.agent.log.lines())

    # a technician does not close the tab within a second of starting: let heartbeats flow both
    # ways first (the agent judges silence only after the console's first beat)
    time.sleep(2)
    c.console.page.close()
    wait_for(
        "the agent to notice the console is gone",
        lambda: c.agent_line_time(AGENT_RECONNECTING, after=lines_before),
        NOTICE_SECONDS + 5,
        c.logs,
    )
    other = _technician_context(resume_browser, resume_server)
    try:
        page = other.new_page()
        page.goto(f"{resume_server.url}/sessions/{c.live.session_id}/console")
        console = Console(page, resume_server.url, c.logs)
        c.live.console = console
        # the console shows the verification step again, the agent its "check the code" prompt
        wait_for("the console to show a new code", lambda: len(console.sas()) == 6, RESUME_TIMEOUT, c.logs,
                 console.diagnostics)  # fmt: skip
        prompt = wait_for(
            f"the agent to show its {REVERIFY_WINDOW} prompt",
            lambda: c.live.agent.log.geometry(REVERIFY_WINDOW),
            RESUME_TIMEOUT,
            c.logs,
        )
        assert c.live.agent.log.count(AGENT_ASKS_AGAIN) == 1
        assert c.live.agent.log.count(AGENT_SAS_SHOWN) == shown, "the consent dialog did not come back"
        assert console.sas() == c.live.agent.log.sas(), "both sides show the same new code"
        assert not page.evaluate("() => window.veoConsole.technicianSasConfirmed")
        # until both compared the new code, input from this console is refused by the agent
        _forged_click_is_dropped(c, console)
        layout = settled_layout(c.live.agent, REVERIFY_WINDOW, after="sas=")
        assert set(prompt) >= {"code_match", "code_differ"}, prompt
        c.live.display.click_rect(layout["code_match"])
        c.live.wait_agent_log("the user confirmed the new verification code")
        console.confirm_codes_match()
        c.wait_phase("active", timeout=RESUME_TIMEOUT)
        c.click_lands(clicks_before=1)
        assert c.actions("session.reverify_requested"), c.audit()
        assert _resumed_by(c, "code")
        assert c.record()["status"] == "active"
        c.audit_verifies()
    finally:
        other.close()
