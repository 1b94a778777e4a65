"""What the agent's windows say, on a real Tk in Xvfb: plural forms, Spanish key names, each ending.

Also keeps the screenshot helper (``agent_screens.py``) working: the lead regenerates
``docs/screenshots/`` with it.
"""

from __future__ import annotations

import os
import shutil
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from tests.integration.agent_screens import save_screenshots
from tests.tk_process import labels as _labels
from tests.tk_process import tk_runner
from tests.xvfb import xvfb_display

from veo.agent.endings import ending
from veo.agent.ui.bar import SessionBar
from veo.agent.ui.common import Fonts
from veo.agent.ui.ended import EndedWindow
from veo.i18n import gettext_for
from veo.protocol.permissions import Permission

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")]


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display(size="1366x768x24") as name:
        yield name


@pytest.fixture
def in_tk(display: str) -> Callable[..., None]:
    """A fresh process per check: Tk keeps its X connection until its process exits."""
    return tk_runner(display)


def _check_bar(root: tk.Tk, language: str, expected: tuple[str, str, str, str]) -> None:
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    bar = SessionBar(
        root, Fonts(root), gettext_for(language).gettext, "Ana", "ACME IT",
        (Permission.VIEW, Permission.CONTROL), nothing, nothing, on_chat=nothing, language=language,
    )  # fmt: skip
    try:
        root.update()
        assert expected[0] in _labels(bar.window)
        bar.show_unread(1)
        assert bar.chat is not None and bar.chat.cget("text") == expected[1]
        bar.show_unread(2)
        assert bar.chat.cget("text") == expected[2]
        controls = _labels(bar.window)[0]
        bar.show_paused(True)  # the headline stops claiming control while it is paused
        assert expected[3] in _labels(bar.window) and controls not in _labels(bar.window)
        bar.show_paused(False)
        assert controls in _labels(bar.window)
    finally:
        bar.close()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        (
            "es",
            (
                "O pulse Ctrl+Alt+Mayús+Fin para detenerla",
                "Chat (1 nuevo)",
                "Chat (2 nuevos)",
                "Ana, de ACME IT, puede ver su pantalla (control en pausa)",
            ),
        ),
        (
            "en",
            (
                "Or press Ctrl+Alt+Shift+End to stop it",
                "Chat (1 new)",
                "Chat (2 new)",
                "Ana from ACME IT can see your screen (control paused)",
            ),
        ),
    ],
)
def test_bar_counts_and_names_keys_in_the_users_language(
    in_tk: Callable[..., None], language: str, expected: tuple[str, str, str, str]
) -> None:
    in_tk(_check_bar, language, expected)


def _check_endings(root: tk.Tk, language: str) -> None:
    _ = gettext_for(language).gettext
    no_longer = _("The technician can no longer see or control this computer.")
    fonts = Fonts(root)
    for by, reason, started, says_no_longer in (
        ("user", "denied", False, False),
        ("system", "sas_mismatch_user", False, False),
        ("user", "user_stopped", True, True),
        ("technician", "hangup", True, True),
        ("system", "connection_lost", True, True),
    ):
        said = ending(_, by, reason, "ACME IT", started)
        window = EndedWindow(root, fonts, _, said, lambda: None)
        try:
            root.update()
            shown = _labels(window.window)
            assert said.headline in shown
            assert (no_longer in shown) is says_no_longer, (reason, shown)
            assert all("_" not in text for text in shown)
        finally:
            window.window.destroy()


@pytest.mark.parametrize("language", ["en", "es"])
def test_each_end_notice_says_its_own_thing(in_tk: Callable[..., None], language: str) -> None:
    in_tk(_check_endings, language)


def _check_consent_note(root: tk.Tk, language: str, asks_too: bool, expected: str) -> None:
    from tests.integration.agent_screens import _joined

    from veo.agent.ui.consent import ConsentDialog

    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    dialog = ConsentDialog(
        root, Fonts(root), gettext_for(language).gettext, _joined(),  # type: ignore[arg-type]
        nothing, nothing, nothing, desktop_asks_too=asks_too,
    )  # fmt: skip
    try:
        root.update()
        said = [text for text in _labels(dialog.window) if expected in text]
        assert bool(said) is asks_too, _labels(dialog.window)
        if asks_too:  # the note sits above the buttons, inside the window the user sees
            note = dialog.widgets["desktop_note"]
            assert note.winfo_rooty() + note.winfo_height() <= dialog.widgets["allow"].winfo_rooty()
    finally:
        dialog.window.destroy()


@pytest.mark.parametrize(
    ("language", "asks_too", "expected"),
    [
        ("es", True, "su escritorio también le pregunta"),
        ("en", True, "your desktop asks you too"),
        ("en", False, "your desktop asks you too"),
    ],
)
def test_consent_says_the_desktops_own_window_follows_on_wayland(
    in_tk: Callable[..., None], language: str, asks_too: bool, expected: str
) -> None:
    in_tk(_check_consent_note, language, asks_too, expected)


def test_screenshot_helper_draws_the_consent_dialog(tmp_path: Path) -> None:
    written = save_screenshots(tmp_path, ("consent", "ended-mismatch"), ((1366, 768),))
    assert len(written) == 4
    for path in written:
        with Image.open(path) as image:
            assert image.size == (1366, 768)
            # a dialog is drawn: many colours, not an empty black screen
            colors = image.convert("RGB").getcolors(maxcolors=1 << 16)
            assert colors is None or len(colors) > 20


def _check_failed_attempt(root: tk.Tk) -> None:
    from concurrent.futures import Future

    from veo.agent.app import AgentApp
    from veo.agent.events import JoinFailed

    app = AgentApp(root, "ws://127.0.0.1:1/ws/agent", "http://127.0.0.1:1", "es", None)
    failed: Future[None] = Future()
    failed.set_exception(RuntimeError("boom"))
    app._attempt_done(failed)
    said = app.events.get_nowait()
    assert isinstance(said, JoinFailed)
    assert said.message == "Algo falló al conectar. Vuelva a intentarlo."
    fine: Future[None] = Future()
    fine.set_result(None)
    app._attempt_done(fine)
    assert app.events.empty()


def test_an_unexpected_failure_while_connecting_is_said_in_the_code_window(
    in_tk: Callable[..., None],
) -> None:
    in_tk(_check_failed_attempt)


def _check_reconnecting(root: tk.Tk, language: str, expected: tuple[str, str, str]) -> None:
    from veo.agent.ui.reverify import ReverifyPrompt

    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    _ = gettext_for(language).gettext
    bar = SessionBar(
        root, Fonts(root), _, "Ana", "ACME IT", (Permission.VIEW, Permission.CONTROL), nothing, nothing,
        language=language,
    )  # fmt: skip
    answers: list[str] = []
    prompt = ReverifyPrompt(
        root,
        Fonts(root),
        _,
        technician="Ana",
        code="054400",
        on_match=lambda: answers.append("match"),
        on_differ=lambda: answers.append("differ"),
    )
    try:
        root.update()
        before = _labels(bar.window)
        bar.show_reconnecting("14:32")
        root.update()
        shown = _labels(bar.window)
        assert expected[0] in shown and any(expected[1] in text for text in shown), shown
        assert before[0] not in shown  # no longer says the technician can see
        assert "054 400" in _labels(prompt.window) and expected[2] in _labels(prompt.window)
        prompt.match.invoke()
        prompt.differ.invoke()  # disabled once answered: one answer only
        assert answers == ["match"]
        bar.show_connected()
        root.update()
        assert _labels(bar.window)[0] == before[0] and not bar._reconnecting.winfo_ismapped()
    finally:
        prompt.close()
        bar.close()


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", ("Reconnecting to Ana from ACME IT…", "The session ends at 14:32", "The codes match")),
        (
            "es",
            ("Reconectando con Ana, de ACME IT…", "La sesión terminará a las 14:32", "Los códigos coinciden"),
        ),
    ],
)
def test_bar_says_reconnecting_and_the_code_is_checked_again(
    in_tk: Callable[..., None], language: str, expected: tuple[str, str, str]
) -> None:
    in_tk(_check_reconnecting, language, expected)


def _check_bar_limits(root: tk.Tk, language: str, shot: str) -> None:
    """A Wayland desktop that left control off, cannot show drawings and has no stop key: the bar
    says each in the user's language, promises no stop keys, and stays inside the screen."""
    from veo.agent.backend import reason_text

    _ = gettext_for(language).gettext
    limits = tuple(reason_text(r, _) for r in ("control_refused", "no_overlay", "no_stop_key"))
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    bar = SessionBar(
        root, Fonts(root), _, "Ana", "ACME IT", (Permission.VIEW,), nothing, nothing,
        hotkey=False, on_chat=nothing, language=language, limits=limits,
    )  # fmt: skip
    try:
        for _round in range(20):
            root.update()
        shown = _labels(bar.window)
        assert all(sentence in shown for sentence in limits), shown
        if language == "es":
            assert limits[0] != reason_text("control_refused", lambda text: text), "not translated"
        assert not any("Ctrl+Alt" in text for text in shown), "no stop keys on this desktop"
        assert bar.pause is None, "no Pause control without control"
        right = bar.window.winfo_rootx() + bar.window.winfo_width()
        assert bar.window.winfo_rootx() >= 0 and right <= bar.window.winfo_screenwidth()
        if shot:
            import mss
            import mss.tools

            with mss.MSS() as screen:
                grab = screen.grab(screen.monitors[0])
                mss.tools.to_png(grab.rgb, grab.size, output=shot)
    finally:
        bar.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_bar_says_what_the_desktop_does_not_allow(in_tk: Callable[..., None], language: str) -> None:
    shots = os.environ.get("VEO_AGENT_SHOTS", "")
    if shots:
        Path(shots).mkdir(parents=True, exist_ok=True)
    in_tk(_check_bar_limits, language, f"{shots}/agent-bar-wayland-{language}.png" if shots else "")
