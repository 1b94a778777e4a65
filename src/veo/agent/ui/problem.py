"""The window that says why veo cannot start: a downloaded or installed agent has no terminal.

A copy opened by double-click or by the browser (``veo://`` link) would otherwise vanish without
a word when its configuration cannot be used: this window says the same sentence the terminal and
the log get, and where the log is, and closes with *Close* (the agent then exits with 2).
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place, run_alone

log = logging.getLogger(__name__)

ACCENT = "#c4501a"  # the sign's orange: a problem to act on, not a danger


class ProblemWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        headline: str,
        message: str,
        on_close: Callable[[], None],
        details: str = "",
    ) -> None:
        _ = gettext
        self.window, frame = open_window(root, "veo", on_close)
        wrap = 500
        sign = tk.Canvas(frame, width=48, height=48, highlightthickness=0, bd=0)
        sign.create_oval(2, 2, 46, 46, fill=ACCENT, outline=ACCENT)
        sign.create_text(24, 25, text="!", fill="white", font=fonts.title)
        sign.grid(row=0, column=0, rowspan=2, sticky="n", padx=(0, PAD))
        self.headline = tk.Label(frame, text=headline, font=fonts.title, wraplength=wrap, justify="left")
        self.headline.grid(row=0, column=1, sticky="w")
        self.message = tk.Label(frame, text=message, font=fonts.body, wraplength=wrap, justify="left")
        self.message.grid(row=1, column=1, sticky="w", pady=(PAD // 2, PAD))
        self.details: tk.Label | None = None
        if details:
            small = tkfont.Font(root=root, family=fonts.body.actual("family"), size=11)
            self.details = tk.Label(
                frame, text=details, font=small, fg="#555753", wraplength=wrap, justify="left"
            )
            self.details.grid(row=2, column=1, sticky="w", pady=(0, PAD))
        self.close = tk.Button(frame, text=_("Close"), font=fonts.bold, command=on_close, padx=PAD)
        self.close.grid(row=3, column=1, sticky="e")
        self.window.bind("<Return>", lambda _e: on_close())
        self.window.bind("<Escape>", lambda _e: on_close())
        place(self.window)
        self.close.focus_set()
        log.info("problem window says: %s", message)
        self.geometry = GeometryReporter(self.window, "problem", {"close": self.close})

    def texts(self) -> list[str]:
        """What the window says, in order (tests read it)."""
        labels = [self.headline, self.message] + ([self.details] if self.details is not None else [])
        return [str(label.cget("text")) for label in labels]


def show_problem(
    gettext: Callable[[str], str],
    headline: str,
    message: str,
    details: str = "",
    on_tk_error: Callable[..., None] | None = None,
) -> bool:
    """Show the window until the person closes it; ``False`` when no window can open (no display)."""

    def make(root: tk.Tk, fonts: Fonts) -> ProblemWindow:
        return ProblemWindow(root, fonts, gettext, headline, message, root.quit, details)

    error = run_alone(make, "problem", on_tk_error)
    if error is not None:
        log.warning("cannot show the problem in a window: %s", error)
        return False
    return True
