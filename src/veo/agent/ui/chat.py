"""The chat window on the user's computer: the conversation with the technician.

Opened from the session bar's *Chat* button, or by itself (without taking the keyboard focus)
when the technician writes while it is closed. Before anything else it says that the conversation
is attached to the ticket when the session ends. It only draws :class:`~veo.agent.events.ChatLine`
events and hands what the user types to ``on_send``; the transcript lives in
:class:`veo.agent.chat.AgentChat`.

``on_seen`` runs when the user does something in the window (a click or a key): the lines are
read, the unread count on the bar goes back to zero and the technician is told.

Log lines: ``chat window shows id=<id> mine=<bool>`` for every line drawn, ``ui-geometry chat``.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, shown_without_focus

log = logging.getLogger("veo.agent.ui")

WIDTH_CHARS = 44


def attachment_notice(gettext: Callable[[str], str], ticket_id: int) -> str:
    _ = gettext
    return _(
        "This conversation is attached to ticket #{ticket} when the session ends, so your "
        "support department keeps a record of it."
    ).format(ticket=ticket_id)


class ChatWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        technician: str,
        ticket_id: int,
        on_send: Callable[[str], None],
        on_seen: Callable[[], None],
        on_close: Callable[[], None],
    ) -> None:
        _ = gettext
        self._ = gettext
        self._technician = technician
        self._on_send = on_send
        self._on_seen = on_seen
        self.window = tk.Toplevel(root)
        shown_without_focus(self.window)  # it may pop up while the user types elsewhere
        self.window.title(_("Chat with {technician}").format(technician=technician))
        self.window.attributes("-topmost", True)
        self.window.protocol("WM_DELETE_WINDOW", on_close)
        frame = tk.Frame(self.window, padx=PAD, pady=PAD)
        frame.pack(fill="both", expand=True)
        self.notice = tk.Label(
            frame,
            text=attachment_notice(gettext, ticket_id),
            font=fonts.body,
            wraplength=460,
            justify="left",
            fg="#333",
        )
        self.notice.pack(anchor="w", pady=(0, PAD // 2))
        self.transcript = tk.Text(
            frame,
            width=WIDTH_CHARS,
            height=12,
            font=fonts.body,
            wrap="word",
            state="disabled",
            cursor="arrow",
        )
        self.transcript.tag_configure("who", font=fonts.bold)
        self.transcript.tag_configure("failed", foreground="#b91c1c")
        self.transcript.pack(fill="both", expand=True)
        row = tk.Frame(frame)
        row.pack(fill="x", pady=(PAD // 2, 0))
        self.input = tk.Entry(row, font=fonts.body)
        self.input.pack(side="left", fill="x", expand=True)
        self.input.bind("<Return>", self._send)
        self.send = tk.Button(row, text=_("Send"), font=fonts.bold, command=self._send, padx=PAD)
        self.send.pack(side="right", padx=(PAD // 2, 0))
        self.acknowledged = tk.Label(frame, text="", font=fonts.body, fg="#555")
        self.acknowledged.pack(anchor="e")
        self.window.update_idletasks()
        # bottom right, out of the way of what the technician is looking at
        width, height = self.window.winfo_reqwidth(), self.window.winfo_reqheight()
        x = max(0, self.window.winfo_screenwidth() - width - 20)
        y = max(0, self.window.winfo_screenheight() - height - 60)
        self.window.geometry(f"+{x}+{y}")
        # seen = the user did something in the window (a click, a key); a window that popped up
        # by itself may have the focus without anyone looking at it
        self.window.bind("<Button-1>", self._seen, add="+")
        self.window.bind("<Key>", self._seen, add="+")
        self.geometry = GeometryReporter(
            self.window, "chat", {"input": self.input, "send": self.send, "transcript": self.transcript}
        )

    def _send(self, _event: object = None) -> None:
        text = self.input.get().strip()
        if text:
            self.input.delete(0, "end")
            self._on_send(text)

    def _seen(self, _event: object = None) -> None:
        self._on_seen()

    def show(self, focus: bool) -> None:
        """Bring it back in front (a new message, or the *Chat* button); focus only when asked."""
        with contextlib.suppress(tk.TclError):
            self.window.deiconify()
            self.window.lift()
            if focus:
                self.input.focus_force()

    def add(self, line_id: str, mine: bool, text: str, failed: bool = False) -> None:
        _ = self._
        who = _("You") if mine else self._technician
        self.transcript.configure(state="normal")
        if self.transcript.index("end-1c") != "1.0":
            self.transcript.insert("end", "\n")
        self.transcript.insert("end", f"{who}: ", ("who",))
        self.transcript.insert("end", text, ("failed",) if failed else ())
        if failed:
            self.transcript.insert("end", " " + _("(not sent: the connection is not open)"), ("failed",))
        self.transcript.configure(state="disabled")
        self.transcript.see("end")
        self.acknowledged.configure(text="")
        log.info("chat window shows id=%s mine=%s", line_id or "-", mine)

    def show_acknowledged(self) -> None:
        self.acknowledged.configure(text=self._("Seen by the technician"))

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()
