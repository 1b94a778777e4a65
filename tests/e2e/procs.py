"""Processes with a log file each, and bounded waits whose failure message carries those logs.

Every e2e failure should say *which side* failed: each wait names what it waited for and appends
the tail of the logs the test registered (server, agent, app, ...).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")
POLL_SECONDS = 0.1


class LoggedProcess:
    """A child process whose stdout and stderr go to ``log_path``; stopped gently, then killed."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        stdin_text: str | None = None,
    ) -> None:
        self.name = name
        self.argv = list(argv)
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            self.argv,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.PIPE if stdin_text is not None else subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )
        if stdin_text is not None and self.proc.stdin is not None:
            self.proc.stdin.write(stdin_text.encode())
            self.proc.stdin.close()

    @classmethod
    def adopt(cls, name: str, proc: subprocess.Popen[bytes], log_path: Path) -> LoggedProcess:
        """Wrap a process started elsewhere (e.g. with extra file descriptors) writing to ``log_path``."""
        self = cls.__new__(cls)
        self.name = name
        self.argv = [str(a) for a in proc.args] if isinstance(proc.args, list) else [str(proc.args)]
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = proc
        return self

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.text().splitlines()[-lines:])

    def stop(self, grace_seconds: float = 10.0) -> None:
        """SIGTERM the process, then SIGKILL its process group (ours: started a new session)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace_seconds)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self._log.close()


class Logs:
    """The logs one test cares about, so failures and the pytest report can show them."""

    def __init__(self) -> None:
        self.processes: list[LoggedProcess] = []

    def add(self, process: LoggedProcess) -> LoggedProcess:
        self.processes.append(process)
        return process

    def report(self, lines: int = 40) -> str:
        parts = []
        for process in self.processes:
            state = "running" if process.running() else f"exited rc={process.proc.returncode}"
            parts.append(f"----- {process.name} ({state}) {process.log_path}\n{process.tail(lines)}")
        return "\n".join(parts)


class WaitTimeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited and shows the logs."""


def wait_for(
    what: str,
    probe: Callable[[], T | None],
    timeout: float,
    logs: Logs | None = None,
    last: Callable[[], str] | None = None,
) -> T:
    """Poll ``probe`` until it returns something other than None/False, at most ``timeout`` s.

    ``last`` describes the last observed state for the failure message (e.g. the pixel seen).
    """
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        if time.monotonic() > deadline:
            seen = f"\nlast seen: {last()}" if last is not None else ""
            logs_text = f"\n{logs.report()}" if logs is not None else ""
            raise WaitTimeout(f"timed out after {timeout:.0f} s waiting for {what}{seen}{logs_text}")
        time.sleep(POLL_SECONDS)
