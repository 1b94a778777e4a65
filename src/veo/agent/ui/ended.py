"""The last word to the user: the session is over, and who ended it; closes by itself."""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from veo.agent.events import MISMATCH_REASONS
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place

AUTO_CLOSE_MS = 6000


def ended_text(gettext: Callable[[str], str], by: str, reason: str) -> str:
    _ = gettext
    if reason == "denied":
        return _("You denied the request. Nobody connected to this computer.")
    if reason in MISMATCH_REASONS:
        return _(
            "The verification codes did not match: someone may be intercepting the connection. "
            "The session was ended for your safety. If someone calls you about this, hang up and "
            "contact your support department through a number you already know."
        )
    who = {
        "technician": _("The technician ended it."),
        "user": _("You ended it."),
    }.get(by, _("The system ended it (the connection closed or timed out)."))
    return _("The session has ended. {who}").format(who=who)


class EndedWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        text: str,
        on_close: Callable[[], None],
        auto_close: bool = True,
        on_history: Callable[[], None] | None = None,
    ) -> None:
        _ = gettext
        self._on_history = on_history
        self._auto_close: str | None = None
        self.window, frame = open_window(root, _("Remote support"), on_close)
        tk.Label(frame, text=text, font=fonts.title, wraplength=480, justify="left").pack(anchor="w")
        tk.Label(
            frame,
            text=_("The technician can no longer see or control this computer."),
            font=fonts.body,
            wraplength=480,
            justify="left",
        ).pack(anchor="w", pady=(PAD, PAD))
        buttons = tk.Frame(frame)
        buttons.pack(fill="x")
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
        self.geometry = GeometryReporter(self.window, "ended", widgets)
        if auto_close:  # a warning about interception stays until the user closes it
            self._auto_close = self.window.after(AUTO_CLOSE_MS, on_close)

    def _history(self) -> None:
        """The user is reading their history: this notice no longer goes away by itself."""
        if self._auto_close is not None:
            self.window.after_cancel(self._auto_close)
            self._auto_close = None
        if self._on_history is not None:
            self._on_history()


__all__ = ["MISMATCH_REASONS", "EndedWindow", "ended_text"]
