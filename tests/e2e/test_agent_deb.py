"""The package for desktops IT manages (issue 15): ``dpkg -i``, then the join page's *Open veo* link.

The operator builds the ``.deb`` from the build in place (``veo admin agent package-deb``), configured
for this server only. Installed with ``dpkg -i`` on this machine (the test runs as root and purges it
afterwards), it makes veo the handler of ``veo:`` links: ``xdg-open`` of a join link starts the
installed agent with the code (the technician's console sees the user join), and a link that names
another server is refused with a sentence: a web page cannot point an installed agent elsewhere.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from veo.protocol.agent_config import join_link

from .agent_file import bare_environment, put_in_place
from .console import Console
from .flow import request_session
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .stack import VeoServer
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]
PACKAGE = "veo-agent"


def _must(condition: bool, reason: str) -> None:
    if condition:
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason, pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def installed(veo_server: VeoServer) -> Iterator[Path]:
    """The operator's ``.deb`` for this server, installed with ``dpkg -i``; purged afterwards."""
    _must(os.geteuid() == 0, "installing a package needs root")
    _must(shutil.which("dpkg") is not None and shutil.which("xdg-open") is not None, "dpkg and xdg-utils")
    put_in_place(veo_server)
    veo_server.admin("agent", "package-deb", "--server", veo_server.url, "--organization", "veo support")
    debs = sorted((veo_server.workdir / "data" / "agents").glob("*.deb"))
    assert len(debs) == 1, debs
    result = subprocess.run(
        ["dpkg", "-i", str(debs[0])], capture_output=True, text=True, timeout=120, check=False
    )
    try:
        assert result.returncode == 0, result.stdout + result.stderr
        yield debs[0]
    finally:
        subprocess.run(["dpkg", "--purge", PACKAGE], capture_output=True, timeout=120, check=False)
    assert not Path("/usr/bin/veo-agent").exists(), "dpkg --purge left /usr/bin/veo-agent behind"


def _open_link(
    netns: NetworkNamespace, display: XvfbDisplay, link: str, home: Path, log: Path
) -> LoggedProcess:
    """``xdg-open LINK`` as the browser does for a scheme it hands to the system."""
    home.mkdir(parents=True, exist_ok=True)
    return LoggedProcess(
        "xdg-open veo link", netns.command([*bare_environment(display, home), "xdg-open", link]), log
    )


def test_installed_package_opens_veo_links_for_its_own_server_only(
    installed: Path,
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    home = workdir / "home"
    home.mkdir(exist_ok=True)
    query = subprocess.run(
        [*bare_environment(xvfb, home), "xdg-mime", "query", "default", "x-scheme-handler/veo"],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert query.stdout.strip() == "veo-agent.desktop", query.stdout + query.stderr

    _ticket, _session, code = request_session(console, "Installed veo from the IT department")
    opened = _open_link(netns, xvfb, join_link(veo_server.url, code), home, workdir / "open-ours.log")
    logs.add(opened)
    try:
        # the installed agent joined with the link's code: the technician sees the user arrive
        console.wait_conn_state("connected", timeout=60)
        agent_log = home / ".local" / "state" / "veo" / "agent.log"
        wait_for("the consent dialog", lambda: "ui-geometry consent" in _read(agent_log), 60, logs)
    finally:
        opened.stop()

    foreign = _open_link(
        netns, xvfb, join_link("https://support.attacker.example", "123456789"), workdir / "home2",
        workdir / "open-foreign.log",
    )  # fmt: skip
    logs.add(foreign)
    try:
        wait_for(
            "the installed agent to refuse the other server",
            lambda: "support.attacker.example" in foreign.text() and "did not connect" in foreign.text(),
            timeout=30,
            logs=logs,
        )
        assert "Traceback" not in foreign.text()
    finally:
        foreign.stop()


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except FileNotFoundError:
        return ""
