"""A private Xvfb display for tests that need a real X server (input injection, Tk windows).

The display number is chosen explicitly and Xvfb takes its lock file: with ``-displayfd`` this
Xvfb writes no ``/tmp/.X<n>-lock``, so two test runs (or two fixtures) could pick the same number
and the second silently replaced the first one's socket. Numbers start high and depend on the
process id, away from the end-to-end harness (``tests/e2e/xdisplay.py``) and a developer's ``:0``.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

FIRST_DISPLAY = 600
ATTEMPTS = 40


@contextmanager
def xvfb_display(*extra_args: str, size: str = "1280x720x24", timeout: float = 30.0) -> Iterator[str]:
    """Start Xvfb on a free display and yield ``":<n>"``; stop it afterwards."""
    first = FIRST_DISPLAY + os.getpid() % 300
    for number in range(first, first + ATTEMPTS):
        if Path(f"/tmp/.X{number}-lock").exists() or Path(f"/tmp/.X11-unix/X{number}").exists():
            continue
        process = subprocess.Popen(
            ["Xvfb", f":{number}", "-screen", "0", size, "-nolisten", "tcp", "-noreset", *extra_args],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        socket = Path(f"/tmp/.X11-unix/X{number}")
        deadline = time.monotonic() + timeout
        while process.poll() is None and not socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        if process.poll() is not None:
            continue  # lost the race for this number: try the next one
        if not socket.exists():
            process.kill()
            process.wait()
            raise RuntimeError(f"Xvfb :{number} did not create its socket within {timeout:.0f} s")
        try:
            yield f":{number}"
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        return
    raise RuntimeError(f"no free X display between :{first} and :{first + ATTEMPTS - 1}")


def xdotool(display: str, *args: str, timeout: float = 30.0) -> str:
    """Run ``xdotool`` on ``display``; its output. A failure raises with xdotool's own words."""
    result = subprocess.run(
        ["xdotool", *args],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"xdotool {' '.join(args)} failed ({result.returncode}): {result.stderr.strip()}")
    return result.stdout


def pointer(display: str, timeout: float = 30.0) -> tuple[int, int]:
    """Where the real pointer is (``xdotool getmouselocation``)."""
    shell = xdotool(display, "getmouselocation", "--shell", timeout=timeout)
    fields = dict(item.split("=", 1) for item in shell.split())
    return int(fields["X"]), int(fields["Y"])


def move_pointer(display: str, x: int, y: int, timeout: float = 30.0) -> None:
    """Move the real pointer to (x, y) and wait until the server has it there.

    Not moved when it already rests there: ``mousemove --sync`` then waits 15 s for a motion that
    never comes (xdotool 3.20160805), as it did when a module's second test clicked *Allow* where
    the first one had (``tests/e2e/xdisplay.XvfbDisplay.click`` has the same rule).
    """
    if pointer(display, timeout) != (x, y):
        xdotool(display, "mousemove", "--sync", str(x), str(y), timeout=timeout)


def click(display: str, x: int, y: int, timeout: float = 30.0) -> None:
    """Press and release the left button at (x, y), as a user would (``timeout``: each xdotool's)."""
    move_pointer(display, x, y, timeout)
    xdotool(display, "click", "1", timeout=timeout)


def click_rect(display: str, rect: Sequence[int]) -> None:
    """:func:`click` the centre of a logged ``[x, y, width, height]`` rectangle (``ui-geometry``)."""
    x, y, width, height = rect
    click(display, x + width // 2, y + height // 2)
