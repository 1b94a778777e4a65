"""An Xvfb display for one resolution, and the real mouse on it (xdotool).

Same choices as the end-to-end suite, for the same reasons: an explicit display number (Xvfb then
takes the lock and refuses a number in use, so two runs cannot share a socket) and
``-nolisten local`` (the abstract socket is per network namespace; the file socket in
``/tmp/.X11-unix`` is reachable from every namespace, so the bench itself can use xdotool).
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Protocol

from veo.bench.stream.lab import Lab
from veo.bench.stream.procs import BenchError, Proc, Processes, wait_for

FIRST_DISPLAY = 520
ATTEMPTS = 40


class Screen(Protocol):
    """What a session and a workload need of the user's screen: :class:`Display` (X11, Xvfb) or
    :class:`.wayland_screen.WaylandScreen` (the portal backend on a headless GNOME desktop)."""

    #: the agent's backend there: ``x11`` or ``portal``
    backend: str
    width: int
    height: int
    name: str

    def env(self) -> dict[str, str]: ...
    def agent_env(self) -> dict[str, str]: ...
    def agent_args(self) -> list[str]: ...
    def point(self, x: int, y: int) -> None: ...
    def click(self) -> None: ...
    def after_allow(self, control: bool) -> None: ...
    def rest_pointer(self) -> None: ...
    def server_pids(self) -> list[int]: ...
    def close(self) -> None: ...


class Display:
    """Xvfb ``width``×``height``×24 inside the user namespace; :attr:`name` is ``":<n>"``."""

    backend = "x11"

    def __init__(self, lab: Lab, procs: Processes, width: int, height: int) -> None:
        self.width, self.height = width, height
        self._procs = procs
        first = FIRST_DISPLAY + os.getpid() % 300
        for number in range(first, first + ATTEMPTS):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            self.name = f":{number}"
            self.proc: Proc = procs.start(
                f"xvfb-{width}x{height}",
                lab.in_user(
                    ["Xvfb", self.name, "-screen", "0", f"{width}x{height}x24", "-nolisten", "tcp",
                     "-nolisten", "local", "-noreset", "-br"]
                ),
            )  # fmt: skip
            if wait_for(f"Xvfb {self.name}", self._settled, 30) == "ready":
                return
            procs.stop(self.proc)
        raise BenchError(f"no free X display in {first}..{first + ATTEMPTS - 1}")

    def _settled(self) -> str | None:
        if not self.proc.running():
            return "exited"
        probe = subprocess.run(["xdpyinfo"], env=self.env(), capture_output=True, check=False, timeout=10)
        return "ready" if probe.returncode == 0 else None

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.name}

    def agent_env(self) -> dict[str, str]:
        return {"DISPLAY": self.name}

    def agent_args(self) -> list[str]:
        """Nothing: the agent chooses X11 on an X display (today's default, as users run it)."""
        return []

    def after_allow(self, control: bool) -> None:
        """Nothing: on X11 veo's consent is the only question."""

    def rest_pointer(self) -> None:
        """Nothing: on X11 the pointer travels as data, not in the picture."""

    def server_pids(self) -> list[int]:
        """The X server (its CPU is measured beside the agent's)."""
        return [self.proc.pid] if self.proc.running() else []

    def xdotool(self, *args: str) -> None:
        result = subprocess.run(
            ["xdotool", *args], env=self.env(), capture_output=True, text=True, timeout=20, check=False
        )
        if result.returncode != 0:
            raise BenchError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")

    def point(self, x: int, y: int) -> None:
        """The real pointer moves there, as the user's hand would.

        Not ``mousemove --sync``: when the pointer already rests there (the previous session's
        dialog had its Allow button at the same place) it waits ~15 s for a motion that never
        comes, which once passed for a 15 s session set-up.
        """
        self.xdotool("mousemove", str(x), str(y))

    def click(self) -> None:
        """Press and release the left button where the pointer is."""
        self.xdotool("click", "1")

    def close(self) -> None:
        self._procs.stop(self.proc)
