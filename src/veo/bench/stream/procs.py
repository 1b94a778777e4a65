"""Child processes with a log file each, stopped for sure, and bounded waits that say what failed.

The bench starts a dozen processes (Xvfb, server, agent, workload, x11vnc, websockify, relay,
Chromium); each gets its own process group so that stopping it stops its children too, and every
one is registered with the :class:`Processes` book so that Ctrl-C or a crash still stops them all.
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


class BenchError(RuntimeError):
    """Something the bench needs did not happen; the message says what and where to look."""


class Proc:
    """A child process whose stdout and stderr go to ``log_path``; TERM, then KILL its group."""

    def __init__(
        self,
        name: str,
        argv: Sequence[str],
        log_path: Path,
        env: Mapping[str, str] | None = None,
        stdout_pipe: bool = False,
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        self.proc = subprocess.Popen(
            list(argv),
            stdout=subprocess.PIPE if stdout_pipe else self._log,
            stderr=self._log,
            stdin=subprocess.DEVNULL,
            env=dict(env) if env is not None else None,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def running(self) -> bool:
        return self.proc.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_seconds: float = 5.0) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(grace_seconds)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


class Processes:
    """Every process of a run, stopped newest first on :meth:`stop_all` (idempotent)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self._live: list[Proc] = []

    def start(
        self,
        name: str,
        argv: Sequence[str],
        env: Mapping[str, str] | None = None,
        stdout_pipe: bool = False,
    ) -> Proc:
        safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)
        proc = Proc(name, argv, self.workdir / f"{safe}.log", env, stdout_pipe)
        self._live.append(proc)
        return proc

    def stop(self, proc: Proc) -> None:
        proc.stop()
        if proc in self._live:
            self._live.remove(proc)

    def stop_all(self) -> None:
        while self._live:
            self._live.pop().stop()


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, *watch: Proc) -> T:
    """Poll ``probe`` until it returns something truthy; fail if time runs out or a watched
    process exits (its log tail goes into the message)."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value is not None and value is not False:
            return value
        for proc in watch:
            if not proc.running():
                raise BenchError(f"{proc.name} exited while waiting for {what}:\n{proc.tail()}")
        if time.monotonic() > deadline:
            tails = "".join(f"\n--- {p.name} ({p.log_path})\n{p.tail()}" for p in watch)
            raise BenchError(f"timed out after {timeout:.0f} s waiting for {what}{tails}")
        time.sleep(0.1)
