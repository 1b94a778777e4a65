"""An Xvfb display and the real mouse on it (xdotool), as a person at the computer would use it.

Xvfb picks its own free display number (``-displayfd``), so parallel runs and other engineers'
displays never collide. ``-nolisten local`` turns off the abstract socket (which is per network
namespace) so that clients in any namespace reach this server through its filesystem socket
``/tmp/.X11-unix/X<n>`` only.
"""

from __future__ import annotations

import os
import select
import subprocess
from dataclasses import dataclass
from pathlib import Path

from .netns import NetworkNamespace
from .procs import LoggedProcess

WIDTH, HEIGHT = 1280, 720


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
    """``Xvfb -displayfd`` started inside the namespace; ``display`` is ``":<n>"`` once ready."""

    def __init__(self, netns: NetworkNamespace, log_path: Path, timeout: float = 20.0) -> None:
        read_fd, write_fd = os.pipe()
        argv = netns.command(
            [
                "Xvfb",
                "-displayfd",
                str(write_fd),
                "-screen",
                "0",
                f"{WIDTH}x{HEIGHT}x24",
                "-nolisten",
                "tcp",
                "-nolisten",
                "local",
                "-noreset",
                "-br",
            ]
        )
        log = log_path.open("ab")
        try:
            proc = subprocess.Popen(
                argv, stdout=log, stderr=subprocess.STDOUT, pass_fds=(write_fd,), start_new_session=True
            )
        finally:
            os.close(write_fd)
            log.close()
        self.process = LoggedProcess.adopt("xvfb", proc, log_path)
        number = b""
        try:
            while not number.endswith(b"\n"):
                ready, _, _ = select.select([read_fd], [], [], timeout)
                chunk = os.read(read_fd, 16) if ready else b""
                if not chunk:
                    self.process.stop()
                    raise RuntimeError(f"Xvfb did not report a display number:\n{self.process.tail()}")
                number += chunk
        finally:
            os.close(read_fd)
        self.display = f":{int(number)}"

    def env(self) -> dict[str, str]:
        return {**os.environ, "DISPLAY": self.display}

    def xdotool(self, *args: str) -> str:
        result = subprocess.run(
            ["xdotool", *args], env=self.env(), capture_output=True, text=True, timeout=20, check=False
        )
        if result.returncode != 0:
            raise RuntimeError(f"xdotool {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def click(self, x: int, y: int) -> None:
        """Move the real pointer to (x, y) and press + release the left button, as a user would."""
        self.xdotool("mousemove", "--sync", str(x), str(y))
        self.xdotool("click", "1")

    def click_rect(self, rect: Rect) -> None:
        self.click(*rect.center)

    def stop(self) -> None:
        self.process.stop()
