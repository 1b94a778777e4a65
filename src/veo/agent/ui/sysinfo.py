"""The separate consent for system information: the user reads exactly what would be sent.

The window lists every collected value in readable sections (:func:`veo.protocol.sysinfo.describe`,
the same text the ticket gets), with *Send* and
*Don't send*. It is a second, specific consent: allowing the session did not allow this. Closing
the window is *Don't send*. Nothing has left the computer while it is open
(:class:`veo.agent.sysinfo.AgentSysinfo` holds the data until *Send*).

Log line: ``ui-geometry sysinfo {"send": [...], "decline": [...], "details": [...]}``.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable, Mapping
from typing import Any

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place
from veo.i18n import gettext_for
from veo.protocol.sysinfo import describe


class SysinfoWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        language: str,
        technician: str,
        info: Mapping[str, Any],
        on_send: Callable[[], None],
        on_decline: Callable[[], None],
    ) -> None:
        catalog = gettext_for(language)
        _ = catalog.gettext
        self.window, frame = open_window(root, _("Information about this computer"), on_decline)
        tk.Label(
            frame,
            text=_("{technician} asks for information about this computer").format(technician=technician),
            font=fonts.title,
            wraplength=620,
            justify="left",
        ).pack(anchor="w")
        tk.Label(
            frame,
            text=_(
                "This is exactly what would be sent. It helps the technician find the problem and "
                "is attached to your ticket. Nothing has been sent yet; you decide."
            ),
            font=fonts.body,
            wraplength=620,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, PAD // 2))
        box = tk.Frame(frame)
        box.pack(fill="both", expand=True)
        self.details = tk.Text(box, width=70, height=16, font=fonts.body, wrap="word")
        scroll = tk.Scrollbar(box, command=self.details.yview)
        self.details.configure(yscrollcommand=scroll.set)
        self.details.tag_configure("title", font=fonts.bold)
        for title, lines in describe(info, catalog, language):
            self.details.insert("end", title + "\n", ("title",))
            for line in lines or [_("(none)")]:
                self.details.insert("end", "  " + line + "\n")
        self.details.configure(state="disabled")
        self.details.pack(side="left", fill="both", expand=True)
        scroll.pack(side="right", fill="y")
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        self.send = tk.Button(buttons, text=_("Send"), font=fonts.bold, command=on_send, padx=PAD)
        self.send.pack(side="right")
        self.decline = tk.Button(buttons, text=_("Don't send"), font=fonts.body, command=on_decline, padx=PAD)
        self.decline.pack(side="right", padx=(0, PAD))
        place(self.window)
        self.geometry = GeometryReporter(
            self.window, "sysinfo", {"send": self.send, "decline": self.decline, "details": self.details}
        )

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()
