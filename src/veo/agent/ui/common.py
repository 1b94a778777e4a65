"""Shared look of the agent's windows: big readable fonts, centred, always on top.

Also logs ``ui-geometry <window> <json>`` whenever a window's layout settles or changes, with
the screen rectangles of the widgets that matter: the end-to-end tests click the real dialog
with xdotool at these places (the agent has no "accept automatically" path).
"""

from __future__ import annotations

import contextlib
import json
import logging
import tkinter as tk
from collections.abc import Callable
from tkinter import font as tkfont

from veo.agent.ui.tk_root import new_root

log = logging.getLogger("veo.agent.ui")

PAD = 14


class Fonts:
    """Named fonts created once per Tk root."""

    def __init__(self, root: tk.Misc) -> None:
        base = tkfont.nametofont("TkDefaultFont").actual("family")
        self.body = tkfont.Font(root=root, family=base, size=14)
        self.bold = tkfont.Font(root=root, family=base, size=14, weight="bold")
        self.title = tkfont.Font(root=root, family=base, size=18, weight="bold")
        fixed = tkfont.nametofont("TkFixedFont").actual("family")
        self.code = tkfont.Font(root=root, family=fixed, size=26, weight="bold")


def keep_on_top(window: tk.Toplevel) -> None:
    window.attributes("-topmost", True)
    window.resizable(False, False)


def shown_without_focus(window: tk.Toplevel) -> None:
    """Let the window manager put ``window`` in front without handing it the keyboard.

    Call before the window is first mapped. Mutter (GNOME on X11, and on Wayland for XWayland
    windows) gives the focus to every new normal window: a window that pops up by itself (the
    chat, when the technician writes) took the keys the user was typing into their own
    application, and counted them as "seen". Typed as a utility window (EWMH
    ``_NET_WM_WINDOW_TYPE_UTILITY``) it is mapped above, unfocused; a click or ``focus_force``
    still gives it the keyboard. Checked on headless mutter 43 above a focused fullscreen
    Wayland window (``tests/integration/test_agent_windows_wayland.py``); without a window
    manager (Xvfb) the type changes nothing.
    """
    with contextlib.suppress(tk.TclError):  # a Tk without the X11 -type attribute
        window.attributes("-type", "utility")


def open_window(
    root: tk.Tk, title: str, on_close: Callable[[], object], pad: int = PAD * 2
) -> tuple[tk.Toplevel, tk.Frame]:
    """Every agent window starts alike: titled, kept on top, closing it runs ``on_close`` (so the
    window manager's close button means the same as the window's own Cancel/Deny); returns the
    window and the padded frame its content goes in."""
    window = tk.Toplevel(root)
    window.title(title)
    keep_on_top(window)
    window.protocol("WM_DELETE_WINDOW", on_close)
    frame = tk.Frame(window, padx=pad, pady=pad)
    frame.pack(fill="both", expand=True)
    return window, frame


def place(window: tk.Toplevel, where: str = "center") -> None:
    """Centre (or put at the top centre) once the window knows its natural size."""
    window.update_idletasks()
    width, height = window.winfo_reqwidth(), window.winfo_reqheight()
    screen_w, screen_h = window.winfo_screenwidth(), window.winfo_screenheight()
    x = max(0, (screen_w - width) // 2)
    y = 0 if where == "top" else max(0, (screen_h - height) // 3)
    window.geometry(f"+{x}+{y}")


class GeometryReporter:
    """Logs the screen rectangles of named widgets when mapped, moved or re-laid out."""

    def __init__(self, window: tk.Toplevel, name: str, widgets: dict[str, tk.Widget]) -> None:
        self._window = window
        self._name = name
        self._widgets = widgets
        self._last: str | None = None
        self._pending = False
        window.bind("<Map>", self._schedule, add="+")
        window.bind("<Configure>", self._schedule, add="+")
        # ``place`` may already have mapped the window (update_idletasks) before these bindings
        # existed: report once at idle too, or such a window would stay unreported until it moves
        self._schedule()

    def _schedule(self, _event: object = None) -> None:
        if not self._pending:
            self._pending = True
            self._window.after_idle(self.report)

    def report(self) -> None:
        self._pending = False
        try:
            if not self._window.winfo_ismapped():
                return
            self._window.update_idletasks()
            rects = {
                name: [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()]
                for name, w in self._widgets.items()
                if w.winfo_ismapped()
            }
        except tk.TclError:  # the window went away meanwhile
            return
        text = json.dumps(rects, separators=(",", ":"), sort_keys=True)
        if text != self._last:
            self._last = text
            log.info("ui-geometry %s %s", self._name, text)

    def relayout(self) -> None:
        """Call after changing a widget's text: its size may have changed."""
        self._schedule()


def run_alone(
    make_window: Callable[[tk.Tk, Fonts], object],
    name: str,
    on_tk_error: Callable[..., None] | None = None,
) -> tk.TclError | None:
    """Run one window without a session (``--history``, the problem window) until it closes.

    ``make_window(root, fonts)`` builds it; its close must call ``root.quit``. SIGTERM and SIGINT
    close it too: Tk waits in C, so a tick every 200 ms lets Python run the signal handlers.
    Returns ``None`` once the window has closed, or Tk's error when no window can open (no
    display): the caller says it in its own words.
    """
    import signal

    try:
        root = new_root()
    except tk.TclError as exc:
        return exc
    if on_tk_error is not None:
        root.report_callback_exception = on_tk_error
    stop: list[int] = []

    def tick() -> None:
        if stop:
            root.quit()
        else:
            root.after(200, tick)

    try:
        root.withdraw()
        make_window(root, Fonts(root))
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda signum, _frame: stop.append(signum))
        root.after(200, tick)
        root.mainloop()
        log.info("%s window closed", name)
    finally:
        root.destroy()
    return None
