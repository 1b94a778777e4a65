"""An Xvfb display and the real mouse on it (xdotool), as a person at the computer would use it.

The display number is chosen here, high and per process, and Xvfb gets it explicitly: with
``-displayfd`` this Xvfb writes no ``/tmp/.X<n>-lock``, so two servers picked the same number and
the second one silently replaced the first one's socket (seen on the shared CI box). With an
explicit number Xvfb takes the lock and refuses a number in use; we then try the next one.
``-nolisten local`` turns off the abstract socket (which is per network namespace) so that
clients in any namespace reach this server through ``/tmp/.X11-unix/X<n>`` only.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests import xvfb

from .netns import NetworkNamespace
from .procs import LoggedProcess, wait_for

#: how long one xdotool command may take on the e2e display
XDOTOOL_SECONDS = 20.0

WIDTH, HEIGHT = 1280, 720
FIRST_DISPLAY = 100  # -displayfd users start at 0: stay out of their way
ATTEMPTS = 40


@dataclass(frozen=True)
class Rect:
    """A screen (root window) rectangle in pixels."""

    x: int
    y: int
    width: int
    height: int

    @classmethod
    def from_list(cls, values: list[int]) -> Rect:
        x, y, width, height = (int(v) for v in values)
        return cls(x, y, width, height)

    @property
    def center(self) -> tuple[int, int]:
        return self.x + self.width // 2, self.y + self.height // 2

    def overlaps(self, other: Rect) -> bool:
        return not (
            self.x + self.width <= other.x
            or other.x + other.width <= self.x
            or self.y + self.height <= other.y
            or other.y + other.height <= self.y
        )


class XvfbDisplay:
    """Xvfb started inside the namespace on a free display; ``display`` is ``":<n>"`` once ready."""

    def __init__(
        self,
        netns: NetworkNamespace,
        log_path: Path,
        timeout: float = 30.0,
        size: tuple[int, int] = (WIDTH, HEIGHT),
    ) -> None:
        self.width, self.height = size
        first = FIRST_DISPLAY + os.getpid() % 400
        for number in range(first, first + ATTEMPTS):
            if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
                continue
            self.display = f":{number}"
            self.process = LoggedProcess(
                "xvfb",
                netns.command(
                    [
                        "Xvfb",
                        self.display,
                        "-screen",
                        "0",
                        f"{self.width}x{self.height}x24",
                        "-nolisten",
                        "tcp",
                        "-nolisten",
                        "local",
                        "-noreset",
                        "-br",
                    ]
                ),
                log_path,
            )
            if wait_for(f"Xvfb {self.display} to accept clients", self._settled, timeout) == "ready":
                return
            self.process.stop()  # lost the race for this number: try the next one
        raise RuntimeError(f"no free X display in {first}..{first + ATTEMPTS - 1}")

    def _settled(self) -> str | None:
        if not self.process.running():
            return "exited"
        probe = subprocess.run(["xdpyinfo"], env=self.env(), capture_output=True, check=False, timeout=10)
        return "ready" if probe.returncode == 0 else None

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def xdotool(self, *args: str) -> str:
        return xvfb.xdotool(self.display, *args, timeout=XDOTOOL_SECONDS)

    def pointer(self) -> tuple[int, int]:
        """Where the real pointer is (``xdotool getmouselocation``)."""
        return xvfb.pointer(self.display, XDOTOOL_SECONDS)

    def click(self, x: int, y: int) -> None:
        """Move the real pointer to (x, y) and press + release the left button, as a user would:
        :func:`tests.xvfb.click`, which does not move a pointer already resting there (the
        previous test's dialog had its Allow button at the same place: ``mousemove --sync`` then
        waited 15 s, and the session of every such test started 15 s late)."""
        xvfb.click(self.display, x, y, XDOTOOL_SECONDS)

    def click_rect(self, rect: Rect) -> None:
        self.click(*rect.center)

    def screenshot(self, path: Path) -> Path:
        """Save the whole display as PNG (attached to failure reports: what was on the screen)."""
        import mss
        import mss.tools

        with mss.MSS(display=self.display) as grabber:
            shot = grabber.grab(grabber.monitors[0])
            mss.tools.to_png(shot.rgb, shot.size, output=str(path))
        return path

    def stop(self) -> None:
        self.process.stop()
