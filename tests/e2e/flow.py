"""One support session from ticket to *Allow*, done the way people do it.

The technician starts it from a ticket page; the user runs ``veo agent`` with the code and answers
the real consent dialog with the real mouse (xdotool at the rectangles the agent logs).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .console import Console
from .demo import DemoApp
from .netns import NetworkNamespace
from .procs import Logs, WaitTimeout, wait_for
from .stack import VeoAgent, VeoServer
from .xdisplay import Rect, XvfbDisplay


@dataclass
class LiveSession:
    """Everything a test needs while the session runs."""

    session_id: str
    ticket_id: int
    console: Console
    agent: VeoAgent
    display: XvfbDisplay
    app: DemoApp
    logs: Logs

    def agent_window(self, window: str, timeout: float = 60.0) -> dict[str, Rect]:
        return wait_for(
            f"the agent to log `ui-geometry {window}`",
            lambda: self.agent.log.geometry(window),
            timeout,
            self.logs,
        )

    def wait_agent_log(self, text: str, timeout: float = 30.0) -> None:
        wait_for(
            f"agent log line containing {text!r}", lambda: self.agent.log.contains(text), timeout, self.logs
        )


def settled_layout(agent: VeoAgent, window: str, after: str, settle: float = 3.0) -> dict[str, Rect]:
    """The layout of ``window`` after the event logged as ``after`` (the SAS shown, control paused).

    Such events may re-lay a window out (a longer label, a new line); the agent re-logs the
    geometry only if it changed, so a re-log is awaited briefly, else the last layout stands.
    """
    try:
        return wait_for(
            f"a {window} layout logged after {after!r}",
            lambda: agent.log.geometry(window, after=after),
            settle,
        )
    except WaitTimeout:
        layout = agent.log.geometry(window)
        assert layout is not None, f"the agent never logged `ui-geometry {window}`"
        return layout


def consent_layout(agent: VeoAgent, logs: Logs) -> dict[str, Rect]:
    """The consent dialog's layout once it shows the SAS and Allow is enabled (the rule is
    :meth:`AgentLog.consent_layout`). Under a window manager, which resizes later,
    :func:`settled_layout` still waits for a re-log."""
    return wait_for("Allow to be enabled", agent.log.consent_layout, 60, logs)


def _press_allow(live: LiveSession, allow: Rect) -> None:
    """Click *Allow* once the agent says the button is enabled, and wait for the session."""
    live.wait_agent_log("consent allow enabled", timeout=30)
    live.display.click_rect(allow)
    live.wait_agent_log("session started granted=", timeout=30)


def request_session(console: Console, title: str, tick: tuple[str, ...] = ()) -> tuple[int, str, str]:
    """Ticket -> *Start remote session* -> console; returns (ticket id, session id, join code)."""
    ticket_id = console.create_ticket(title)
    session_id = console.start_session(ticket_id, tick=tick)
    console.wait_conn_state("waiting", timeout=30)
    return ticket_id, session_id, console.session_code()


def start_session(
    *,
    netns: NetworkNamespace,
    server: VeoServer,
    display: XvfbDisplay,
    app: DemoApp,
    console: Console,
    workdir: Path,
    logs: Logs,
    control: bool = True,
    request: tuple[str, ...] = (),
    refuse: tuple[str, ...] = (),
    launch_agent: Callable[[str], VeoAgent] | None = None,
) -> LiveSession:
    """Run a session up to ``#conn-state[data-state=active]`` with control ticked or not.

    ``request``: permissions ticked on the ticket page besides view and control (``clipboard``,
    ``files``); ``refuse``: those the user unticks in the consent dialog; ``launch_agent(code)``:
    how the user starts the agent (default: ``veo agent --code`` from this checkout).
    """
    ticket_id, session_id, code = request_session(console, "Printer button does nothing", tick=request)
    agent = launch_agent(code) if launch_agent else VeoAgent(netns, display, server, code, workdir)
    logs.add(agent.process)
    live = LiveSession(session_id, ticket_id, console, agent, display, app, logs)

    live.agent_window("consent")
    # Allow stays disabled until the SAS is known; the agent logs it when it shows it
    wait_for("the agent to show the SAS (`sas=`)", agent.log.sas, 60, logs)
    consent = consent_layout(agent, logs)
    if not control:
        display.click_rect(consent["perm_control"])
    for permission in refuse:
        display.click_rect(consent[f"perm_{permission}"])
    _press_allow(live, consent["allow"])
    console.wait_conn_state("active")
    # both sides compared the code: the user by pressing Allow under it, the technician here
    console.confirm_codes_match()
    live.wait_agent_log("technician confirmed sas=True")
    return live
