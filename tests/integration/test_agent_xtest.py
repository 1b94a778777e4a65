"""The XTEST injector on a real X server (Xvfb), observed by a real Tk window and by xdotool.

No window manager runs, so X gives the keyboard to the window under the pointer: the test puts
the pointer over the observer window before typing, as a user's click would.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator

import pytest
from tests.xvfb import xvfb_display

from veo.agent.input.xtest import XTestInjector

pytestmark = [
    pytest.mark.timeout(60),
    pytest.mark.skipif(
        shutil.which("Xvfb") is None or shutil.which("xdotool") is None, reason="needs Xvfb, xdotool"
    ),
]

#: A window at +0+0 that prints every key press, key release and button press it receives.
OBSERVER = r"""
import sys, tkinter as tk
root = tk.Tk()
root.geometry("400x300+0+0")
def out(*parts):
    print(*parts, flush=True)
root.bind("<KeyPress>", lambda e: out("press", e.keysym, "".join(f"U+{ord(c):04X}" for c in e.char) or "-"))
root.bind("<KeyRelease>", lambda e: out("release", e.keysym))
root.bind("<ButtonPress>", lambda e: out("button", e.num, e.x_root, e.y_root))
root.bind("<ButtonRelease>", lambda e: out("button-up", e.num))
root.update()
out("ready")
root.mainloop()
"""


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display() as name:
        yield name


@pytest.fixture
def observer(display: str) -> Iterator[subprocess.Popen[str]]:
    proc = subprocess.Popen(
        [sys.executable, "-c", OBSERVER],
        env={**os.environ, "DISPLAY": display},
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    yield proc
    proc.terminate()
    proc.wait()


def lines_until(proc: subprocess.Popen[str], last: str) -> list[str]:
    """Observer lines up to and including the first one starting with ``last``."""
    assert proc.stdout is not None
    seen: list[str] = []
    while True:
        line = proc.stdout.readline()
        assert line, f"observer exited; saw {seen}"
        seen.append(line.strip())
        if line.startswith(last):
            return seen


def mouse_location(display: str) -> tuple[int, int]:
    out = subprocess.run(
        ["xdotool", "getmouselocation", "--shell"],
        env={**os.environ, "DISPLAY": display},
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(line.split("=", 1) for line in out.split())
    return int(values["X"]), int(values["Y"])


def test_pointer_moves_and_clamps(display: str) -> None:
    injector = XTestInjector(display)
    try:
        injector.pointer_move(640, 360)
        assert mouse_location(display) == (640, 360)
        injector.pointer_move(5000, 9000)
        assert mouse_location(display) == (1279, 719)
    finally:
        injector.close()


def test_click_wheel_and_keys_reach_a_window(display: str, observer: subprocess.Popen[str]) -> None:
    injector = XTestInjector(display)
    try:
        injector.pointer_button(50, 60, "left", True)
        injector.pointer_button(50, 60, "left", False)
        assert lines_until(observer, "button-up") == ["button 1 50 60", "button-up 1"]

        injector.pointer_button(70, 80, "right", True)
        injector.pointer_button(70, 80, "right", False)
        assert lines_until(observer, "button-up") == ["button 3 70 80", "button-up 3"]

        injector.wheel(70, 80, 0, 2)
        assert lines_until(observer, "button-up 5")[-1] == "button-up 5"
        assert lines_until(observer, "button-up 5")[-1] == "button-up 5"

        injector.key("Shift", "ShiftLeft", True)
        injector.key("A", "KeyA", True)
        injector.key("A", "KeyA", False)
        injector.key("Shift", "ShiftLeft", False)
        assert lines_until(observer, "release Shift_L") == [
            "press Shift_L -",
            "press A U+0041",
            "release A",
            "release Shift_L",
        ]

        injector.key("Enter", "Enter", True)
        injector.key("Enter", "Enter", False)
        injector.key("ArrowLeft", "ArrowLeft", True)
        injector.key("ArrowLeft", "ArrowLeft", False)
        injector.key("F5", "F5", True)
        injector.key("F5", "F5", False)
        pressed = [line for line in lines_until(observer, "release F5") if line.startswith("press")]
        assert [line.split()[1] for line in pressed] == ["Return", "Left", "F5"]
    finally:
        injector.close()


def test_text_types_any_character_and_release_all_releases(
    display: str, observer: subprocess.Popen[str]
) -> None:
    injector = XTestInjector(display)
    try:
        injector.pointer_move(100, 100)  # keyboard focus follows the pointer without a WM
        injector.text("Hi ñ€!")
        injector.key("Escape", "Escape", True)
        injector.key("Escape", "Escape", False)
        typed = [
            line.split(" ", 2)[2]
            for line in lines_until(observer, "release Escape")
            if line.startswith("press") and not line.startswith(("press Shift", "press Escape"))
        ]
        assert "".join(chr(int(code[2:], 16)) for code in typed) == "Hi ñ€!"

        injector.key("Control", "ControlLeft", True)
        injector.pointer_button(100, 100, "middle", True)
        injector.release_all()
        seen = lines_until(observer, "release Control_L")
        assert "press Control_L -" in seen and "button 2 100 100" in seen
        injector.key("Escape", "Escape", True)
        injector.key("Escape", "Escape", False)
        assert "button-up 2" in lines_until(observer, "release Escape")
    finally:
        injector.close()
