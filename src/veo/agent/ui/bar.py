"""The session bar: always visible while a session runs, with Pause control and Stop.

The user must be able to see at any moment that someone is watching, and end it in one click.
Pause control appears only when control was granted.
"""

from __future__ import annotations

import tkinter as tk
from collections.abc import Callable

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, keep_on_top, place
from veo.protocol.permissions import Permission


class SessionBar:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        technician: str,
        organization: str,
        granted: tuple[Permission, ...],
        on_pause: Callable[[bool], None],
        on_stop: Callable[[], None],
    ) -> None:
        _ = gettext
        self._ = gettext
        self._on_pause = on_pause
        self._paused = False
        self.window = tk.Toplevel(root)
        self.window.title(_("Remote support session"))
        keep_on_top(self.window)
        self.window.protocol("WM_DELETE_WINDOW", on_stop)
        frame = tk.Frame(self.window, padx=PAD, pady=PAD // 2, bg="#fce94f")
        frame.pack(fill="both", expand=True)
        control = Permission.CONTROL in granted
        text = (
            _("{technician} from {organization} can see and control your screen")
            if control
            else _("{technician} from {organization} can see your screen")
        )
        tk.Label(
            frame,
            text=text.format(technician=technician, organization=organization),
            font=fonts.bold,
            bg="#fce94f",
        ).pack(side="left", padx=(0, PAD))
        widgets: dict[str, tk.Widget] = {}
        self.stop = tk.Button(frame, text=_("Stop"), font=fonts.bold, command=on_stop, padx=PAD)
        self.stop.pack(side="right")
        widgets["stop"] = self.stop
        self.pause: tk.Button | None = None
        if control:
            self.pause = tk.Button(
                frame, text=_("Pause control"), font=fonts.body, command=self._toggle, padx=PAD
            )
            self.pause.pack(side="right", padx=(0, PAD))
            widgets["pause"] = self.pause
        place(self.window, "top")
        self.geometry = GeometryReporter(self.window, "bar", widgets)

    def _toggle(self) -> None:
        self._on_pause(not self._paused)

    def show_paused(self, paused: bool) -> None:
        self._paused = paused
        if self.pause is not None:
            self.pause.configure(text=self._("Resume control") if paused else self._("Pause control"))
            self.geometry.relayout()

    def close(self) -> None:
        self.window.destroy()
