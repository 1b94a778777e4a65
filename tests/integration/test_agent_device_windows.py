"""The windows of a session on a managed device (issue 17) on a real Tk in Xvfb, in both languages:
the connected notice (who, from where, why; its Stop stops, its Close only closes), the *ask*
dialog's managed-computer variant (the reason, the code as information, Allow only once the code
is known) and the bar's reason line. Also keeps ``device_screens.py`` drawing."""

from __future__ import annotations

import logging
import shutil
import tkinter as tk
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from PIL import Image
from tests.integration.device_screens import save_device_screenshots
from tests.tk_process import labels as _labels
from tests.tk_process import tk_runner
from tests.xvfb import xvfb_display

from veo.agent.device_mode import DeviceContext
from veo.agent.ui.bar import SessionBar
from veo.agent.ui.common import Fonts
from veo.agent.ui.connected_notice import ConnectedNotice
from veo.agent.ui.consent import ConsentDialog, managed_code_text, managed_lines, managed_warning
from veo.i18n import gettext_for
from veo.protocol.device import DeviceSession
from veo.protocol.permissions import Permission
from veo.protocol.signaling import Joined

pytestmark = [pytest.mark.timeout(180), pytest.mark.skipif(not shutil.which("Xvfb"), reason="needs Xvfb")]
DEVICE = DeviceContext("ask", "Printer jams", "Ana", "ACME IT", "pc-7", "s1")


@pytest.fixture(scope="module")
def display() -> Iterator[str]:
    with xvfb_display(size="1366x768x24") as name:
        yield name


@pytest.fixture
def in_tk(display: str) -> Callable[..., None]:
    """A fresh process per check: Tk keeps its X connection until its process exits."""
    return tk_runner(display)


class _Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def _check_notice(root: tk.Tk, language: str) -> None:
    _ = gettext_for(language).gettext
    said = _Lines()
    logging.getLogger("veo").addHandler(said)
    logging.getLogger("veo").setLevel(logging.INFO)
    calls: list[str] = []
    notice = ConnectedNotice(
        root, Fonts(root), _, technician="Ana", organization="ACME IT", reason="Printer jams",
        on_stop=lambda: calls.append("stop"), on_close=lambda: calls.append("close"),
    )  # fmt: skip
    for _round in range(10):
        root.update()
    labels = _labels(notice.window)
    assert (
        _("{technician} from {organization} connected to this computer.").format(
            technician="Ana", organization="ACME IT"
        )
        in labels
    )
    assert _("Reason: {reason}").format(reason="Printer jams") in labels
    assert notice.window.title() == _("Someone connected to this computer")
    assert notice.window.attributes("-topmost")
    assert any(line.startswith("ui-geometry connected_notice ") and '"stop"' in line for line in said.lines)
    notice.close_button.invoke()
    assert calls == ["close"], "Close only closes the notice"
    notice.stop.invoke()
    notice.stop.invoke()  # a second click does nothing more
    assert calls == ["close", "stop"]
    notice.close()
    notice.close()  # closing twice (the session ended meanwhile) is harmless


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_connected_notice_says_who_and_why_and_stops(in_tk: Callable[..., None], language: str) -> None:
    in_tk(_check_notice, language)


def _joined() -> Joined:
    return Joined(
        session_id="s1",
        organization="ACME IT",
        technician_name="Ana",
        ticket_id=7,
        ticket_title="pc-7: Printer jams",
        requested=[Permission.VIEW, Permission.CONTROL],
        device=DeviceSession(device_name="pc-7", policy="ask", reason="Printer jams"),
    )


def _check_consent(root: tk.Tk, language: str, device: DeviceContext | None) -> None:
    _ = gettext_for(language).gettext
    allowed: list[list[Permission]] = []
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    dialog = ConsentDialog(root, Fonts(root), _, _joined(), allowed.append, nothing, nothing, device=device)
    root.update()
    labels = _labels(dialog.window)
    managed = managed_lines(_, "ACME IT", DEVICE)
    if device is None:  # a personal agent: the server's joined.device changes nothing here
        assert not set(managed) & set(labels)
        assert managed_warning(_) not in labels and managed_code_text(_) not in labels
    else:
        assert set(managed) <= set(labels)
        assert dialog.warning.cget("text") == managed_warning(_)
        assert managed_code_text(_) in labels
    dialog.allow.invoke()
    assert allowed == [], "Allow waits for the code, even on a managed computer"
    dialog.show_sas("428913")
    dialog.allow.invoke()
    assert allowed == [[Permission.VIEW, Permission.CONTROL]]
    dialog.close()


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("managed", [True, False])
def test_the_ask_dialog_says_managed_only_for_a_device_session(
    in_tk: Callable[..., None], language: str, managed: bool
) -> None:
    in_tk(_check_consent, language, DEVICE if managed else None)


def _check_bar(root: tk.Tk, language: str) -> None:
    _ = gettext_for(language).gettext
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    args = (root, Fonts(root), _, "Ana", "ACME IT", (Permission.VIEW,), nothing, nothing)
    bar = SessionBar(*args, language=language, reason="Printer jams")
    root.update()
    reason = _("Reason: {reason}").format(reason="Printer jams")
    assert reason in _labels(bar.window)
    bar.show_reconnecting("12:00")
    bar.show_connected()
    assert reason in _labels(bar.window)
    bar.close()
    plain = SessionBar(*args, language=language)
    root.update()
    assert reason not in _labels(plain.window)
    plain.close()


@pytest.mark.parametrize("language", ["en", "es"])
def test_the_bar_names_the_reason_on_a_managed_computer(in_tk: Callable[..., None], language: str) -> None:
    in_tk(_check_bar, language)


def test_screenshot_helper_draws_the_device_windows(tmp_path: Path) -> None:
    written = save_device_screenshots(tmp_path)
    assert len(written) == 4
    for path in written:
        with Image.open(path) as image:
            assert image.size == (1366, 768)
            assert len(image.convert("L").resize((64, 36)).getcolors() or ()) > 2, f"{path.name} is not blank"
