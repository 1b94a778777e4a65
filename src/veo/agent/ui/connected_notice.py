"""The notice of a session that started without a question (issue 17: notify, unattended).

On a managed computer whose group's policy is *notify* or *unattended* nobody is asked before
the technician connects, so the person who is (or sits down) at the computer must see at once
who connected, from which organization and why, and be able to end it in one click. This window
says that, with its own *Stop the session*; *Close* only closes the notice: the session bar at
the top of the screen stays for the whole session and names who and why too.
"""

from __future__ import annotations

import contextlib
import logging
import tkinter as tk
from collections.abc import Callable

from veo.agent.ui.common import PAD, Fonts, GeometryReporter, open_window, place

log = logging.getLogger(__name__)
WRAP = 560


def notice_lines(
    gettext: Callable[[str], str], technician: str, organization: str, reason: str
) -> tuple[str, ...]:
    """What the notice says: the headline, the reason, and how to stop (tests read these)."""
    _ = gettext
    return (
        _("{technician} from {organization} connected to this computer.").format(
            technician=technician, organization=organization
        ),
        _("Reason: {reason}").format(reason=reason),
        _(
            "This computer is managed by {organization}, which allows its support to connect without "
            "asking first. The bar at the top of the screen stays while the session runs; Stop there "
            "or below ends it at once."
        ).format(organization=organization),
    )


class ConnectedNotice:
    def __init__(
        self,
        root: tk.Tk,
        fonts: Fonts,
        gettext: Callable[[str], str],
        *,
        technician: str,
        organization: str,
        reason: str,
        on_stop: Callable[[], None],
        on_close: Callable[[], None],
    ) -> None:
        _ = gettext
        self._on_stop = on_stop
        self.window, frame = open_window(root, _("Someone connected to this computer"), on_close, pad=PAD + 6)
        self.lines = notice_lines(gettext, technician, organization, reason)
        headline, why, how = self.lines
        tk.Label(frame, text=headline, font=fonts.title, wraplength=WRAP, justify="left").pack(anchor="w")
        tk.Label(frame, text=why, font=fonts.bold, wraplength=WRAP, justify="left").pack(
            anchor="w", pady=(PAD // 2, PAD // 2)
        )
        tk.Label(frame, text=how, font=fonts.body, wraplength=WRAP, justify="left").pack(anchor="w")
        buttons = tk.Frame(frame)
        buttons.pack(fill="x", pady=(PAD, 0))
        self.close_button = tk.Button(buttons, text=_("Close"), font=fonts.body, command=on_close, padx=PAD)
        self.close_button.pack(side="right")
        self.stop = tk.Button(
            buttons, text=_("Stop the session"), font=fonts.bold, command=self._stop, padx=PAD, fg="#a40000"
        )
        self.stop.pack(side="right", padx=(0, PAD))
        place(self.window)
        log.info("connected notice shown: %s", " ".join(self.lines[:2]))
        self.geometry = GeometryReporter(
            self.window, "connected_notice", {"stop": self.stop, "close": self.close_button}
        )

    def _stop(self) -> None:
        self.stop.configure(state="disabled")
        self._on_stop()

    def close(self) -> None:
        with contextlib.suppress(tk.TclError):  # already gone with the root
            self.window.destroy()


__all__ = ["ConnectedNotice", "notice_lines"]
