"""A real start of ``veo agent`` to its code window: the window comes before the session's stack.

The agent runs in a child process on a private Xvfb (nothing listens at its server: the code window
comes before any connection). A small wrapper notes which modules are loaded when the code window
is built and when X maps it, then waits for the stack that the loop thread loads once the window is
shown (so a code typed later does not wait for it), and ends the agent with SIGTERM as a desktop
would. Issue 15: aiortc alone was 0.6 s of the 1.6 s start.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.xvfb import xvfb_display

pytestmark = pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")

SESSION_ONLY = ("aiortc", "av", "numpy", "mss", "veo.agent.stream", "veo.agent.cursor")

WRAPPER = """
import json, os, signal, sys, time
from veo.agent.ui import code
from veo.agent.main import main

HEAVY = sys.argv[1].split(",")
seen = {}
original = code.CodeWindow.__init__


def loaded():
    return sorted(m for m in HEAVY if m in sys.modules)


def wrapped(self, root, *args, **kwargs):
    seen["built"] = loaded()
    original(self, root, *args, **kwargs)  # places the window: Tk maps it and waits for X to say so
    seen["mapped"] = loaded() if self.window.winfo_ismapped() else ["(not mapped yet)"]
    started = time.monotonic()

    def later():  # the stack is loaded after the window, in the background; then quit as a desktop would
        stream = sys.modules.get("veo.agent.stream")
        if getattr(stream, "ScreenTrack", None) is not None or time.monotonic() - started > 60:
            seen["later"] = loaded()
            os.kill(os.getpid(), signal.SIGTERM)
        else:
            root.after(20, later)

    root.after(20, later)


code.CodeWindow.__init__ = wrapped
status = main(["--server", "http://127.0.0.1:9", "--lang", "en", "--log-file", sys.argv[2]])
print(json.dumps({"status": status, **seen}))
"""


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display() as name:
        yield name


def test_code_window_is_mapped_before_aiortc_av_numpy_are_imported(display: str, tmp_path: Path) -> None:
    env = {**os.environ, "DISPLAY": display, "HOME": str(tmp_path), "XDG_STATE_HOME": str(tmp_path)}
    env.pop("VEO_AGENT_BACKEND", None)
    result = subprocess.run(
        [sys.executable, "-c", WRAPPER, ",".join(SESSION_ONLY), str(tmp_path / "agent.log")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["built"] == []
    assert seen["mapped"] == []  # X shows the window before any of the session's stack is imported
    assert seen["later"] == sorted((*SESSION_ONLY[:3], "veo.agent.cursor", "veo.agent.stream"))
    assert seen["status"] == 0  # SIGTERM with no session: the agent ends quietly
