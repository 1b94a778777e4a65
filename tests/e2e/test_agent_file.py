"""The agent as users get it (issue 15): one file from the server's ``/download``, no terminal.

The built file (``make agent``) is put in place with ``veo admin agent add``; the user's copy comes
from a join link's download, so it already knows the server, the organization and the session's
code; it runs with ``env -i`` (no virtualenv, no ``VEO_*``, no option), and the session is the same
as with ``veo agent``: consent dialog, *Allow*, the technician's click changes the application.
A copy whose configuration was cut short or edited tells the user so in a sentence.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from veo.protocol.agent_config import END, START, read_embedded

from .agent_file import AgentFile, download, put_in_place
from .console import Console
from .demo import DemoApp
from .flow import start_session
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .stack import VeoServer
from .xdisplay import XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]


def test_the_downloaded_file_runs_a_whole_session_with_nothing_typed(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    demo_app: DemoApp,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    put_in_place(veo_server)
    started: list[AgentFile] = []

    def launch(code: str) -> AgentFile:  # the user follows the join link's download, then opens it
        file = download(veo_server, f"code={code}&lang=en", workdir / "home")
        config = read_embedded(file)
        assert config is not None, "the download carries no configuration"
        assert (config.server, config.code) == (veo_server.url, code)
        assert config.organization == "veo support"  # the server's VEO_ORGANIZATION (its default)
        agent = AgentFile(netns, xvfb, file, workdir)
        started.append(agent)
        return agent

    try:
        live = start_session(
            netns=netns, server=veo_server, display=xvfb, app=demo_app, console=console,
            workdir=workdir, logs=logs, launch_agent=launch,  # type: ignore[arg-type]
        )  # fmt: skip
        button = live.app.widget("button")
        live.console.wait_control_state("active")
        live.console.click_screen(*button.center)
        state = live.app.wait_state("the console's click to press the button", lambda s: s.clicks == 1)
        assert state.label == "Pressed 1"
        # the code came from the file: the code window never opened
        assert started[0].log.geometry("code") is None
        assert "Traceback" not in started[0].process.text()
    finally:
        for agent in started:
            agent.stop()


def _cut_short(data: bytes) -> bytes:
    return data[: -len(END) - 10]


def _edited(data: bytes) -> bytes:
    start = data.rindex(START) + len(START)
    return data[:start] + data[start:].replace(b"127.0.0.1", b"127.0.0.2", 1)


@pytest.mark.parametrize(("damage", "words"), [(_cut_short, "incomplete"), (_edited, "changed")])
def test_a_damaged_download_is_refused_with_a_sentence(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    xvfb: XvfbDisplay,
    workdir: Path,
    logs: Logs,
    damage: Callable[[bytes], bytes],
    words: str,
) -> None:
    put_in_place(veo_server)
    file = download(veo_server, "lang=en", workdir / "home")
    file.write_bytes(damage(file.read_bytes()))
    agent = AgentFile(netns, xvfb, file, workdir)
    logs.add(agent.process)
    try:
        wait_for(
            f"the agent to say the copy is {words}",
            lambda: words in agent.process.text(),
            timeout=30,
            logs=logs,
        )
        # and in a window too: it was started by a double click, not from a terminal
        window = wait_for(
            "the problem window",
            lambda: _window_named(xvfb, "veo"),
            timeout=15,
            logs=logs,
        )
        assert window
        assert "Traceback" not in agent.process.text()
    finally:
        agent.stop()
    assert agent.process.proc.returncode in (2, -15), agent.process.tail()


def _window_named(display: XvfbDisplay, name: str) -> str | None:
    result = subprocess.run(
        ["xdotool", "search", "--onlyvisible", "--name", name],
        env=display.env(),
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    return result.stdout.strip() or None
