"""The interface of a global hotkey backend, and the key combination veo uses.

A user being talked through a scam may not find the session bar (a full-screen window, a
second monitor); one key combination that always stops the session is the way out. The bar
shows it. Backends call ``on_press`` from their own thread: the caller hands it to its loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable

#: Shown on the session bar; the X11 backend grabs exactly this.
STOP_HOTKEY_LABEL = "Ctrl+Alt+Shift+End"


class HotkeyError(Exception):
    """The combination could not be grabbed (no display, or another program holds it)."""


class GlobalHotkey(ABC):
    """Grabs one key combination for the whole desktop until :meth:`stop`."""

    def __init__(self, on_press: Callable[[], None]) -> None:
        self.on_press = on_press

    @abstractmethod
    def start(self) -> None:
        """Grab the combination; raises :class:`HotkeyError` when it cannot."""

    @abstractmethod
    def stop(self) -> None:
        """Release the grab; safe to call more than once."""
