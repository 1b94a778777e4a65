"""The real veo parts, started the way an operator and a user start them: ``veo server``,
``veo admin create-user`` and ``veo agent``, each inside the test namespace.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import httpx

from .agent_log import AgentLog
from .netns import NetworkNamespace
from .procs import LoggedProcess, Logs, wait_for
from .xdisplay import XvfbDisplay

VEO = [sys.executable, "-m", "veo"]
SERVER_PORT = 8765  # the namespace is ours alone: a fixed port cannot collide
TECH_EMAIL = "tech@example.com"
TECH_NAME = "Ana Técnica"
TECH_PASSWORD = "correct horse battery staple 42"


def _clean_environment() -> dict[str, str]:
    """The caller's environment without VEO_* settings that would point us elsewhere."""
    return {k: v for k, v in os.environ.items() if not k.startswith("VEO_")}


class VeoServer:
    """``veo server`` on 127.0.0.1 inside the namespace, with its own SQLite data directory."""

    def __init__(
        self,
        netns: NetworkNamespace,
        workdir: Path,
        host: str = "127.0.0.1",
        settings: dict[str, str] | None = None,
    ) -> None:
        """``host``: the address it listens on inside the namespace (``0.0.0.0`` when peers in
        other namespaces reach it); ``settings``: more ``VEO_*`` variables (TURN, ICE policy)."""
        self.netns = netns
        self.workdir = workdir
        self.host = host
        self.url = f"http://127.0.0.1:{SERVER_PORT}"
        self.env = {
            **_clean_environment(),
            "VEO_DATA_DIR": str(workdir / "data"),
            "VEO_PUBLIC_URL": self.url,
            "VEO_LANGUAGE": "en",
            **(settings or {}),
        }
        (workdir / "data").mkdir(exist_ok=True)
        self.process: LoggedProcess | None = None

    def admin(self, *args: str, stdin: str | None = None) -> str:
        return self.cli("admin", *args, stdin=stdin)

    def cli(self, *args: str, stdin: str | None = None) -> str:
        """``veo <args>`` on this server's data directory; raises with its output if it fails."""
        result = subprocess.run(
            [*VEO, *args],
            input=stdin,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"`veo {' '.join(args)}` failed (rc={result.returncode}):\n{result.stdout}{result.stderr}"
            )
        return result.stdout

    def start(self) -> None:
        self.admin("init")
        self.admin(
            "create-user", TECH_EMAIL, "--name", TECH_NAME, "--role", "technician", "--password-stdin",
            stdin=TECH_PASSWORD + "\n",
        )  # fmt: skip
        self.process = LoggedProcess(
            "veo server",
            self.netns.command([*VEO, "server", "--host", self.host, "--port", str(SERVER_PORT)]),
            self.workdir / "server.log",
            env=self.env,
        )
        logs = Logs()
        logs.add(self.process)
        wait_for("veo server to answer /healthz", self._healthy, timeout=60, logs=logs)

    def _healthy(self) -> bool:
        if self.process is not None and not self.process.running():
            raise RuntimeError(f"veo server exited:\n{self.process.tail()}")
        try:
            return self.netns.http("GET", f"{self.url}/healthz").status_code == 200
        except httpx.HTTPError:
            return False

    def api(self, method: str, path: str, token: str | None = None, **kwargs: object) -> httpx.Response:
        """A REST call from inside the namespace, with a bearer token when given."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return self.netns.http(method, f"{self.url}{path}", headers=headers, **kwargs)

    def token(self) -> str:
        response = self.api(
            "POST", "/api/v1/auth/token", json={"email": TECH_EMAIL, "password": TECH_PASSWORD}
        )
        if response.status_code != 200:
            raise RuntimeError(f"POST /api/v1/auth/token -> {response.status_code}: {response.text[:500]}")
        token: str = response.json()["access_token"]
        return token

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class VeoAgent:
    """``veo agent --server URL --code CODE --log-file PATH`` on the test display."""

    def __init__(
        self,
        netns: NetworkNamespace,
        display: XvfbDisplay | None,
        server: VeoServer,
        code: str,
        workdir: Path,
        extra_args: tuple[str, ...] = (),
        desktop_env: Mapping[str, str] | None = None,
    ) -> None:
        """``extra_args``: more options, such as ``("--codec", "h264")``; ``desktop_env``: the
        environment of a desktop other than an Xvfb display (a Wayland session's, with
        ``display=None``)."""
        self.log = AgentLog(workdir / "agent.log")
        self.home = workdir / "home"
        self.home.mkdir(exist_ok=True)
        if desktop_env is not None:
            session = {k: v for k, v in desktop_env.items() if not k.startswith("VEO_")}
        elif display is not None:
            session = {**_clean_environment(), "DISPLAY": display.display}
        else:
            raise ValueError("the agent needs a display or a desktop environment")
        env = {
            **session,
            "VEO_AGENT_HISTORY": str(workdir / "history.jsonl"),
            "HOME": str(self.home),  # the user's ~/Downloads, where accepted files go
        }
        self.process = LoggedProcess(
            "veo agent",
            netns.command(
                [
                    *VEO,
                    "agent",
                    "--server",
                    server.url,
                    "--code",
                    code,
                    "--lang",
                    "en",
                    "--log-file",
                    str(self.log.path),
                    *extra_args,
                ]
            ),
            workdir / "agent-output.log",
            env=env,
        )

    def stop(self) -> None:
        self.process.stop()
