"""The user's windows for files: accept an incoming file, watch and cancel transfers, send one.

- :class:`FileOfferDialog`: the technician offers a file; the user sees its name, its size and
  where it will be saved (``~/Downloads`` unless they choose another folder) and presses
  *Accept* or *Decline*. Nothing is written before *Accept*.
- :class:`TransferWindow`: one per transfer, both directions: a progress bar and *Cancel*
  (a cancelled or failed transfer leaves no partial file).
- :class:`SendFileWindow`: opened from the session bar's *Send a file to the technician*: a path
  field with *Browse…* (the system file chooser) and *Send*.

:class:`FileWindows` owns them on the Tk main thread: it turns the session's UiEvents into
windows and the user's clicks into calls on the loop (``call``), and keeps transfer windows
stacked at the bottom of the screen so they never cover the consent dialog or the bar.
Each window logs ``ui-geometry file_offer|file_progress|send_file`` for the end-to-end tests.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from tkinter import filedialog, ttk

from veo.agent.events import (
    FileEvent,
    FileOffered,
    FileTransferEnded,
    FileTransferProgress,
    FileTransferStarted,
)
from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place
from veo.i18n import gettext_for
from veo.sizes import size_text

log = logging.getLogger(__name__)

CLOSE_AFTER_MS = 8000
_WRAP = 480


def human_size(size: int, gettext: Callable[[str], str], language: str | None = None) -> str:
    """``size`` in the window's language (:func:`veo.sizes.size_text`).

    ``gettext`` is the window's bound ``NullTranslations.gettext``: its catalog gives the plural
    form of "byte" and, unless ``language`` is given, the language.
    """
    catalog = getattr(gettext, "__self__", None) or gettext_for("en")
    locale = language or _catalog_language(catalog)
    return size_text(size, catalog, locale)


def _catalog_language(catalog: object) -> str:
    info: object = getattr(catalog, "info", dict)()
    return str(info.get("language", "en")) if isinstance(info, dict) else "en"


def reason_text(gettext: Callable[[str], str], outcome: str, detail: str) -> str:
    """What a finished transfer window says, in the user's words."""
    _ = gettext
    if outcome == "cancelled":
        return {
            "user": _("You cancelled the transfer. No partial file was kept."),
            "session_ended": _("The session ended; the transfer was stopped. No partial file was kept."),
            "connection_lost": _(
                "The connection to the technician was lost; the transfer was stopped. "
                "No partial file was kept. Send it again once the session is back."
            ),
        }.get(detail, _("The technician cancelled the transfer. No partial file was kept."))
    if outcome == "rejected":
        if detail == "too_large":
            return _("The file is larger than your support department allows.")
        return _("The technician did not take the file.")
    if outcome == "failed":
        return {
            "checksum_mismatch": _("The file arrived damaged and was deleted. Please try again."),
            "too_large": _("The file is larger than your support department allows."),
            "files_not_granted": _("You did not allow file transfer in this session."),
            "technician_not_confirmed": _("The technician has not confirmed the verification code yet."),
            "cannot_read": _("The file could not be read."),
            "cannot_write": _("The file could not be saved in that folder."),
            "busy": _("Another file is being sent. Wait until it is done, then try again."),
            "file_changed": _("The file changed while it was being sent. Please try again."),
            "channel_closed": _("The connection to the technician closed. No partial file was kept."),
            "no_free_name": _("The file could not be saved: that folder has too many files with this name."),
        }.get(detail, _("The transfer failed. No partial file was kept."))
    return ""


#: Transfer windows start below the session bar, so neither hides the other.
_BELOW_BAR = 110


def _stack(window: tk.Toplevel, slot: int) -> None:
    """Right edge below the session bar, one under the other, so several transfers stay visible."""
    window.update_idletasks()
    width, height = window.winfo_reqwidth(), window.winfo_reqheight()
    x = max(0, window.winfo_screenwidth() - width - PAD)
    y = _BELOW_BAR + (height + PAD) * slot
    y = max(0, min(y, window.winfo_screenheight() - height - PAD))
    window.geometry(f"+{x}+{y}")


class FileOfferDialog:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        technician: str,
        offer: FileOffered,
        on_accept: Callable[[str], None],
        on_decline: Callable[[], None],
    ) -> None:
        _ = gettext
        self._ = gettext
        self._on_accept = on_accept
        self._on_decline = on_decline
        self.folder = offer.folder
        self.window, frame = open_window(root, _("Incoming file"), on_decline)
        tk.Label(
            frame,
            text=_("{technician} wants to send you a file").format(technician=technician),
            font=fonts.title,
            wraplength=_WRAP,
            justify="left",
        ).pack(anchor="w")
        tk.Label(
            frame,
            text=_("{name} ({size})").format(name=offer.name, size=human_size(offer.size, gettext)),
            font=fonts.bold,
            wraplength=_WRAP,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, PAD // 2))
        self.where = tk.Label(frame, font=fonts.body, wraplength=_WRAP, justify="left")
        self.where.pack(anchor="w")
        self._show_folder()
        tk.Label(
            frame,
            text=_("Only accept files you expect from your technician."),
            font=fonts.body,
            fg="#a40000",
            wraplength=_WRAP,
            justify="left",
        ).pack(anchor="w", pady=(PAD // 2, 0))
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        decline = tk.Button(buttons, text=_("Decline"), font=fonts.bold, command=on_decline, padx=PAD)
        decline.pack(side="right")
        accept = tk.Button(buttons, text=_("Accept"), font=fonts.bold, command=self._accept, padx=PAD)
        accept.pack(side="right", padx=(0, PAD))
        choose = tk.Button(buttons, text=_("Choose folder…"), font=fonts.body, command=self._choose, padx=PAD)
        choose.pack(side="left")
        place(self.window)
        self.geometry = GeometryReporter(
            self.window, "file_offer", {"accept": accept, "decline": decline, "choose": choose}
        )

    def _show_folder(self) -> None:
        self.where.configure(text=self._("It will be saved in: {folder}").format(folder=self.folder))

    def _choose(self) -> None:
        chosen = filedialog.askdirectory(parent=self.window, initialdir=self.folder, mustexist=False)
        if chosen:
            self.folder = str(chosen)
            self._show_folder()
            self.geometry.relayout()

    def _accept(self) -> None:
        self._on_accept(self.folder)

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()


class TransferWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        started: FileTransferStarted,
        slot: int,
        on_cancel: Callable[[], None],
        on_closed: Callable[[], None],
    ) -> None:
        _ = gettext
        self._ = gettext
        self.size = started.size
        self._on_cancel = on_cancel
        self._on_closed = on_closed
        self._finished = False
        self.window, frame = open_window(root, _("File transfer"), self._button, pad=PAD)
        title = (_("Sending {name} to the technician") if started.outgoing else _("Receiving {name}")).format(
            name=started.name
        )
        tk.Label(frame, text=title, font=fonts.bold, wraplength=_WRAP, justify="left").pack(anchor="w")
        self.bar = ttk.Progressbar(frame, length=_WRAP, maximum=max(1, started.size), mode="determinate")
        self.bar.pack(fill="x", pady=(PAD // 2, PAD // 2))
        self.status = tk.Label(frame, font=fonts.body, wraplength=_WRAP, justify="left")
        self.status.pack(anchor="w")
        self.button = tk.Button(frame, text=_("Cancel"), font=fonts.body, command=self._button, padx=PAD)
        self.button.pack(anchor="e", pady=(PAD // 2, 0))
        self.progress(0)
        _stack(self.window, slot)
        self.geometry = GeometryReporter(self.window, "file_progress", {"cancel": self.button})

    def progress(self, done: int) -> None:
        if self._finished:
            return
        self.bar.configure(value=done)
        self.status.configure(
            text=self._("{done} of {total}").format(
                done=human_size(done, self._), total=human_size(self.size, self._)
            )
        )

    def finish(self, text: str) -> None:
        """Final state: what happened, and the Cancel button becomes Close (and closes by itself)."""
        self._finished = True
        with contextlib.suppress(tk.TclError):
            self.status.configure(text=text)
            self.button.configure(text=self._("Close"))
            self.window.after(CLOSE_AFTER_MS, self.close)

    def _button(self) -> None:
        if self._finished:
            self.close()
        else:
            self._on_cancel()

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()
        self._on_closed()


class SendFileWindow:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        on_send: Callable[[str], None],
        on_close: Callable[[], None],
    ) -> None:
        _ = gettext
        self._on_send = on_send
        self._on_close = on_close
        self.window, frame = open_window(root, _("Send a file to the technician"), on_close)
        tk.Label(
            frame,
            text=_("Choose the file to send to the technician:"),
            font=fonts.bold,
            wraplength=_WRAP,
            justify="left",
        ).pack(anchor="w")
        row = tk.Frame(frame)
        row.pack(fill="x", pady=(PAD // 2, PAD // 2))
        self.path = tk.Entry(row, font=fonts.body, width=36)
        self.path.pack(side="left", fill="x", expand=True)
        browse = tk.Button(row, text=_("Browse…"), font=fonts.body, command=self._browse, padx=PAD)
        browse.pack(side="left", padx=(PAD // 2, 0))
        self.error = tk.Label(frame, font=fonts.body, fg="#a40000", wraplength=_WRAP, justify="left")
        self.error.pack(anchor="w")
        self._ = gettext
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD // 2, 0))
        cancel = tk.Button(buttons, text=_("Cancel"), font=fonts.body, command=on_close, padx=PAD)
        cancel.pack(side="right")
        send = tk.Button(buttons, text=_("Send"), font=fonts.bold, command=self._send, padx=PAD)
        send.pack(side="right", padx=(0, PAD))
        self.path.bind("<Return>", lambda _e: self._send())
        place(self.window)
        self.path.focus_set()
        self.geometry = GeometryReporter(
            self.window, "send_file", {"path": self.path, "browse": browse, "send": send, "cancel": cancel}
        )

    def _browse(self) -> None:
        chosen = filedialog.askopenfilename(parent=self.window, initialdir=str(Path.home()))
        if chosen:
            self.path.delete(0, "end")
            self.path.insert(0, str(chosen))

    def _send(self) -> None:
        text = self.path.get().strip()
        path = Path(text).expanduser() if text else None
        if path is None or not path.is_file():
            self.error.configure(text=self._("Choose an existing file."))
            return
        self._on_send(str(path))

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):
            self.window.destroy()


class FileWindows:
    """Every file window of one session, on the Tk main thread."""

    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        technician: str,
        accept: Callable[[str, str], None],
        decline: Callable[[str], None],
        cancel: Callable[[str], None],
        send: Callable[[str], None],
    ) -> None:
        self._root, self._fonts, self._ = root, fonts, gettext
        self._technician = technician
        self._accept, self._decline, self._cancel, self._send = accept, decline, cancel, send
        self.offers: dict[str, FileOfferDialog] = {}
        self.transfers: dict[str, TransferWindow] = {}
        self.sender: SendFileWindow | None = None
        self.notice: TransferWindow | None = None

    def handle(self, event: FileEvent) -> None:
        if isinstance(event, FileOffered):
            self._offered(event)
        elif isinstance(event, FileTransferStarted):
            self._started(event)
        elif isinstance(event, FileTransferProgress):
            window = self.transfers.get(event.id)
            if window is not None:
                window.progress(event.done)
        else:
            self._ended(event)

    def _offered(self, event: FileOffered) -> None:
        def accept(folder: str) -> None:
            log.info("file accept pressed id=%s", event.id)
            self._close_offer(event.id)
            self._accept(event.id, folder)

        def decline() -> None:
            self._close_offer(event.id)
            self._decline(event.id)

        self.offers[event.id] = FileOfferDialog(
            self._root, self._fonts, self._, self._technician, event, accept, decline
        )

    def _close_offer(self, transfer_id: str) -> None:
        dialog = self.offers.pop(transfer_id, None)
        if dialog is not None:
            dialog.close()

    def _started(self, event: FileTransferStarted) -> None:
        if event.outgoing and self.sender is not None:
            self.sender.close()
            self.sender = None
        slot = len(self.transfers)
        self.transfers[event.id] = TransferWindow(
            self._root,
            self._fonts,
            self._,
            event,
            slot,
            on_cancel=lambda: self._cancel(event.id),
            on_closed=lambda: self._forget(event.id),
        )

    def _forget(self, transfer_id: str) -> None:
        self.transfers.pop(transfer_id, None)

    def _ended(self, event: FileTransferEnded) -> None:
        self._close_offer(event.id)
        window = self.transfers.get(event.id)
        if event.outcome == "done":
            text = (
                self._("Saved as {path}").format(path=event.detail)
                if event.detail
                else self._("The technician received the file.")
            )
        else:
            text = reason_text(self._, event.outcome, event.detail)
        if window is not None:
            window.finish(text)
        elif self.sender is not None and not event.id:  # refused before it started
            self.sender.error.configure(text=text)

    def open_sender(self) -> None:
        """The bar's *Send a file to the technician*."""
        if self.sender is not None:
            with contextlib.suppress(tk.TclError):
                self.sender.window.lift()
            return

        def closed() -> None:
            if self.sender is not None:
                self.sender.close()
                self.sender = None

        self.sender = SendFileWindow(self._root, self._fonts, self._, self._send, closed)

    def close(self) -> None:
        for dialog in list(self.offers.values()):
            dialog.close()
        self.offers.clear()
        if self.sender is not None:
            self.sender.close()
            self.sender = None
