"""A support session on a headless GNOME Wayland desktop, done the way people do it there.

The desktop is :class:`veo.bench.wayland.WaylandDesktop` (mutter, Xwayland, PipeWire, the GNOME
portal) inside the test namespace; the user's application is ``gtk_app.py`` (GTK 3, Wayland
native); the agent is the real ``veo agent --backend portal``. The person at the computer uses
the compositor's own input (Mutter's RemoteDesktop API: :func:`veo.bench.wayland.click`) for
veo's dialogs, which are Tk windows through Xwayland, and answers GNOME's own sharing dialog
through its accessibility tree (:func:`veo.bench.wayland.answer_share_dialog`).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from veo.bench.wayland import WaylandDesktop, answer_share_dialog, click, screenshot

from .console import Console
from .flow import request_session, settled_layout
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .stack import VeoAgent, VeoServer
from .xdisplay import Rect

GTK_APP = Path(__file__).with_name("gtk_app.py")
SYSTEM_PYTHON = "/usr/bin/python3"  # Debian's, with gi and GTK 3 (python3-gi, gir1.2-gtk-3.0)


class WaylandScreen:
    """The desktop's picture for failure reports (what ``XvfbDisplay.screenshot`` gives on X)."""

    def __init__(self, desktop: WaylandDesktop) -> None:
        self.desktop = desktop

    def screenshot(self, path: Path) -> Path:
        return screenshot(self.desktop.env, path, cursor=True)


class GtkApp:
    """``gtk_app.py`` on the Wayland desktop and the events it wrote."""

    def __init__(self, desktop: WaylandDesktop, workdir: Path, logs: Logs) -> None:
        self.events_path = workdir / "gtk-app-events.jsonl"
        self.events_path.touch()
        self.logs = logs
        env = {**desktop.env, "GDK_BACKEND": "wayland"}
        self.process = logs.add(
            LoggedProcess(
                "gtk app",
                desktop.command([SYSTEM_PYTHON, str(GTK_APP), str(self.events_path)]),
                workdir / "gtk-app.log",
                env=env,
            )
        )
        self.ready = self.wait_event("the GTK app to be fullscreen", lambda e: e["event"] == "ready")
        assert self.ready["backend"] == "GdkWaylandDisplay", self.ready  # Wayland, not Xwayland

    def events(self) -> list[dict[str, Any]]:
        text = self.events_path.read_text(encoding="utf-8")
        return [json.loads(line) for line in text.splitlines() if line.strip()]

    def wait_event(
        self, what: str, match: Callable[[dict[str, Any]], bool], timeout: float = 20.0
    ) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            return next((event for event in self.events() if match(event)), None)

        return wait_for(what, probe, timeout, self.logs, last=lambda: repr(self.events()[-5:]))

    def widget(self, name: str) -> Rect:
        return Rect.from_list(self.ready["widgets"][name])

    def clicks(self) -> int:
        return sum(1 for event in self.events() if event["event"] == "clicked")

    def text(self) -> str:
        texts = [event["text"] for event in self.events() if event["event"] == "text"]
        return texts[-1] if texts else ""

    def stop(self) -> None:
        self.process.stop()


@dataclass
class WaylandLive:
    """Everything a test needs while the session runs."""

    session_id: str
    console: Console
    agent: VeoAgent
    desktop: WaylandDesktop
    app: GtkApp
    logs: Logs
    dialog: str  # which of GNOME's dialogs was answered: "remote_desktop" or "screen_cast"

    def wait_agent_log(self, text: str, timeout: float = 30.0) -> None:
        wait_for(
            f"agent log line containing {text!r}", lambda: self.agent.log.contains(text), timeout, self.logs
        )


def allow_in_veos_dialog(
    *,
    netns: NetworkNamespace,
    server: VeoServer,
    desktop: WaylandDesktop,
    console: Console,
    workdir: Path,
    logs: Logs,
    control: bool = True,
) -> tuple[str, VeoAgent]:
    """Ticket -> console -> ``veo agent --backend portal`` -> veo's consent (``control`` ticked or
    not) -> *Allow* clicked: GNOME's own dialog comes next. Returns (session id, agent)."""
    _ticket_id, session_id, code = request_session(console, "The print button does nothing (Wayland)")
    agent = VeoAgent(
        netns, None, server, code, workdir, extra_args=("--backend", "portal"), desktop_env=desktop.env
    )
    logs.add(agent.process)
    wait_for("the agent to log `ui-geometry consent`", lambda: agent.log.geometry("consent"), 60, logs)
    wait_for("the agent to show the SAS (`sas=`)", agent.log.sas, 60, logs)
    consent = settled_layout(agent, "consent", after="sas=")
    if not control:
        click(desktop.env, *consent["perm_control"].center)
    wait_for("Allow to be enabled", lambda: agent.log.contains("consent allow enabled"), 30, logs)
    click(desktop.env, *consent["allow"].center)
    return session_id, agent


def start_wayland_session(
    *,
    netns: NetworkNamespace,
    server: VeoServer,
    desktop: WaylandDesktop,
    app: GtkApp,
    console: Console,
    workdir: Path,
    logs: Logs,
    control: bool = True,
    allow_interaction: bool = True,
) -> WaylandLive:
    """:func:`allow_in_veos_dialog`, then GNOME's sharing dialog answered (``allow_interaction``:
    its switch turned on, else left off) -> the session active and the codes confirmed."""
    session_id, agent = allow_in_veos_dialog(
        netns=netns,
        server=server,
        desktop=desktop,
        console=console,
        workdir=workdir,
        logs=logs,
        control=control,
    )
    # veo's dialog first, then the desktop's own: GNOME asks the user a second time
    dialog = answer_share_dialog(desktop.env, allow_control=control and allow_interaction, timeout=60)
    wait_for("the session to start", lambda: agent.log.contains("session started granted="), 60, logs)
    live = WaylandLive(session_id, console, agent, desktop, app, logs, dialog)
    console.wait_conn_state("active")
    console.confirm_codes_match()
    live.wait_agent_log("technician confirmed sas=True")
    return live
