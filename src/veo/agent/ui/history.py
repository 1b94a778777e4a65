"""The user's own record of past sessions: who connected, when, for which ticket, what was allowed.

Opened by ``veo agent --history`` or the *Past sessions* button of the code window and the end
notice. Read-only text with a scroll bar and one Close button; what it says comes from
``history_text`` (the same words as ``--history --print``).
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable
from datetime import tzinfo

from veo.agent.device.device_history import DeviceHistoryRead
from veo.agent.history import HistoryRead
from veo.agent.history_text import (
    device_notices,
    device_summary,
    device_title,
    has_device_section,
    notices,
    subtitle,
    summarize,
    title,
)
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place
from veo.i18n import gettext_for

log = logging.getLogger(__name__)
WRAP = 560


class HistoryWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        language: str,
        read: HistoryRead,
        on_close: Callable[[], None],
        zone: tzinfo | None = None,
        device: DeviceHistoryRead | None = None,
    ) -> None:
        _ = gettext_for(language).gettext
        self.window, frame = open_window(root, _("Past sessions"), on_close)
        tk.Label(frame, text=title(language), font=fonts.title, wraplength=WRAP, justify="left").pack(
            anchor="w"
        )
        tk.Label(frame, text=subtitle(language), font=fonts.body, wraplength=WRAP, justify="left").pack(
            anchor="w", pady=(PAD // 2, PAD)
        )
        for notice in notices(read, language):
            tk.Label(frame, text=notice, font=fonts.bold, fg="#a40000", wraplength=WRAP, justify="left").pack(
                anchor="w", pady=(0, PAD // 2)
            )
        self.entries = len(read.entries)
        widgets: dict[str, tk.Widget] = {}
        with_device = device is not None and has_device_section(device)
        if read.entries or with_device:
            blocks = len(read.entries) + (len(device.events) + 1 if device is not None and with_device else 0)
            box = tk.Frame(frame)
            box.pack(fill="both", expand=True)
            self.text: tk.Text | None = tk.Text(
                box, width=52, height=min(18, 8 * blocks), font=fonts.body, wrap="word",
                padx=PAD // 2, pady=PAD // 2, relief="flat", bg=self.window.cget("bg"),
            )  # fmt: skip
            scroll = tk.Scrollbar(box, orient="vertical", command=self.text.yview)
            self.text.configure(yscrollcommand=scroll.set)
            scroll.pack(side="right", fill="y")
            self.text.pack(side="left", fill="both", expand=True)
            self.text.tag_configure("when", font=fonts.bold, spacing1=PAD // 2)
            self.text.tag_configure("line", lmargin1=PAD, lmargin2=PAD * 2)
            self.text.tag_configure("section", font=fonts.title, spacing1=PAD)
            for index, entry in enumerate(read.entries):
                summary = summarize(entry, language, zone)
                if index:
                    self.text.insert("end", "\n")
                self.text.insert("end", summary.when + "\n", "when")
                for line in summary.lines:
                    self.text.insert("end", line + "\n", "line")
            if device is not None and with_device:
                # the device's own history (IT enrolled this computer): a section of its own
                if read.entries:
                    self.text.insert("end", "\n")
                self.text.insert("end", device_title(language) + "\n", "section")
                for notice in device_notices(device, language):
                    self.text.insert("end", notice + "\n", "line")
                for event in device.events:
                    summary = device_summary(event, language, zone)
                    self.text.insert("end", summary.when + "\n", "when")
                    for line in summary.lines:
                        self.text.insert("end", line + "\n", "line")
            self.text.configure(state="disabled")  # read-only, still selectable and scrollable
            widgets["list"] = self.text
        else:
            self.text = None
        self.close_button = tk.Button(frame, text=_("Close"), font=fonts.bold, command=on_close, padx=PAD)
        self.close_button.pack(anchor="e", pady=(PAD, 0))
        widgets["close"] = self.close_button
        place(self.window)
        self.close_button.focus_set()
        self.window.bind("<Escape>", lambda _e: on_close())
        log.info("history window: %d session(s), %d damaged line(s) skipped", self.entries, read.skipped)
        self.geometry = GeometryReporter(self.window, "history", widgets)

    def shown_text(self) -> str:
        """What the list says (for tests and support scripts)."""
        return self.text.get("1.0", "end") if self.text is not None else ""

    def lift(self) -> None:
        self.window.deiconify()
        self.window.lift()

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):  # already gone
            self.window.destroy()
