"""The agent's Tk roots have no ``send``: another X client on the display cannot run Tcl in them
(review R1-13: a root-owned veo window on a user's display gave that user root)."""

from __future__ import annotations

import os
import subprocess
import sys
import tkinter as tk
from collections.abc import Iterator

import pytest
from tests.tk_process import run_in_tk
from tests.xvfb import xvfb_display

from veo.agent.ui.tk_root import new_root


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display() as name:
        yield name


def _send_only_on_the_plain_root(plain: tk.Tk) -> None:
    """In a fresh process (``tests/tk_process.py``: Tk keeps its X connection until its process
    exits, and one left in pytest outlives the module's Xvfb and kills pytest later)."""
    assert plain.tk.call("info", "commands", "send")  # what the fix takes away
    root = new_root()
    try:
        assert not root.tk.call("info", "commands", "send")
        assert "veo-agent" not in str(root.tk.call("winfo", "interps"))  # unregistered with it
    finally:
        root.destroy()


def test_a_plain_tk_root_has_send_and_the_agents_has_not(display: str) -> None:
    run_in_tk(display, _send_only_on_the_plain_root)


def test_another_client_on_the_display_cannot_send_to_the_agent(display: str, tmp_path: object) -> None:
    """A real second Tk program on the display tries ``send``: the agent's interpreter is not
    even registered (a plain Tk one would be, which the first test shows it has)."""
    env = {**os.environ, "DISPLAY": display}
    agent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from veo.agent.ui.tk_root import new_root\n"
            "r = new_root(); r.after(8000, r.destroy); print('up', flush=True); r.mainloop()",
        ],
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert agent.stdout is not None and agent.stdout.readline().strip() == "up"
        probe = subprocess.run(
            [
                sys.executable,
                "-c",
                "import tkinter as tk\n"
                "r = tk.Tk(); r.withdraw()\n"
                "print(repr(r.tk.call('winfo', 'interps')))\n"
                "try:\n"
                "    r.tk.call('send', 'veo-agent', 'exec', 'touch', 'PWNED')\n"
                "    print('sent')\n"
                "except tk.TclError as e:\n"
                "    print('refused', e)\n",
            ],
            env=env,
            capture_output=True,
            text=True,
            timeout=30,
            cwd=str(tmp_path),
        )
        assert "sent" not in probe.stdout.splitlines(), probe.stdout + probe.stderr
        assert not (tmp_path / "PWNED").exists()  # type: ignore[operator]
    finally:
        agent.kill()
        agent.wait()
