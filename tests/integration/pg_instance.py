"""A PostgreSQL server of the test's own, on a free loopback port, that the test may stop and start.

The machine's PostgreSQL (127.0.0.1:5432) is shared by every test and must never be restarted;
a test of what veo does while the database is down runs Debian's ``initdb`` and ``pg_ctl`` on a
temporary directory instead. Settings favour speed over durability (no fsync): the data is
thrown away. Run as root (as the tests may be), the server runs as the ``postgres`` account,
since PostgreSQL refuses to run as root.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from tests.integration.redis_process import free_port

FAST = "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=50"


def _binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresInstance:
    """One throwaway cluster: ``start()``, ``stop()`` (fast shutdown), ``url``."""

    def __init__(self, directory: Path, binaries: Path) -> None:
        self.directory = directory
        self.data = directory / "data"
        self.binaries = binaries
        self.port = free_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self._as: list[str] = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *command: str) -> None:
        result = subprocess.run(
            [*self._as, *command], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"{command[0]} failed: {result.stdout}{result.stderr}")

    def init(self) -> None:
        if self._as:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(str(self.binaries / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust",
                  "--no-sync", "-E", "UTF8", "--locale=C.UTF-8")  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 {FAST}"
        log = str(self.directory / "server.log")
        self._run(
            str(self.binaries / "pg_ctl"), "-D", str(self.data), "-o", options, "-l", log, "-w", "start"
        )

    def stop(self) -> None:
        """Fast shutdown: open transactions are rolled back, clients disconnected."""
        self._run(str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """Immediate shutdown, for clean-up when a fast one did not finish."""
        subprocess.run([*self._as, str(self.binaries / "pg_ctl"), "-D", str(self.data), "-m", "immediate",
                        "stop"], check=False, capture_output=True, timeout=60)  # fmt: skip

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


def _skip(reason: str) -> None:
    pytest.skip(f"the test needs {reason}")


@contextmanager
def postgres_instance(
    prefix: str = "veo-pg-", unavailable: Callable[[str], None] = _skip
) -> Iterator[PostgresInstance]:
    """A started instance, stopped and deleted at the end.

    Where PostgreSQL is missing, ``unavailable`` gets the reason: a skip by default; the
    end-to-end suites pass theirs, which fails in CI. The directory is under the system's
    temporary directory, which the ``postgres`` account may enter (root's private ones it may not).
    """
    binaries = _binaries()
    if binaries is None:
        unavailable("PostgreSQL's server binaries (/usr/lib/postgresql/*/bin; the postgresql package)")
        raise AssertionError("unreachable: unavailable() skips or fails the test")
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    instance = PostgresInstance(directory, binaries)
    try:
        instance.init()
        instance.start()
        yield instance
    finally:
        if instance.running():
            try:
                instance.stop()
            except (RuntimeError, subprocess.TimeoutExpired):
                instance.kill()
        shutil.rmtree(directory, ignore_errors=True)
