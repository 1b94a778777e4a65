"""The interface of a global hotkey backend, and the key combination veo uses.

A user being talked through a scam may not find the session bar (a full-screen window, a
second monitor); one key combination that always stops the session is the way out. The bar
shows it. Backends call ``on_press`` from their own thread: the caller hands it to its loop.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Protocol

#: The X11 backend grabs exactly these (modifiers, then the key); in English as a keyboard prints them.
STOP_HOTKEY_KEYS = ("Ctrl", "Alt", "Shift", "End")
STOP_HOTKEY_LABEL = "+".join(STOP_HOTKEY_KEYS)


class Catalog(Protocol):
    def gettext(self, message: str, /) -> str: ...


def key_names(catalog: Catalog) -> dict[str, str]:
    """Each key's name as the reader's keyboard prints it (Spanish: Mayús, Fin); one place for all.

    The msgids are the English key caps; they mean keyboard keys wherever they appear.
    """
    _ = catalog.gettext
    return {"Ctrl": _("Ctrl"), "Alt": _("Alt"), "Shift": _("Shift"), "End": _("End")}


def stop_hotkey_label(catalog: Catalog) -> str:
    """``Ctrl+Alt+Shift+End`` / ``Ctrl+Alt+Mayús+Fin``: what the bar, the history and the docs show."""
    names = key_names(catalog)
    return "+".join(names[key] for key in STOP_HOTKEY_KEYS)


def stop_hotkey_description(catalog: Catalog) -> str:
    """What the desktop's shortcut settings call veo's key (Wayland's GlobalShortcuts portal)."""
    _ = catalog.gettext
    return _("Stop the veo remote support session")


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
