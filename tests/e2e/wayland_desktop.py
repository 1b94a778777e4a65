"""The headless GNOME Wayland desktop and its GTK application, as the Wayland end-to-end tests get them.

``test_wayland.py`` (the agent from this checkout) and ``test_agent_file_wayland.py`` (the downloaded
one-file agent) share one way to start the desktop, refuse to skip in CI, and register the
compositor's and portals' logs for failure reports.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import cast

import pytest

from veo.bench.wayland import WaylandDesktop, missing_tools

from .conftest import DISPLAY_KEY, WORKDIR_KEY
from .procs import LoggedProcess, Logs
from .wayland_session import SYSTEM_PYTHON, GtkApp, WaylandScreen
from .xdisplay import XvfbDisplay

SIZE = (1280, 720)


def _unavailable(what: str, reason: str) -> None:
    """Skip on a developer machine that cannot run them; fail in CI, where they must run."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{what} cannot run: {reason}", pytrace=False)
    pytest.skip(f"{what} needs {reason}")


def start_desktop(netns_name: str, directory: Path, what: str) -> WaylandDesktop:
    """mutter, Xwayland, PipeWire and the GNOME portal in the test namespace (stop it afterwards)."""
    missing = missing_tools()
    if missing or shutil.which(SYSTEM_PYTHON) is None:
        _unavailable(what, f"{', '.join(missing) or SYSTEM_PYTHON} (run `make system-packages`)")
    probe = subprocess.run(
        [SYSTEM_PYTHON, "-c", "import gi; gi.require_version('Gtk', '3.0'); from gi.repository import Gtk"],
        capture_output=True,
        check=False,
    )
    if probe.returncode != 0:
        _unavailable(what, "GTK 3 for the system Python (python3-gi, gir1.2-gtk-3.0: `make system-packages`)")
    desktop = WaylandDesktop(workdir=directory, size=SIZE, netns=netns_name)
    desktop.start()
    return desktop


def open_gtk_app(
    request: pytest.FixtureRequest, desktop: WaylandDesktop, workdir: Path, logs: Logs
) -> GtkApp:
    """The user's GTK application; a failure report gets the compositor's screenshot and logs."""
    # the failure report's screenshot comes from the compositor (the hook only calls screenshot())
    request.node.stash[DISPLAY_KEY] = cast(XvfbDisplay, WaylandScreen(desktop))
    request.node.stash[WORKDIR_KEY] = workdir
    for name in ("mutter", "xdg-desktop-portal", "xdg-desktop-portal-gnome"):
        proc = next(p for p in desktop.procs._live if p.name == name)
        logs.add(LoggedProcess.adopt(name, proc.proc, proc.log_path))
    return GtkApp(desktop, workdir, logs)
