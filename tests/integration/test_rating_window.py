"""The agent's rating window on a real Tk in Xvfb: choose, send, skip, and a forgotten window; the
end notice before it closes by itself too (the end-to-end tests press OK and Skip, as a user in a
hurry does, so these timers are held here, with short times)."""

from __future__ import annotations

import os
import shutil
import time
import tkinter as tk
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from typing import Any

import pytest
from tests.xvfb import xvfb_display

from veo.agent.endings import ending
from veo.agent.ui import ended as ended_module
from veo.agent.ui import rating as rating_module
from veo.agent.ui.common import Fonts
from veo.agent.ui.ended import EndedWindow
from veo.agent.ui.rating import RatingWindow
from veo.i18n import gettext_for

pytestmark = pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")


@pytest.fixture(scope="module")
def root() -> Iterator[tk.Tk]:
    with xvfb_display() as display:
        old = os.environ.get("DISPLAY")
        os.environ["DISPLAY"] = display
        window = tk.Tk()
        window.withdraw()
        try:
            yield window
        finally:
            window.destroy()
            if old is None:
                os.environ.pop("DISPLAY", None)
            else:
                os.environ["DISPLAY"] = old


class Harness:
    """Records what the window sends; ``submit`` runs the coroutine to its end synchronously."""

    def __init__(self, result: bool = True) -> None:
        self.sent: list[tuple[int, str]] = []
        self.done = 0
        self.result = result

    async def send(self, score: int, comment: str) -> bool:
        self.sent.append((score, comment))
        return self.result

    def submit(self, coro: Coroutine[Any, Any, bool]) -> Future[bool]:
        future: Future[bool] = Future()
        try:
            coro.send(None)
        except StopIteration as stop:
            future.set_result(stop.value)
        return future

    def on_done(self) -> None:
        self.done += 1


def _settle(root: tk.Tk, harness: Harness) -> None:
    """Run Tk until the window reported it is done (no fixed sleep)."""
    while not harness.done:
        root.update()


def _settle_within(root: tk.Tk, harness: Harness, seconds: float = 10.0) -> None:
    """:func:`_settle` for a window that must close by its own timer: a timer that never fires fails
    here, not at the suite's 10-minute timeout."""
    deadline = time.monotonic() + seconds
    while not harness.done:
        assert time.monotonic() < deadline, f"the window did not close by itself within {seconds:.0f} s"
        root.update()
        time.sleep(0.01)


def _window(root: tk.Tk, harness: Harness, language: str = "en") -> RatingWindow:
    return RatingWindow(
        root, Fonts(root), gettext_for(language).gettext, harness.send, harness.submit, harness.on_done
    )


def test_send_needs_a_score_then_sends_it_with_the_comment(root: tk.Tk) -> None:
    harness = Harness()
    window = _window(root, harness)
    window.send()
    assert harness.sent == [] and "1 to 5" in window.status.cget("text")
    window.score.set(4)
    window.comment.insert("1.0", "  Very kind  ")
    window.send()
    _settle(root, harness)
    assert harness.sent == [(4, "Very kind")]
    assert harness.done == 1


def test_skip_and_close_send_nothing(root: tk.Tk) -> None:
    harness = Harness()
    window = _window(root, harness, "es")
    window.skip()
    window.skip()  # a second close (the idle timer) does not finish twice
    assert harness.sent == [] and harness.done == 1


def test_a_failed_send_still_lets_the_user_go(root: tk.Tk) -> None:
    harness = Harness(result=False)
    window = _window(root, harness)
    window.score.set(2)
    window.send()
    while "could not be sent" not in window.status.cget("text"):
        root.update()
    _settle(root, harness)
    assert harness.sent == [(2, "")] and harness.done == 1


def test_a_forgotten_question_goes_away_by_itself(root: tk.Tk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rating_module, "IDLE_CLOSE_MS", 50)
    harness = Harness()
    window = _window(root, harness)
    _settle_within(root, harness)  # nobody touched it: it skipped itself
    assert harness.sent == [] and harness.done == 1
    assert not window.window.winfo_exists()


def test_a_touched_question_stays(root: tk.Tk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(rating_module, "IDLE_CLOSE_MS", 50)
    harness = Harness()
    window = _window(root, harness)
    window.score.set(3)
    window._touched()  # the user chose a number: the idle close is off
    root.after(300, window.skip)  # well after the idle time
    _settle_within(root, harness)
    assert harness.done == 1 and window._idle is None


def test_the_end_notice_closes_by_itself(root: tk.Tk, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ended_module, "AUTO_CLOSE_MS", 50)
    harness = Harness()
    _ = gettext_for("en").gettext
    said = ending(_, "technician", "technician_ended", "ACME IT", started=True)
    assert not said.stays
    notice = EndedWindow(root, Fonts(root), _, said, harness.on_done)
    try:
        _settle_within(root, harness)  # closed by its own timer: the rating question (or quit) follows
        assert harness.done == 1
    finally:
        notice.window.destroy()
