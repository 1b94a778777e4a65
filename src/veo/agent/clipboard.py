"""Clipboard text, both directions, only while the user's grant allows ``clipboard``.

Two halves, one per thread:

- :class:`AgentClipboard` lives on the session's event loop. The console's ``clipboard`` message
  reaches it only after the policy allowed it (``clipboard`` granted and both codes compared);
  it posts :class:`~veo.agent.events.ClipboardReceived` for the Tk thread. Text copied on this
  computer goes out through :meth:`AgentClipboard.send_local`, which asks the same policy first:
  the agent never sends clipboard data the user did not allow.
- :class:`TkClipboard` lives on the Tk main thread and uses Tk's own CLIPBOARD selection (no
  extra program needed, works on any X server including Xvfb): it writes what the technician
  sent, and polls for the user's own copies. What was on the clipboard before the session
  started is never sent, only what the user copies while it runs.

Log lines (stable, the tests read them): ``clipboard received chars=<n>``, ``clipboard sent
chars=<n>``, ``clipboard not sent: <reason>``.
"""

from __future__ import annotations

import contextlib
import logging
import time
import tkinter as tk
from collections.abc import Callable
from typing import Any, Protocol

from veo.agent.events import ClipboardReceived, UiEvent
from veo.agent.policy import Policy
from veo.protocol.datachannel import AgentDataMessage
from veo.protocol.transfer import MAX_CLIPBOARD_CHARS, ClipboardText

log = logging.getLogger(__name__)

#: How often the Tk side looks at the clipboard for the user's own copies.
POLL_MS = 500


class ClipboardPeer(Protocol):
    policy: Policy

    def on_data(self, message_type: str, handler: Callable[[Any], None]) -> None: ...

    def send_data(self, message: AgentDataMessage) -> None: ...


class AgentClipboard:
    """The session's side: hand allowed text to the windows, send the user's copies if allowed."""

    def __init__(self, peer: ClipboardPeer, post: Callable[[UiEvent], None]) -> None:
        self._peer = peer
        self._post = post
        peer.on_data("clipboard", self._on_clipboard)

    def _on_clipboard(self, message: ClipboardText) -> None:
        log.info("clipboard received chars=%d", len(message.text))
        self._post(ClipboardReceived(message.text))

    def send_local(self, text: str) -> None:
        """The user copied ``text`` on this computer (called on the loop by :class:`TkClipboard`)."""
        refusal = self._peer.policy.refusal_for("clipboard")
        if refusal is not None:
            log.info("clipboard not sent: %s", refusal)
            return
        text = text[:MAX_CLIPBOARD_CHARS]
        self._peer.send_data(ClipboardText(text=text))
        log.info("clipboard sent chars=%d", len(text))


class TkClipboard:
    """The X CLIPBOARD selection through Tk, on the main thread: set it, and watch for changes."""

    def __init__(self, root: tk.Tk, on_change: Callable[[str], None]) -> None:
        self._root = root
        self._on_change = on_change
        self._last = self.read()  # what was there before the session is not the session's business
        self._job: str | None = root.after(POLL_MS, self._poll)

    def read(self) -> str | None:
        for kind in ("UTF8_STRING", "STRING"):
            try:
                return str(self._root.clipboard_get(type=kind))
            except tk.TclError:
                continue
        return None

    def write(self, text: str) -> None:
        """Put the technician's text on the user's clipboard (Tk owns the selection from now on)."""
        self._root.clipboard_clear()
        self._root.clipboard_append(text)
        self._root.update_idletasks()
        self._last = text  # not an echo to send back

    def _poll(self) -> None:
        self._job = None
        started = time.monotonic()
        text = self.read()
        took = time.monotonic() - started
        if took > 0.5:  # Tk waits for the selection's owner: a slow one freezes every window
            log.warning("reading the clipboard took %.1f s", took)
        if text is not None and text != self._last:
            self._last = text
            self._on_change(text)
        self._job = self._root.after(POLL_MS, self._poll)

    def close(self) -> None:
        if self._job is not None:
            with contextlib.suppress(tk.TclError):
                self._root.after_cancel(self._job)
            self._job = None
