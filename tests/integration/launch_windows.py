"""The launch windows' words, checked in a Tk process of their own (``test_agent_launch.py``).

A module of their own because the spawned process imports the module of the check it runs:
``test_agent_launch.py`` imports the whole server (the app, uvicorn, the reports' scikit-learn),
seconds of imports for each window checked; this one imports only the agent's windows.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from tests.tk_process import labels

from veo.i18n import gettext_for


def check_consent(root: tk.Tk, language: str) -> None:
    from tests.integration.agent_screens import _joined

    from veo.agent.ui.common import Fonts
    from veo.agent.ui.consent import ConnectedServer, ConsentDialog, server_line, warning_text

    _ = gettext_for(language).gettext
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    checked = ConnectedServer("support.acme.example", True)
    dialog = ConsentDialog(
        root,
        Fonts(root),
        _,
        _joined(),  # type: ignore[arg-type]
        nothing,
        nothing,
        nothing,
        desktop_asks_too=True,  # the longest it gets: four boxes and the Wayland note
        server=checked,
    )
    dialog.show_sas("428913")
    root.update()
    shown = labels(dialog.window)
    assert server_line(_, checked) in shown and warning_text(_, checked, "ACME IT") in shown
    assert any("support.acme.example" in text and "ACME IT" in text for text in shown)
    # the whole dialog fits a 1366x768 screen with a panel or two
    assert dialog.window.winfo_height() <= 768 - 60 and dialog.window.winfo_width() <= 1366 - 200
    dialog.close()


def check_problem(root: tk.Tk, language: str) -> None:
    from veo.agent.launch import problem_text
    from veo.agent.ui.common import Fonts
    from veo.agent.ui.problem import ProblemWindow

    _ = gettext_for(language).gettext
    said = problem_text(_, "embedded_damaged")
    window = ProblemWindow(root, Fonts(root), _, _("veo cannot start"), said, lambda: None, "details")
    root.update()
    assert window.texts() == [_("veo cannot start"), said, "details"]
    assert _("Close") in labels(window.window)
    window.window.destroy()
