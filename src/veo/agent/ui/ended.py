"""The last word to the user: how the session ended, in a few calm sentences; closes by itself.

What it says comes from ``agent/endings.py`` (one message per kind of ending). The "codes did
not match" notice stays until the user closes it: it asks them to do something.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from veo.agent.endings import Ending
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place

AUTO_CLOSE_MS = 6000
WRAP = 480


class EndedWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        ending: Ending,
        on_close: Callable[[], None],
        on_history: Callable[[], None] | None = None,
    ) -> None:
        _ = gettext
        self.ending = ending
        self._on_history = on_history
        self._auto_close: str | None = None
        self.window, frame = open_window(root, _("Remote support"), on_close)
        self.headline = tk.Label(
            frame, text=ending.headline, font=fonts.title, wraplength=WRAP, justify="left"
        )
        self.headline.pack(anchor="w", pady=(0, PAD // 2))
        for sentence in ending.body:
            tk.Label(frame, text=sentence, font=fonts.body, wraplength=WRAP, justify="left").pack(
                anchor="w", pady=(0, PAD // 2)
            )
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD // 2, 0))
        ok = tk.Button(buttons, text=_("OK"), font=fonts.bold, command=on_close, padx=PAD)
        ok.pack(side="right")
        widgets: dict[str, tk.Widget] = {"ok": ok}
        if on_history is not None:
            self.history = tk.Button(
                buttons, text=_("Past sessions"), font=fonts.body, command=self._history, padx=PAD
            )
            self.history.pack(side="left", padx=(0, PAD))
            widgets["history"] = self.history
        place(self.window)
        ok.focus_set()
        self.geometry = GeometryReporter(self.window, "ended", widgets)
        if not ending.stays:
            self._auto_close = self.window.after(AUTO_CLOSE_MS, on_close)

    def shown_text(self) -> str:
        """Everything the notice says, for tests and support scripts."""
        return "\n".join([self.ending.headline, *self.ending.body])

    def _history(self) -> None:
        """The user is reading their history: this notice no longer goes away by itself."""
        if self._auto_close is not None:
            self.window.after_cancel(self._auto_close)
            self._auto_close = None
        if self._on_history is not None:
            self._on_history()


__all__ = ["EndedWindow"]
