"""The downloaded one-file agent on GNOME on Wayland (issue 15): the BUILT file, not ``veo agent``.

The file ``make agent`` built (``dist/agent/veo-agent-linux-x86_64``) is put in place with
``veo admin agent add`` and downloaded from ``/download`` with the session's code, as a user
following the join link gets it (:mod:`tests.e2e.agent_file`). It is started the way a Wayland
desktop starts a program: ``env -i`` plus only what the session hands to what it starts
(``WAYLAND_DISPLAY``, ``XDG_RUNTIME_DIR``, ``DBUS_SESSION_BUS_ADDRESS``, ``XDG_SESSION_TYPE``,
``DISPLAY`` and ``XAUTHORITY`` for Xwayland, ``HOME``, ``PATH=/usr/bin:/bin``): no virtualenv, no
``VEO_*``, no option, no GStreamer or PyGObject variable. The desktop is the headless GNOME of
:mod:`veo.bench.wayland` (mutter, Xwayland, PipeWire + WirePlumber, xdg-desktop-portal-gnome),
the same as ``test_wayland.py``'s; the user's application is ``gtk_app.py`` (GTK 3, Wayland).

What it proves: the file picks the portal backend by itself, veo's consent dialog takes a click,
GNOME's own dialog is shown and answered, and then the frames come through the GStreamer,
PyGObject and PipeWire client *inside the file*: the agent process has the bundle's
``libgstpipewire``, ``libpipewire-0.3``, PipeWire client modules and SPA support plugin mapped, and
none of the system's (this machine has the same versions installed, so a session alone would not
tell the two apart). The console sees the application, and its click presses the application's
button.

What it does not prove: another distribution's PipeWire daemon (this one is Debian 12's 0.3.65,
the same as the bundled client), KDE or another compositor, a real GPU.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.bench.wayland import WaylandDesktop, answer_share_dialog, click
from veo.protocol.agent_config import read_embedded

from .agent_file import MINIMAL_PATH, download, put_in_place
from .agent_log import AgentLog
from .console import Console
from .flow import request_session, settled_layout
from .gtk_app import BLOCK_RGB, START_LABEL
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .stack import VeoServer
from .wayland_desktop import open_gtk_app, start_desktop
from .wayland_session import GtkApp

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

COLOUR_TOLERANCE = 40  # H.264/VP8 in 4:2:0, as in test_wayland.py
#: what a Wayland desktop session passes to a program it starts (GNOME also exports XAUTHORITY
#: for Xwayland); nothing else goes through ``env -i``
SESSION_VARIABLES = (
    "WAYLAND_DISPLAY",
    "XDG_RUNTIME_DIR",
    "DBUS_SESSION_BUS_ADDRESS",
    "XDG_SESSION_TYPE",
    "DISPLAY",
    "XAUTHORITY",
)
#: the libraries that read the frames: in the agent's process they must come from the bundle
FROM_THE_BUNDLE = (
    "libgstpipewire.so",
    "libpipewire-0.3.so",
    "libpipewire-module-client-node.so",
    "libpipewire-module-protocol-native.so",
    "libspa-support.so",
    "libgstreamer-1.0.so",
    "_gi.",
)


@pytest.fixture(scope="module")
def wayland(netns: NetworkNamespace, e2e_dir: Path) -> Iterator[WaylandDesktop]:
    """One GNOME Wayland desktop inside the test namespace for the module."""
    desktop = start_desktop(
        netns.name, e2e_dir / "wayland-agent-file", "the Wayland end-to-end test of the built file"
    )
    yield desktop
    desktop.stop()


@pytest.fixture
def gtk_app(
    request: pytest.FixtureRequest, wayland: WaylandDesktop, workdir: Path, logs: Logs
) -> Iterator[GtkApp]:
    app = open_gtk_app(request, wayland, workdir, logs)
    yield app
    app.stop()


class WaylandAgentFile:
    """The downloaded file, started by the Wayland desktop with nothing but its session variables."""

    def __init__(self, netns: NetworkNamespace, desktop: WaylandDesktop, file: Path, workdir: Path) -> None:
        self.file = file
        self.home = file.parents[1]
        self.log = AgentLog(self.home / ".local" / "state" / "veo" / "agent.log")
        session = [f"{name}={desktop.env[name]}" for name in SESSION_VARIABLES if name in desktop.env]
        self.process = LoggedProcess(
            "veo-agent (downloaded file, Wayland)",
            netns.command(["env", "-i", *session, f"HOME={self.home}", f"PATH={MINIMAL_PATH}", str(file)]),
            workdir / "agent-file-output.log",
        )

    def mapped_files(self) -> dict[int, set[str]]:
        """The files mapped by each process running this file (the bootloader and the agent)."""
        found: dict[int, set[str]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if argv[0].decode(errors="replace") != str(self.file):
                    continue
                maps = (entry / "maps").read_text()
            except OSError:
                continue
            found[int(entry.name)] = {
                line.split(None, 5)[5] for line in maps.splitlines() if len(line.split()) == 6
            }
        return found

    def stop(self) -> None:
        self.process.stop()


def test_the_downloaded_file_shares_a_gnome_wayland_desktop_through_its_own_gstreamer(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    wayland: WaylandDesktop,
    gtk_app: GtkApp,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    put_in_place(veo_server)
    _ticket, _session_id, code = request_session(console, "The print button does nothing (Wayland, file)")
    file = download(veo_server, f"code={code}&lang=en", workdir / "home")
    config = read_embedded(file)
    assert config is not None and (config.server, config.code) == (veo_server.url, code)
    agent = WaylandAgentFile(netns, wayland, file, workdir)
    logs.add(agent.process)
    try:
        # veo's consent dialog (Tk through Xwayland), clicked with the compositor's own input
        wait_for("the agent to log `ui-geometry consent`", lambda: agent.log.geometry("consent"), 90, logs)
        wait_for("the agent to show the SAS (`sas=`)", agent.log.sas, 60, logs)
        consent = settled_layout(agent, "consent", after="sas=")  # type: ignore[arg-type]
        wait_for("Allow to be enabled", lambda: agent.log.contains("consent allow enabled"), 30, logs)
        click(wayland.env, *consent["allow"].center)
        # then GNOME's own dialog: the file asked the portal, so the desktop asks the user again
        dialog = answer_share_dialog(wayland.env, allow_control=True, timeout=60)
        assert dialog == "remote_desktop"
        wait_for("the session to start", lambda: agent.log.contains("session started granted="), 60, logs)
        assert not agent.log.contains("no_gstreamer"), agent.log.lines()[-20:]
        console.wait_conn_state("active")
        console.confirm_codes_match()
        wait_for(
            "the agent to hear the codes confirmed",
            lambda: agent.log.contains("technician confirmed sas=True"),
            30,
            logs,
        )

        # the technician sees the Wayland application: frames came through pipewiresrc
        console.wait_video_colour(*gtk_app.widget("block").center, BLOCK_RGB, COLOUR_TOLERANCE)
        assert sorted(agent.log.granted() or []) == ["control", "view"]

        # ... read by the bundle's GStreamer, PyGObject and PipeWire client, none of the system's
        mapped = agent.mapped_files()
        reader = [files for files in mapped.values() if any("libgstpipewire.so" in f for f in files)]
        assert len(reader) == 1, f"no process of the file has pipewiresrc loaded: {sorted(mapped)}"
        files = reader[0]
        for name in FROM_THE_BUNDLE:
            paths = [f for f in files if name in Path(f).name]
            assert paths, f"{name} is not loaded in the agent"
            assert all(p.startswith("/tmp/_MEI") for p in paths), f"{name} is not the bundle's: {paths}"
        system = sorted(
            f
            for f in files
            if any(
                part in f for part in ("/gstreamer-1.0/", "/spa-0.2/", "/pipewire-0.3/", "/girepository-1.0/")
            )
            and "/_MEI" not in f
        )
        assert not system, f"the agent loaded the system's GStreamer or PipeWire files: {system}"

        # and the technician's click presses the application's button
        console.wait_control_state("active")
        console.click_screen(*gtk_app.widget("button").center)
        pressed = gtk_app.wait_event(
            "the console's click to press the button", lambda e: e["event"] == "clicked"
        )
        assert pressed["label"] == "Pressed 1" != START_LABEL
        assert "Traceback" not in agent.process.text()
    finally:
        agent.stop()
