"""Two network namespaces for the resume tests: the user's computer behind a link the test cuts.

::

    agent's namespace (A)                          server's namespace (S)
    uplink 10.95.0.2/24  <------- veth ------->    to-agent 10.95.0.1/24
    127.0.0.1:8765 -> 10.95.0.1:8765 (forwarder)   veo server on 0.0.0.0:8765, Chromium (the console)

Why this shape: every way a session can lose its connection must be made for real, on one side
only. The agent's link can be set down and up (the media and the agent's signaling both cross
it), the agent's signaling can be cut alone (the forwarder in A is the agent's one TCP path to
the server: stopping it closes that connection on both ends), and the server can be stopped and
started on the same data directory while the agent and the console stay. The agent reaches the
server at ``http://127.0.0.1:8765`` through the forwarder because it refuses plain ``ws://`` to
anything but this computer (``agent/urls.py``), as in the TURN test.

Routes: ``ip link set down`` removes the link's connected route and ``up`` normally puts it back;
:meth:`ResumeNetwork.link_up` checks and re-adds it if the kernel did not.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .netns import NamespaceError
from .procs import LoggedProcess, Logs, wait_for
from .relay_net import FORWARDER, BareNamespace, connect_result
from .stack import SERVER_PORT, VeoServer

SERVER_SIDE = "10.95.0.1"
AGENT_SIDE = "10.95.0.2"
PREFIX = 24
AGENT_DEVICE = "uplink"
SERVER_DEVICE = "to-agent"


def _run(*argv: str) -> str:
    result = subprocess.run(list(argv), capture_output=True, text=True, check=False, timeout=20)
    if result.returncode != 0:
        raise NamespaceError(f"`{' '.join(argv)}` failed: {result.stderr.strip()}")
    return result.stdout


class ResumeNetwork:
    """The two namespaces and their one link (see the module's drawing)."""

    def __init__(self, prefix: str) -> None:
        self.server = BareNamespace(f"{prefix}-s")
        self.agent = BareNamespace(f"{prefix}-a")

    def create(self) -> None:
        created: list[BareNamespace] = []
        try:
            for namespace in (self.server, self.agent):
                namespace.create()
                created.append(namespace)
            s, a = self.server.name, self.agent.name
            _run(
                "ip",
                "-n",
                s,
                "link",
                "add",
                SERVER_DEVICE,
                "type",
                "veth",
                "peer",
                "name",
                AGENT_DEVICE,
                "netns",
                a,
            )
            _run("ip", "-n", s, "addr", "add", f"{SERVER_SIDE}/{PREFIX}", "dev", SERVER_DEVICE)
            _run("ip", "-n", a, "addr", "add", f"{AGENT_SIDE}/{PREFIX}", "dev", AGENT_DEVICE)
            _run("ip", "-n", s, "link", "set", SERVER_DEVICE, "up")
            _run("ip", "-n", a, "link", "set", AGENT_DEVICE, "up")
        except NamespaceError:
            for namespace in created:
                namespace.delete()
            raise

    def delete(self) -> None:
        for namespace in (self.agent, self.server):
            namespace.delete()

    # ------------------------------------------------------------------ the agent's link

    def link_down(self) -> None:
        """The user's network goes away: the agent's end of the link is set down."""
        _run("ip", "-n", self.agent.name, "link", "set", AGENT_DEVICE, "down")

    def link_up(self) -> None:
        """The network comes back; the connected routes are checked on both ends (re-added if the
        kernel dropped them), and the link is proved to carry TCP again before returning."""
        _run("ip", "-n", self.agent.name, "link", "set", AGENT_DEVICE, "up")
        for namespace, device, address in (
            (self.agent, AGENT_DEVICE, AGENT_SIDE),
            (self.server, SERVER_DEVICE, SERVER_SIDE),
        ):
            routes = _run("ip", "-n", namespace.name, "-4", "route", "show", "dev", device)
            if "10.95.0.0/24" not in routes:
                _run(
                    "ip", "-n", namespace.name, "route", "replace", f"10.95.0.0/{PREFIX}",
                    "dev", device, "src", address,
                )  # fmt: skip

    def link_is_up(self) -> bool:
        out = _run("ip", "-n", self.agent.name, "-o", "link", "show", AGENT_DEVICE)
        return "state UP" in out or ",UP" in out.split(">")[0]

    def reaches_server(self) -> bool:
        """A TCP connect from the agent's namespace to the server's address works."""
        return connect_result(self.agent, SERVER_SIDE, SERVER_PORT) == "ok"


class Forwarder:
    """``127.0.0.1:8765`` in the agent's namespace forwarded to the server: the agent's signaling.

    Stopping it cuts the agent's WebSocket on both ends (the process holds both TCP halves);
    starting it again lets the agent reconnect to the same URL.
    """

    def __init__(self, network: ResumeNetwork, workdir: Path, logs: Logs) -> None:
        self.network = network
        self.workdir = workdir
        self.logs = logs
        self.process: LoggedProcess | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.process = LoggedProcess(
            f"forwarder #{self.starts}",
            self.network.agent.command(
                [sys.executable, str(FORWARDER), f"127.0.0.1:{SERVER_PORT}", f"{SERVER_SIDE}:{SERVER_PORT}"]
            ),
            self.workdir / "forwarder.log",
        )
        self.logs.add(self.process)
        process, starts = self.process, self.starts
        wait_for(
            "the agent's forwarder to listen",
            lambda: process.text().count("forwarding ") >= starts,
            20,
            self.logs,
        )

    def cut(self) -> None:
        """Kill it: every connection through it ends at once (a reset, not a clean close)."""
        if self.process is not None:
            self.process.stop(grace_seconds=0)
            self.process = None

    def stop(self) -> None:
        self.cut()


def restart_server(server: VeoServer, logs: Logs, down_seconds: float = 0.0, crash: bool = False) -> None:
    """Stop ``veo server`` and start it again on the same data directory and database.

    ``crash``: SIGKILL, so the old process writes nothing more (no audit of the sockets it
    loses); otherwise SIGTERM, the operator's restart. :meth:`VeoServer.start` would run
    ``veo admin init`` and create the technician again; a restart is only the process, started
    the way the first one was.
    """
    assert server.process is not None
    argv, log_path, env = server.process.argv, server.process.log_path, server.env
    if crash:
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.stop()
    if down_seconds:
        time.sleep(down_seconds)
    server.process = LoggedProcess("veo server (restarted)", argv, log_path, env=env)
    logs.add(server.process)
    wait_for("the restarted veo server to answer /healthz", server._healthy, 60, logs)
