"""The small window that asks for the join code when ``--code`` was not given.

It names the server it will connect to (``launch.server_label``), so a user who was handed a
copy configured for someone else's server can see it before typing anything. When the server
refuses an agent this old, the sentence comes with the download page as a link (``webbrowser``).

The format is checked here (``veo.protocol.codes``: the digits, spaces and dashes allowed) so a
typo is explained at once; whether the code exists is for the server to say, and its refusal
comes back to this same window.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tkinter as tk
import webbrowser
from collections.abc import Callable
from tkinter import font as tkfont

from veo.agent.bundle import user_environment
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place
from veo.protocol import codes

log = logging.getLogger(__name__)


class CodeWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        on_code: Callable[[str], None],
        on_close: Callable[[], None],
        on_history: Callable[[], None] | None = None,
        server: str = "",
    ) -> None:
        _ = gettext
        self._ = gettext
        self._on_code = on_code
        self._link = ""
        self.window, frame = open_window(root, _("Remote support"), on_close)
        tk.Label(frame, text=_("Enter the code your technician gave you"), font=fonts.title).pack(
            anchor="w", pady=(0, PAD // 2 if server else PAD)
        )
        self.server: tk.Label | None = None
        if server:
            self.server = tk.Label(
                frame,
                text=_("Support server: {server}").format(server=server),
                font=fonts.body,
                fg="#555753",
                wraplength=540,
                justify="left",
            )
            self.server.pack(anchor="w", pady=(0, PAD))
        self.entry = tk.Entry(frame, font=fonts.code, width=13, justify="center")
        self.entry.pack(fill="x", pady=(0, PAD))
        self.entry.bind("<Return>", lambda _e: self._submit())
        self.message = tk.Label(frame, text="", font=fonts.body, fg="#a40000", wraplength=540, justify="left")
        self.message.pack(anchor="w", pady=(0, PAD))
        underlined = tkfont.Font(root=root, font=fonts.body)
        underlined.configure(underline=True)
        #: the download page when the server needs a newer agent: click opens the browser
        self.link = tk.Label(frame, text="", font=underlined, fg="#204a87", cursor="hand2", wraplength=540)
        self.link.bind("<Button-1>", lambda _e: self._open_link())
        self.link.bind("<Return>", lambda _e: self._open_link())
        buttons = tk.Frame(frame)
        buttons.pack(fill="x")
        self.ok = tk.Button(buttons, text=_("Connect"), font=fonts.bold, command=self._submit, padx=PAD)
        self.ok.pack(side="right")
        widgets: dict[str, tk.Widget] = {"entry": self.entry, "ok": self.ok, "link": self.link}
        self._buttons = buttons
        if on_history is not None:
            self.history = tk.Button(
                buttons, text=_("Past sessions"), font=fonts.body, command=on_history, padx=PAD
            )
            self.history.pack(side="left", padx=(0, PAD))
            widgets["history"] = self.history
        place(self.window)
        self.entry.focus_set()
        self.geometry = GeometryReporter(self.window, "code", widgets)

    def _submit(self) -> None:
        if str(self.ok["state"]) == "disabled":
            return
        code = codes.normalise(self.entry.get())
        if code is None:
            log.info("code window: the entered code is not %d digits", codes.DIGITS)
            self.show_error(codes.format_text(self._))
            return
        self.ok.configure(state="disabled")
        self.message.configure(text=self._("Connecting…"), fg="#204a87")
        self.geometry.relayout()
        self._on_code(code)

    def show_error(self, text: str, code: str | None = None, link: str = "") -> None:
        log.info("code window says: %s", text)  # what the user reads (support scripts and tests)
        if code is not None:
            self.entry.delete(0, "end")
            self.entry.insert(0, codes.display(code))
        self.message.configure(text=text, fg="#a40000")
        self._link = link
        if link:
            log.info("code window links to %s", link)
            self.link.configure(text=link, takefocus=1)
            self.link.pack(anchor="w", pady=(0, PAD), before=self._buttons)
        else:
            self.link.pack_forget()
        self.ok.configure(state="normal")
        self.geometry.relayout()

    def _open_link(self) -> None:
        if self._link:
            log.info("opening %s in the browser", self._link)
            try:
                open_in_browser(self._link)
            except Exception:  # no browser: the address stays on screen to type or copy
                log.warning("could not open the browser", exc_info=True)

    def close(self) -> None:
        self.window.destroy()


#: What opens a web address in the user's browser, tried in this order (frozen agent only).
BROWSER_OPENERS = (("xdg-open",), ("gio", "open"), ("sensible-browser",))


def open_in_browser(url: str) -> None:
    """The user's browser at ``url``.

    Not frozen: the standard library's :mod:`webbrowser`, in this process's environment. Frozen:
    never :mod:`webbrowser` (it would start ``gio``, ``firefox``… with the bundle's
    ``LD_LIBRARY_PATH`` and GStreamer paths); the first of :data:`BROWSER_OPENERS` found on the
    user's ``PATH`` runs in the user's own environment. None found: ``OSError`` (the caller keeps
    the address on screen).
    """
    env = user_environment()
    if env is None:
        webbrowser.open(url)
        return
    for opener in BROWSER_OPENERS:
        program = shutil.which(opener[0], path=env.get("PATH", os.defpath))
        if program is None:
            continue
        subprocess.Popen(  # a fixed program; the URL was checked to be a web address (download_link)
            [program, *opener[1:], url],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        return
    raise OSError("no program to open a web address: " + ", ".join(o[0] for o in BROWSER_OPENERS))
