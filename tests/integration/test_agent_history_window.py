"""The user's session history on a real Tk in Xvfb: the window, its buttons, and ``veo agent --history``.

An entry is written to the history file beforehand, exactly as the agent writes it at a session's
end; the window must show it (newest first), survive a damaged file, and close with its button.
The command is clicked with xdotool at the rectangles it logs (``ui-geometry history``).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import tkinter as tk
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC
from pathlib import Path

import pytest
from tests.tk_process import tk_runner
from tests.xvfb import click_rect, xvfb_display

from veo.agent import history
from veo.agent.endings import ending
from veo.agent.ui.code import CodeWindow
from veo.agent.ui.common import Fonts
from veo.agent.ui.ended import EndedWindow
from veo.agent.ui.history import HistoryWindow
from veo.i18n import gettext_for

pytestmark = [pytest.mark.timeout(90), pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")]
needs_xdotool = pytest.mark.skipif(not shutil.which("xdotool"), reason="needs xdotool")

ENTRY = history.HistoryEntry(
    started_at="2026-11-24T14:03:10+00:00",
    ended_at="2026-11-24T14:15:40+00:00",
    server="https://support.example",
    session_id="s-1",
    organization="ACME IT",
    technician="Ana",
    ticket_id=12,
    ticket_title="Printer does not print",
    granted=["view", "control"],
    ended_by="technician",
    reason="ended",
    allowed_at="2026-11-24T14:03:35.500+00:00",
)
NEWER = replace(
    ENTRY,
    started_at="2026-11-25T09:00:00+00:00",
    ended_at="2026-11-25T09:00:40+00:00",
    session_id="s-2",
    technician="Luis",
    ticket_id=13,
    ticket_title="VPN",
    granted=[],
    ended_by="user",
    reason="denied",
    allowed_at="",
)


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display() as name:
        yield name


@pytest.fixture
def in_tk(display: str) -> Callable[..., None]:
    """Run ``check(root, *args)`` in a fresh process: Tk keeps its X connection until the process
    exits, so a Tk root in the test process would outlive this module's Xvfb and kill pytest at the
    next module that opens a display of its own."""
    return tk_runner(display)


@pytest.fixture
def written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A history file written by the agent's own ``history.append`` (plus one damaged line)."""
    path = tmp_path / "history.jsonl"
    monkeypatch.setenv("VEO_AGENT_HISTORY", str(path))
    history.append(ENTRY)
    with path.open("a") as handle:
        handle.write('{"started_at": "broken\n')
    history.append(NEWER)
    return path


def _settle(root: tk.Tk) -> None:
    for _ in range(5):
        root.update()


def test_window_shows_the_written_entries_newest_first(in_tk: Callable[..., None], written: Path) -> None:
    in_tk(_check_entries_shown, written)


def _check_entries_shown(root: tk.Tk, written: Path) -> None:
    closed: list[bool] = []
    window = HistoryWindow(root, Fonts(root), "en", history.read(written), lambda: closed.append(True), UTC)
    try:
        _settle(root)
        assert window.window.winfo_ismapped()
        assert window.window.title() == "Past sessions"
        text = window.shown_text()
        assert text.index("Luis") < text.index("Ana")
        for expected in (
            "Tuesday, November 24, 2026, 2:03\u202fPM",
            "Organization: ACME IT",
            "Technician: Ana",
            "Ticket #12: Printer does not print",
            "The technician could: see your screen and control your mouse and keyboard",
            "How long: 12 minutes and 4 seconds",
            "Ended by: the technician",
            "The technician could: nothing (you said no to the request)",
            "How long: the session did not start",
        ):
            assert expected in text
        labels = [w.cget("text") for w in _all_widgets(window.window) if isinstance(w, tk.Label)]
        assert "1 damaged line of the history file was skipped." in labels
        window.close_button.invoke()
        assert closed == [True]
    finally:
        window.close()


def test_window_in_spanish(in_tk: Callable[..., None], written: Path) -> None:
    in_tk(_check_spanish, written)


def _check_spanish(root: tk.Tk, written: Path) -> None:
    window = HistoryWindow(root, Fonts(root), "es", history.read(written), lambda: None, UTC)
    try:
        _settle(root)
        assert window.window.title() == "Sesiones anteriores"
        assert "Técnico: Ana" in window.shown_text()
        assert "Duración: 12 minutos y 4 segundos" in window.shown_text()
        assert window.close_button.cget("text") == "Cerrar"
    finally:
        window.close()


@pytest.mark.parametrize("kind", ["missing", "directory", "garbage"])
def test_window_with_no_usable_history_says_so(in_tk: Callable[..., None], tmp_path: Path, kind: str) -> None:
    path = tmp_path / "history.jsonl"
    if kind == "directory":
        path.mkdir()
    elif kind == "garbage":
        path.write_bytes(b"\x00\xff\xfe not json at all\n[]\n")
    in_tk(_check_no_usable_history, path, kind)


def _check_no_usable_history(root: tk.Tk, path: Path, kind: str) -> None:
    window = HistoryWindow(root, Fonts(root), "en", history.read(path), lambda: None)
    try:
        _settle(root)
        labels = " ".join(w.cget("text") for w in _all_widgets(window.window) if isinstance(w, tk.Label))
        said = {
            "missing": "No remote support sessions have been recorded",
            "directory": "could not be read",
            "garbage": "2 damaged lines of the history file were skipped.",
        }[kind]
        assert said in labels and window.text is None and window.shown_text() == ""
    finally:
        window.close()


def test_code_window_and_end_notice_open_past_sessions(in_tk: Callable[..., None]) -> None:
    in_tk(_check_past_sessions_buttons)


def _check_past_sessions_buttons(root: tk.Tk) -> None:
    opened: list[str] = []
    _ = gettext_for("en").gettext
    fonts = Fonts(root)
    code = CodeWindow(root, fonts, _, lambda _c: None, lambda: None, on_history=lambda: opened.append("code"))
    said = ending(_, "technician", "hangup", "ACME IT", started=True)
    ended = EndedWindow(root, fonts, _, said, lambda: opened.append("closed"),
                        on_history=lambda: opened.append("ended"))  # fmt: skip
    try:
        _settle(root)
        assert code.history.cget("text") == "Past sessions"
        code.history.invoke()
        ended.history.invoke()
        assert opened == ["code", "ended"]
        # opening the history stopped the end notice from closing by itself
        assert ended._auto_close is None
    finally:
        code.close()
        ended.window.destroy()


def _all_widgets(widget: tk.Misc) -> Iterator[tk.Misc]:
    for child in widget.winfo_children():
        yield child
        yield from _all_widgets(child)


# ------------------------------------------------------------------ the real ``veo agent`` command


def _wait_for_line(
    log: Path, pattern: str, process: subprocess.Popen[bytes], after: int = 0
) -> re.Match[str]:
    regex = re.compile(pattern)
    while True:
        lines = log.read_text(errors="replace").splitlines() if log.exists() else []
        for line in lines[after:]:
            match = regex.search(line)
            if match:
                return match
        if process.poll() is not None:
            raise AssertionError(f"the agent exited ({process.returncode}) before logging {pattern!r}")
        threading.Event().wait(0.05)


def _run(display: str, written: Path, log: Path, *args: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DISPLAY": display, "VEO_AGENT_HISTORY": str(written)}
    return subprocess.Popen(
        [sys.executable, "-m", "veo", "agent", "--lang", "en", "--log-file", str(log), *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


@needs_xdotool
def test_history_command_opens_the_window_and_closes_with_its_button(
    display: str, written: Path, tmp_path: Path
) -> None:
    log = tmp_path / "agent.log"
    process = _run(display, written, log, "--history")
    try:
        _wait_for_line(log, r"history window: 2 session\(s\), 1 damaged line\(s\) skipped", process)
        rects = json.loads(_wait_for_line(log, r"ui-geometry history (\{.*\})", process).group(1))
        assert set(rects) == {"list", "close"}
        click_rect(display, rects["close"])
        assert process.wait(30) == 0
        _wait_for_line(log, r"history window closed", process)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@needs_xdotool
def test_past_sessions_button_on_the_code_window(display: str, written: Path, tmp_path: Path) -> None:
    """Before any connection: the code window's *Past sessions* opens the history on top."""
    log = tmp_path / "agent.log"
    process = _run(display, written, log, "--server", "https://support.example")
    try:
        rects = json.loads(_wait_for_line(log, r"ui-geometry code (\{.*\})", process).group(1))
        assert set(rects) == {"entry", "ok", "history"}
        click_rect(display, rects["history"])
        _wait_for_line(log, r"history window: 2 session\(s\)", process)
        history_rects = json.loads(_wait_for_line(log, r"ui-geometry history (\{.*\})", process).group(1))
        click_rect(display, history_rects["close"])
        assert process.poll() is None  # closing the history leaves the code window
        process.terminate()
        assert process.wait(30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
