"""The prompt for more permission mid-session: who asks, for what, Allow or Don't allow.

A question of its own, never folded into another window: the user reads who asks and for what,
may untick any of several permissions, and answers. Closing the window is *Don't allow*. The
session closes it unanswered when the question times out (the window says when). Geometry is
logged as ``ui-geometry permission {...}`` (boxes ``perm_<name>``, ``allow``, ``refuse``) for the
end-to-end tests, which click it like a person.
"""

from __future__ import annotations

import logging
import tkinter as tk
from collections.abc import Callable

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window
from veo.agent.ui.consent import permission_boxes
from veo.protocol.permissions import Permission

log = logging.getLogger(__name__)

WRAP = 520


def closes_in_text(
    gettext: Callable[[str], str], ngettext: Callable[[str, str, int], str], seconds: int
) -> str:
    """When the question closes by itself: whole minutes from 60 s, else seconds."""
    if seconds >= 60 and seconds % 60 == 0:
        minutes = seconds // 60
        return ngettext(
            "Without an answer, this question closes by itself in {n} minute and nothing changes.",
            "Without an answer, this question closes by itself in {n} minutes and nothing changes.",
            minutes,
        ).format(n=minutes)
    return ngettext(
        "Without an answer, this question closes by itself in {n} second and nothing changes.",
        "Without an answer, this question closes by itself in {n} seconds and nothing changes.",
        seconds,
    ).format(n=seconds)


def place_below(window: tk.Toplevel, top: int) -> None:
    """Centred across, a third down the screen, but never above ``top`` (while it still fits)."""
    window.update_idletasks()
    width, height = window.winfo_reqwidth(), window.winfo_reqheight()
    screen_w, screen_h = window.winfo_screenwidth(), window.winfo_screenheight()
    x = max(0, (screen_w - width) // 2)
    y = max((screen_h - height) // 3, min(top, screen_h - height), 0)
    window.geometry(f"+{x}+{y}")


class PermissionPrompt:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        ngettext: Callable[[str, str, int], str],
        *,
        ask_id: str,
        technician: str,
        organization: str,
        permissions: tuple[Permission, ...],
        timeout_seconds: int,
        on_answer: Callable[[str, list[Permission]], None],
        below: int = 0,
    ) -> None:
        """``below``: the screen row under the session bar, so the question never covers *Stop*."""
        _ = gettext
        self.ask_id = ask_id
        self._on_answer = on_answer
        self._answered = False
        self.window, frame = open_window(root, _("The technician asks for more"), self._refuse)

        tk.Label(
            frame,
            text=_("{technician} from {organization} asks for more permission").format(
                technician=technician, organization=organization
            ),
            font=fonts.title,
            wraplength=WRAP,
            justify="left",
        ).pack(anchor="w")
        tk.Label(
            frame,
            text=_("Also allow the technician to:"),
            font=fonts.bold,
        ).pack(anchor="w", pady=(PAD, 0))
        self._ticks, self.widgets = permission_boxes(
            frame, self.window, fonts, gettext, permissions, self._update_allow
        )
        tk.Label(
            frame,
            text=_(
                "Only allow it if you are talking to this technician right now. You can pause "
                "control or stop the session at any time from the bar at the top of the screen."
            ),
            font=fonts.body,
            wraplength=WRAP,
            justify="left",
        ).pack(anchor="w", pady=(PAD, 0))
        tk.Label(
            frame,
            text=closes_in_text(gettext, ngettext, timeout_seconds),
            font=fonts.body,
            fg="#444444",
            wraplength=WRAP,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, 0))

        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        self.refuse = tk.Button(
            buttons, text=_("Don't allow"), font=fonts.bold, command=self._refuse, padx=PAD
        )
        self.refuse.pack(side="right")
        self.allow = tk.Button(buttons, text=_("Allow"), font=fonts.bold, command=self._allow, padx=PAD)
        self.allow.pack(side="right", padx=(0, PAD))
        self.widgets["allow"] = self.allow
        self.widgets["refuse"] = self.refuse
        place_below(self.window, below)
        self.geometry = GeometryReporter(self.window, "permission", self.widgets)

    def ticked(self) -> list[Permission]:
        return [p for p, var in self._ticks.items() if var.get()]

    def _update_allow(self) -> None:
        """Allow with every box unticked would be a refusal in disguise: say it with the right button."""
        self.allow.configure(state="normal" if self.ticked() else "disabled")

    def _allow(self) -> None:
        ticked = self.ticked()
        if self._answered or not ticked:
            return
        self._answer(ticked)

    def _refuse(self) -> None:
        if not self._answered:
            self._answer([])

    def _answer(self, ticked: list[Permission]) -> None:
        self._answered = True
        for button in (self.allow, self.refuse):
            button.configure(state="disabled")
        log.info(
            "permission prompt answered: %s",
            ",".join(p.value for p in ticked) if ticked else "refused",
        )
        self._on_answer(self.ask_id, ticked)

    def close(self) -> None:
        self.window.destroy()
