"""A redis-server of a test's own, on a free loopback port, that the test may kill and start again.

The shared Redis on 6379 must never be restarted, so fault tests run Debian's ``redis-server``
in a temporary folder, with nothing kept on disk (as the brief's deployments without persistence:
a restart forgets every key, stream and subscription).
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import redis

READY_SECONDS = 10.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


class RedisProcess:
    """``start``, ``kill`` (SIGKILL, as a crash) and ``start`` again on the same port."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        binary = shutil.which("redis-server") or "/usr/bin/redis-server"
        self.folder = folder
        self.port = port or free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self._command = [
            binary,
            "--port", str(self.port),
            "--bind", "127.0.0.1",
            "--save", "",
            "--appendonly", "no",
            "--dir", str(folder),
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = (self.folder / "redis.log").open("ab")
        self._process = subprocess.Popen(self._command, stdout=log, stderr=subprocess.STDOUT)
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=1)
        deadline = time.monotonic() + READY_SECONDS
        try:
            while True:
                try:
                    client.ping()
                    return
                except redis.ConnectionError:
                    if self._process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(
                            f"redis-server did not start: see {self.folder}/redis.log"
                        ) from None
                    time.sleep(0.05)
        finally:
            client.close()

    def kill(self) -> None:
        """Crash it: no shutdown, nothing saved (what SIGKILL or a lost machine does)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGKILL)
            self._process.wait()
        self._process = None

    def client(self) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=self.port, decode_responses=True)


@contextmanager
def running_redis(folder: Path) -> Iterator[RedisProcess]:
    """A started :class:`RedisProcess`, killed at the end; skips (fails in CI) without redis-server."""
    if not (shutil.which("redis-server") or Path("/usr/bin/redis-server").exists()):
        if os.environ.get("CI") == "true":
            pytest.fail("redis-server is required in CI (Debian package redis-server)")
        pytest.skip("redis-server is not installed")
    process = RedisProcess(folder)
    process.start()
    try:
        yield process
    finally:
        process.kill()
