"""The enrolment notice: "This computer is now managed by <organization>", in a window.

Shown once, on the desktop of the person at the computer, right after IT enrolled it
(``veo agent enrol`` starts ``veo agent --device-notice`` there as that person). The words come
from ``device/notice_text.py``, the same the terminal prints. One button, *I understand*; the
window reports its geometry (``ui-geometry enrol-notice``) like every agent window.
"""

from __future__ import annotations

import contextlib
import json
import logging
import tkinter as tk
from collections.abc import Callable

from veo.agent.device.notice_text import Notice
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place
from veo.i18n import gettext_for

log = logging.getLogger(__name__)
WRAP = 560


class NoticeWindow:
    def __init__(
        self, root: tk.Tk, fonts: Fonts, language: str, notice: Notice, on_close: Callable[[], None]
    ) -> None:
        _ = gettext_for(language).gettext
        self.window, frame = open_window(root, _("This computer is managed"), on_close)
        self.title = tk.Label(frame, text=notice.title, font=fonts.title, wraplength=WRAP, justify="left")
        self.title.pack(anchor="w", pady=(0, PAD))
        self.labels: list[tk.Label] = []
        for paragraph in notice.paragraphs:
            label = tk.Label(frame, text=paragraph, font=fonts.body, wraplength=WRAP, justify="left")
            label.pack(anchor="w", pady=(0, PAD // 2))
            self.labels.append(label)
        self.ok_button = tk.Button(frame, text=_("I understand"), font=fonts.bold, command=on_close, padx=PAD)
        self.ok_button.pack(anchor="e", pady=(PAD, 0))
        place(self.window)
        self.ok_button.focus_set()
        self.window.bind("<Escape>", lambda _e: on_close())
        self.window.bind("<Return>", lambda _e: on_close())
        log.info("enrolment notice shown: text=%s", json.dumps(self.shown_text(), ensure_ascii=False))
        self.geometry = GeometryReporter(self.window, "enrol-notice", {"ok": self.ok_button})

    def shown_text(self) -> str:
        """Everything the window says (tests, support scripts)."""
        return "\n\n".join(
            [str(self.title.cget("text")), *(str(label.cget("text")) for label in self.labels)]
        )

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()


def show_notice(
    notice: Notice, language: str, on_tk_error: Callable[..., None] | None = None
) -> tk.TclError | None:
    """Show the window until the person closes it; Tk's error when no window can open."""
    from veo.agent.ui.common import run_alone

    def make(root: tk.Tk, fonts: Fonts) -> NoticeWindow:
        return NoticeWindow(root, fonts, language, notice, root.quit)

    return run_alone(make, "enrol-notice", on_tk_error)
