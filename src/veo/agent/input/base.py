"""What every input backend does, whatever the platform (XTest today; Windows/macOS later).

Calls arrive already checked by :mod:`veo.agent.policy`; a backend only applies them. Every
backend remembers what it holds down, because a session that ends (or a console that loses
focus) must never leave a key or a button stuck on the user's computer.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Literal

Button = Literal["left", "middle", "right"]


class InputError(RuntimeError):
    """The platform refused or lacks input injection (no display, no XTEST, ...)."""


class InputInjector(ABC):
    """Applies pointer and keyboard input on this computer, in screen pixels of the capture."""

    @abstractmethod
    def pointer_move(self, x: int, y: int) -> None: ...

    @abstractmethod
    def pointer_button(self, x: int, y: int, button: Button, down: bool) -> None: ...

    @abstractmethod
    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        """Scroll whole notches; positive ``dy`` scrolls down, positive ``dx`` right."""

    @abstractmethod
    def key(self, key: str, code: str, down: bool) -> None:
        """A key named as the DOM does (``key`` "a"/"Enter", ``code`` "KeyA")."""

    @abstractmethod
    def text(self, text: str) -> None:
        """Type characters, whatever the keyboard layout."""

    @abstractmethod
    def release_all(self) -> None:
        """Release every key and button this injector holds down."""

    @abstractmethod
    def close(self) -> None:
        """Release everything and free the platform connection."""
