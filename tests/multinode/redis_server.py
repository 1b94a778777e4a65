"""A ``redis-server`` of the test's own, inside the namespace, that the test may kill and restart.

The machine's Redis must not be restarted (other tests use it) and listens where the namespace
cannot reach; this one is started on a fixed port of the namespace (ours alone), without
persistence (``--save ''``, ``--appendonly no``): a restart comes back empty, the harshest case
for the nodes, which must rebuild what they keep there.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from pathlib import Path

from tests.e2e.netns import NetworkNamespace
from tests.e2e.procs import LoggedProcess, Logs, wait_for

REDIS_PORT = 6390


class RedisServer:
    """``redis-server --port 6390`` in ``netns``, writing ``redis.log`` in ``workdir``."""

    def __init__(self, netns: NetworkNamespace, workdir: Path, port: int = REDIS_PORT) -> None:
        self.netns = netns
        self.workdir = workdir
        self.port = port
        self.url = f"redis://127.0.0.1:{port}/0"
        self.process: LoggedProcess | None = None
        self.starts = 0

    def start(self, logs: Logs | None = None) -> None:
        self.starts += 1
        server = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.process = LoggedProcess(
            "redis-server" + (f" (start {self.starts})" if self.starts > 1 else ""),
            self.netns.command([server, *self._options()]),
            self.workdir / "redis.log",
        )
        watched = logs or Logs()
        watched.add(self.process)
        wait_for("redis-server to answer PING", self.answers, 20, watched)

    def _options(self) -> list[str]:
        return [
            "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
            "--dir", str(self.workdir), "--protected-mode", "yes",
        ]  # fmt: skip

    def answers(self) -> bool:
        """A PING from inside the namespace gets +PONG."""
        if self.process is not None and not self.process.running():
            raise RuntimeError(f"redis-server exited:\n{self.process.tail()}")

        def ping() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as conn:
                    conn.sendall(b"PING\r\n")
                    return conn.recv(64).startswith(b"+PONG")
            except OSError:
                return False

        return self.netns.run_inside(ping)

    def command(self, *args: str) -> str:
        """One command through ``redis-cli`` inside the namespace, its raw answer."""
        result = subprocess.run(
            self.netns.command(["redis-cli", "-p", str(self.port), *args]),
            capture_output=True, text=True, timeout=20, check=True,
        )  # fmt: skip
        return result.stdout

    def kill(self) -> None:
        """kill -9: everything it held in memory is gone."""
        assert self.process is not None
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.stop(grace_seconds=0)

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
