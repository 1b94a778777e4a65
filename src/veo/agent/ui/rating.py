"""After the session: "How was the help?" 1 to 5 and an optional comment, skippable.

Shown once the end window closes, only for a session that really ran (the user allowed it) and
when the server gave a rating token. It never blocks leaving: *Skip*, closing the window, or
not touching it for a while all just quit. *Send* posts on the agent's event loop and the
window polls the result, so Tk never waits on the network.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place

log = logging.getLogger(__name__)
#: Untouched for this long, the question goes away by itself (the user may have walked off).
IDLE_CLOSE_MS = 30_000
POLL_MS = 100
THANKS_MS = 1500

Submit = Callable[[Coroutine[Any, Any, bool]], "Future[bool]"]


class RatingWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        send: Callable[[int, str], Coroutine[Any, Any, bool]],
        submit: Submit,
        on_done: Callable[[], None],
    ) -> None:
        _ = gettext
        self._ = gettext
        self._send = send
        self._submit = submit
        self._on_done = on_done
        self._done = False
        self.score = tk.IntVar(master=root, value=0)
        self.window, frame = open_window(root, _("Remote support"), self.skip)
        tk.Label(frame, text=_("How was the help?"), font=fonts.title).pack(anchor="w")
        tk.Label(frame, text=_("From 1 (bad) to 5 (excellent). This is optional."), font=fonts.body).pack(
            anchor="w", pady=(0, PAD)
        )
        scale = tk.Frame(frame)
        scale.pack(anchor="w")
        widgets: dict[str, tk.Widget] = {}
        for value in range(1, 6):
            button = tk.Radiobutton(
                scale,
                text=str(value),
                variable=self.score,
                value=value,
                font=fonts.bold,
                indicatoron=False,
                width=3,
                command=self._touched,
            )
            button.pack(side="left", padx=(0, PAD // 2))
            widgets[f"score{value}"] = button
        tk.Label(frame, text=_("Comment (optional)"), font=fonts.body).pack(anchor="w", pady=(PAD, 0))
        self.comment = tk.Text(frame, width=44, height=3, font=fonts.body, wrap="word")
        self.comment.pack(anchor="w", fill="x")
        self.comment.bind("<Key>", self._touched, add="+")
        self.status = tk.Label(frame, text="", font=fonts.body, wraplength=480, justify="left")
        self.status.pack(anchor="w", pady=(PAD // 2, 0))
        buttons = tk.Frame(frame)
        buttons.pack(anchor="e", pady=(PAD, 0))
        skip = tk.Button(buttons, text=_("Skip"), font=fonts.body, command=self.skip, padx=PAD)
        skip.pack(side="left", padx=(0, PAD))
        self.send_button = tk.Button(buttons, text=_("Send"), font=fonts.bold, command=self.send, padx=PAD)
        self.send_button.pack(side="left")
        widgets.update(skip=skip, send=self.send_button, comment=self.comment)
        self._geometry = GeometryReporter(self.window, "rating", widgets)
        place(self.window)
        self._idle: str | None = self.window.after(IDLE_CLOSE_MS, self.skip)

    def _touched(self, _event: object = None) -> None:
        """The user is answering: the question no longer goes away by itself."""
        if self._idle is not None:
            self.window.after_cancel(self._idle)
            self._idle = None

    def skip(self) -> None:
        log.info("rating skipped")
        self._finish()

    def send(self) -> None:
        score = self.score.get()
        if not 1 <= score <= 5:
            self.status.configure(text=self._("Choose a number from 1 to 5, or press Skip."))
            self._geometry.relayout()
            return
        self._touched()
        comment = self.comment.get("1.0", "end").strip()[:2000]
        self.send_button.configure(state="disabled")
        self.status.configure(text=self._("Sending…"))
        future = self._submit(self._send(score, comment))
        self.window.after(POLL_MS, self._check, future)

    def _check(self, future: Future[bool]) -> None:
        if not future.done():
            self.window.after(POLL_MS, self._check, future)
            return
        sent = not future.cancelled() and future.exception() is None and future.result()
        text = self._("Thank you!") if sent else self._("Your rating could not be sent. Thank you anyway.")
        self.status.configure(text=text)
        self.window.after(THANKS_MS, self._finish)

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        with contextlib.suppress(tk.TclError):
            self.window.destroy()
        self._on_done()
