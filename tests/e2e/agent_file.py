"""The one-file agent as a user gets it: downloaded from the server's ``/download``, run as is.

``make agent`` builds ``dist/agent/veo-agent-linux-x86_64`` (``packaging/build_agent.py``) before the
end-to-end phase of ``make test``; the operator puts it in place with ``veo admin agent add``. The
user's copy is what the server hands out, configuration appended; it runs under ``env -i`` with a
minimal ``PATH`` and a fresh ``HOME``: nothing of this checkout's virtualenv or ``VEO_*`` settings,
no command-line option. Its log is where a user's would be (``~/.local/state/veo/agent.log``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from .agent_log import AgentLog
from .netns import NetworkNamespace
from .procs import LoggedProcess
from .stack import VeoServer
from .xdisplay import XvfbDisplay

REPO = Path(__file__).resolve().parents[2]
BUILT = REPO / "dist" / "agent" / "veo-agent-linux-x86_64"
#: What a desktop session has at least; nothing from this checkout.
MINIMAL_PATH = "/usr/bin:/bin"


def built_agent() -> Path:
    """The file ``make agent`` built; with ``CI=true`` its absence fails (``make test`` builds it)."""
    if not BUILT.is_file():
        reason = f"{BUILT.relative_to(REPO)} is missing: run `make agent`"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason, pytrace=False)
        pytest.skip(reason)
    return BUILT


def put_in_place(server: VeoServer) -> None:
    """``veo admin agent add``, as the operator does once (again: the same build, replaced)."""
    server.admin("agent", "add", str(built_agent()))


def download(server: VeoServer, query: str, home: Path) -> Path:
    """``GET /download/linux-x86_64?<query>`` saved as the browser would, made executable as the
    download page tells the user to."""
    response = server.api("GET", f"/download/linux-x86_64?{query}")
    assert response.status_code == 200, (
        f"/download/linux-x86_64?{query} -> {response.status_code}: {response.text[:300]}"
    )
    downloads = home / "Downloads"
    downloads.mkdir(parents=True, exist_ok=True)
    path = downloads / "veo-agent"
    path.write_bytes(response.content)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def bare_environment(display: XvfbDisplay, home: Path) -> list[str]:
    """``env -i`` and the little a desktop session passes to a program it starts."""
    return ["env", "-i", f"DISPLAY={display.display}", f"PATH={MINIMAL_PATH}", f"HOME={home}"]


class AgentFile:
    """The downloaded file started with no option at all (a double click), in the namespace."""

    def __init__(self, netns: NetworkNamespace, display: XvfbDisplay, file: Path, workdir: Path) -> None:
        self.home = file.parents[1]
        self.log = AgentLog(self.home / ".local" / "state" / "veo" / "agent.log")
        self.process = LoggedProcess(
            "veo-agent (downloaded file)",
            netns.command([*bare_environment(display, self.home), str(file)]),
            workdir / "agent-file-output.log",
        )

    def stop(self) -> None:
        self.process.stop()
