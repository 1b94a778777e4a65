"""Which keysyms the user's keyboard layout has, so the portal is sent only what it can type.

The portal's ``NotifyKeyboardKeysym`` makes the compositor look the keysym up in the current
layout; mutter drops one that has no key there ("No keycode found for keyval": é or € on a US
layout) and the portal still answers success, so veo must know beforehand. Wayland gives a
program the layout only through a focused Wayland surface, but XWayland mirrors the compositor's
keymap to X clients, and veo's windows already use XWayland: its keyboard mapping is read here
(python-xlib, one round trip, read again after :data:`MAX_AGE_S` in case the user switched
layouts). Without XWayland nothing is known and every keysym is sent as it is.

Used from the input thread only (python-xlib connections are not thread-safe).
"""

from __future__ import annotations

import logging
import time
from typing import Any

log = logging.getLogger(__name__)

MAX_AGE_S = 5.0


class XKeymap:
    def __init__(self, display_name: str | None = None, max_age: float = MAX_AGE_S) -> None:
        self._display_name = display_name
        self._max_age = max_age
        self._display: Any = None
        self._keysyms: frozenset[int] | None = None
        self._read_at = 0.0
        self._failed = False

    def _read(self) -> frozenset[int] | None:
        if self._failed:
            return None
        try:
            if self._display is None:
                from Xlib import display

                self._display = display.Display(self._display_name)
            info = self._display.display.info
            first, last = int(info.min_keycode), int(info.max_keycode)
            mapping = self._display.get_keyboard_mapping(first, last - first + 1)
        except Exception as exc:  # no XWayland (or it went away): nothing is known
            log.info("keyboard layout unknown (no XWayland keymap: %s); keysyms sent as they are", exc)
            self._failed = True
            self.close()
            return None
        return frozenset(int(sym) for row in mapping for sym in row if sym)

    def has(self, keysym: int) -> bool | None:
        """Whether the layout has a key for ``keysym`` (``None``: unknown)."""
        now = time.monotonic()
        if self._keysyms is None or now - self._read_at > self._max_age:
            self._keysyms = self._read()
            self._read_at = now
        if self._keysyms is None:
            return None
        return keysym in self._keysyms

    def close(self) -> None:
        if self._display is not None:
            try:
                self._display.close()
            except Exception:
                log.debug("closing the X connection failed", exc_info=True)
            self._display = None
