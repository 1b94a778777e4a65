"""The session bar: always visible while a session runs, with Pause control and Stop.

The user must be able to see at any moment that someone is watching, and end it in one click.
Pause control appears only when control was granted. Other windows may ask to be on top too (a
scammer's "please wait" screen), so the bar raises itself again every few seconds, and it
shows the global key combination that stops the session from anywhere.

While the connection to the technician is lost and being replaced, the bar says so and when the
session will end if it does not come back (:meth:`SessionBar.show_reconnecting`); Stop still
works, and the bar goes back to what it said before once the session is carried again.

On a managed computer (issue 17) the bar also says why the technician connected (``reason``):
someone who sits down at a computer reached without a question reads who and why on it.
"""

from __future__ import annotations

import contextlib
import tkinter as tk
from collections.abc import Callable

from veo.agent.hotkey.base import stop_hotkey_label
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, keep_on_top, place
from veo.i18n import gettext_for
from veo.protocol.permissions import Permission

RAISE_EVERY_MS = 2000


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
        hotkey: bool = True,
        on_chat: Callable[[], None] | None = None,
        on_send_file: Callable[[], None] | None = None,
        language: str = "en",
        limits: tuple[str, ...] = (),
        reason: str = "",
    ) -> None:
        """``limits``: what the user's desktop does not allow, each a sentence in their language
        (``veo.agent.backend.reason_text``): shown under the headline for the whole session.
        ``reason``: why the technician connected to this managed computer ("": not one)."""
        _ = gettext
        self._catalog = gettext_for(language)  # plural forms and key names
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
        # Text above, buttons below: side by side, the text and four buttons (longer in Spanish)
        # outgrow a 1280-px screen and push Stop off it; the bar must stay narrower than the screen.
        words = tk.Frame(frame, bg="#fce94f")
        words.pack(side="top", anchor="w")
        buttons = tk.Frame(frame, bg="#fce94f")
        buttons.pack(side="top", fill="x", pady=(PAD // 2, 0))
        # long names wrap instead of widening the bar past the screen's edge
        wrap = min(900, self.window.winfo_screenwidth() - 6 * PAD)
        self._who = {"technician": technician, "organization": organization}
        self._headline = tk.Label(
            words,
            text=text.format(**self._who),
            font=fonts.bold,
            bg="#fce94f",
            wraplength=wrap,
            justify="left",
        )
        self._headline.pack(anchor="w")
        self._bg = "#fce94f"
        self._before: str | None = None  # the headline while the connection is being replaced
        self._frames = (frame, words, buttons)
        self._reconnecting = tk.Label(
            words, text="", font=fonts.body, bg="#fcaf3e", wraplength=wrap, justify="left"
        )
        if reason:
            self.reason = tk.Label(
                words,
                text=_("Reason: {reason}").format(reason=reason),
                font=fonts.body,
                bg="#fce94f",
                wraplength=wrap,
                justify="left",
            )
            self.reason.pack(anchor="w")
        for sentence in limits:  # e.g. view only on this desktop, no stop key: press Stop here
            tk.Label(
                words, text=sentence, font=fonts.body, bg="#fce94f", wraplength=wrap, justify="left"
            ).pack(anchor="w")
        if hotkey:
            tk.Label(
                words,
                text=_("Or press {keys} to stop it").format(keys=stop_hotkey_label(self._catalog)),
                font=fonts.body,
                bg="#fce94f",
            ).pack(anchor="w")
        widgets: dict[str, tk.Widget] = {}
        self.stop = tk.Button(buttons, text=_("Stop"), font=fonts.bold, command=on_stop, padx=PAD)
        self.stop.pack(side="right")
        widgets["stop"] = self.stop
        self.pause: tk.Button | None = None
        if control:
            self.pause = tk.Button(
                buttons, text=_("Pause control"), font=fonts.body, command=self._toggle, padx=PAD
            )
            self.pause.pack(side="right", padx=(0, PAD))
            widgets["pause"] = self.pause
        self.chat: tk.Button | None = None
        if on_chat is not None:  # the chat window; the button counts unread lines
            self.chat = tk.Button(buttons, text=_("Chat"), font=fonts.body, command=on_chat, padx=PAD)
            self.chat.pack(side="right", padx=(0, PAD))
            self._chat_bg = self.chat.cget("bg")
            widgets["chat"] = self.chat
        self.send_file: tk.Button | None = None
        if on_send_file is not None:  # only when the user allowed file transfer
            label = _("Send a file")
            self.send_file = tk.Button(buttons, text=label, font=fonts.body, command=on_send_file, padx=PAD)
            self.send_file.pack(side="right", padx=(0, PAD))
            widgets["send_file"] = self.send_file
        place(self.window, "top")
        self.geometry = GeometryReporter(self.window, "bar", widgets)
        self._raise_job = self.window.after(RAISE_EVERY_MS, self._raise)

    def _raise(self) -> None:
        """Back on top of whatever covered it (the window manager may have lowered it)."""
        try:
            self.window.attributes("-topmost", True)
            self.window.lift()
            self._raise_job = self.window.after(RAISE_EVERY_MS, self._raise)
        except tk.TclError:  # closed meanwhile
            pass

    def _toggle(self) -> None:
        self._on_pause(not self._paused)

    def show_paused(self, paused: bool) -> None:
        self._paused = paused
        if self.pause is not None:
            self.pause.configure(text=self._("Resume control") if paused else self._("Pause control"))
            # the headline must not keep saying "control" while the user has paused it
            headline = (
                self._("{technician} from {organization} can see your screen (control paused)")
                if paused
                else self._("{technician} from {organization} can see and control your screen")
            )
            self._headline.configure(text=headline.format(**self._who))
            place(self.window, "top")
            self.geometry.relayout()

    def show_reconnecting(self, ends_at: str) -> None:
        """The connection is lost: "Reconnecting…" and the local time at which the session ends.

        The headline no longer says the technician can see: nothing reaches them meanwhile."""
        self._before = str(self._headline.cget("text"))
        self._headline.configure(
            text=self._("Reconnecting to {technician} from {organization}…").format(**self._who)
        )
        self._reconnecting.configure(
            text=self._(
                "The session ends at {time} if the connection does not come back. Meanwhile the "
                "technician cannot see or control anything."
            ).format(time=ends_at)
        )
        self._reconnecting.pack(anchor="w", after=self._headline)
        self._color("#fcaf3e")

    def show_connected(self) -> None:
        """The session is carried again: the bar says what it said before the loss."""
        if self._before is not None:
            self._headline.configure(text=self._before)
            self._before = None
        self._reconnecting.pack_forget()
        self._color(self._bg)

    def _color(self, bg: str) -> None:
        for widget in (*self._frames, self._headline, self._reconnecting):
            widget.configure(bg=bg)
        for child in self._frames[1].winfo_children():  # the stop-keys line
            if isinstance(child, tk.Label):
                child.configure(bg=bg)
        place(self.window, "top")
        self.geometry.relayout()

    def show_unread(self, count: int) -> None:
        """The *Chat* button says how many of the technician's lines the user has not seen."""
        if self.chat is not None:
            unread = self._catalog.ngettext("Chat ({count} new)", "Chat ({count} new)", count)
            text = unread.format(count=count) if count else self._("Chat")
            self.chat.configure(text=text, bg="#f59e0b" if count else self._chat_bg)
            place(self.window, "top")  # a wider button: stay centred, never past the edge
            self.geometry.relayout()

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.after_cancel(self._raise_job)
        self.window.destroy()
