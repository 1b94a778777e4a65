"""X11 backend: ``XGrabKey`` on the root window, events read on a thread of its own.

The grab is made for every combination of the lock modifiers (Caps Lock, Num Lock) too, since
X matches modifiers exactly and a user with Num Lock on must still be able to stop the session.
The thread owns its own display connection (Xlib connections are not shared across threads).
"""

from __future__ import annotations

import logging
import select
import threading
from collections.abc import Callable
from typing import Any

from veo.agent.hotkey.base import GlobalHotkey, HotkeyError

log = logging.getLogger(__name__)
POLL_SECONDS = 0.2


class X11Hotkey(GlobalHotkey):
    def __init__(self, on_press: Callable[[], None], display_name: str | None = None) -> None:
        super().__init__(on_press)
        self._display_name = display_name
        self._display: Any = None
        self._keycode = 0
        self._masks: list[int] = []
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        from Xlib import XK, X
        from Xlib.display import Display

        try:
            display = Display(self._display_name)
        except Exception as exc:  # Xlib raises several types for "no display"
            raise HotkeyError(f"cannot open the display: {exc}") from None
        keycode = display.keysym_to_keycode(XK.string_to_keysym("End"))
        if not keycode:
            display.close()
            raise HotkeyError("the keyboard has no End key")
        base = X.ControlMask | X.Mod1Mask | X.ShiftMask
        num_lock = _num_lock_mask(display)
        locks = {0, X.LockMask, num_lock, X.LockMask | num_lock}
        masks = sorted(base | lock for lock in locks)
        failures: list[str] = []
        root = display.screen().root

        def on_error(err: Any, *_args: object) -> None:
            failures.append(type(err).__name__)

        for mask in masks:
            root.grab_key(keycode, mask, True, X.GrabModeAsync, X.GrabModeAsync, onerror=on_error)
        display.sync()
        if failures:
            for mask in masks:
                root.ungrab_key(keycode, mask)
            display.close()
            raise HotkeyError(f"another program holds the key ({failures[0]})")
        self._display, self._keycode, self._masks = display, keycode, masks
        self._thread = threading.Thread(target=self._run, name="veo-hotkey", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from Xlib import X

        display = self._display
        while not self._stopping.is_set():
            try:
                ready, _w, _x = select.select([display.fileno()], [], [], POLL_SECONDS)
                if not ready and not display.pending_events():
                    continue
                while display.pending_events():
                    event = display.next_event()
                    if event.type == X.KeyPress and event.detail == self._keycode:
                        log.info("stop hotkey pressed")
                        self.on_press()
            except Exception:
                if not self._stopping.is_set():
                    log.exception("the hotkey listener failed")
                return

    def stop(self) -> None:
        if self._display is None or self._stopping.is_set():
            return
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2)
        display = self._display
        try:
            root = display.screen().root
            for mask in self._masks:
                root.ungrab_key(self._keycode, mask)
            display.sync()
        except Exception:
            log.debug("ungrab failed (display gone)", exc_info=True)
        finally:
            display.close()


def _num_lock_mask(display: Any) -> int:
    """The modifier bit Num Lock sits on (usually Mod2), from the server's modifier mapping."""
    from Xlib import XK

    num_lock = display.keysym_to_keycode(XK.string_to_keysym("Num_Lock"))
    for index, keycodes in enumerate(display.get_modifier_mapping()):
        if num_lock and num_lock in keycodes:
            return int(1 << index)
    return 0
