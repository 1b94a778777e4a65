"""Input on Wayland through the RemoteDesktop portal: what the user switched on in the desktop's dialog.

The portal takes keysyms (the compositor finds the key, and the shift level, in the user's
layout), evdev button codes and discrete wheel steps; pointer positions are given relative to
one of the session's streams (a monitor). The console's positions arrive in desktop pixels, the
streams placed where the portal says they sit, so each point goes to the stream that contains it.

The input worker calls this from its own thread; every call is handed to the loop that owns the
portal's bus connection (:meth:`PortalSession.notify`) and returns at once, so a slow compositor
never holds up the input thread. What is pressed is remembered so that :meth:`release_all`
leaves no key or button down.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from veo.agent.desktop import StreamInfo
from veo.agent.input.base import Button, InputError, InputInjector
from veo.agent.input.keys import char_keysym, keysym_for

log = logging.getLogger(__name__)

#: linux/input-event-codes.h
BUTTONS: dict[str, int] = {"left": 0x110, "right": 0x111, "middle": 0x112}
PRESSED, RELEASED = 1, 0
CONTROL_L, SHIFT_L, SPACE = 0xFFE3, 0xFFE1, 0x20
VERTICAL, HORIZONTAL = 0, 1
MAX_NOTCHES = 100


class Notifier(Protocol):
    """What the injector needs of the portal session (:class:`veo.agent.portal.bus.PortalSession`)."""

    def notify(self, member: str, signature: str, *args: Any) -> None: ...


def stream_at(streams: Sequence[StreamInfo], x: int, y: int) -> tuple[StreamInfo, float, float]:
    """The stream under desktop pixel (x, y) and the point relative to it.

    A point outside every stream (a gap between monitors of different sizes) goes to the nearest
    one, kept inside it: the portal ignores positions outside the stream.
    """

    def distance(stream: StreamInfo) -> int:
        dx = max(stream.x - x, 0, x - (stream.x + stream.width - 1))
        dy = max(stream.y - y, 0, y - (stream.y + stream.height - 1))
        return dx * dx + dy * dy

    stream = min(streams, key=distance)
    rel_x = min(max(x - stream.x, 0), max(stream.width - 1, 0))
    rel_y = min(max(y - stream.y, 0), max(stream.height - 1, 0))
    return stream, float(rel_x), float(rel_y)


class Keymap(Protocol):
    """Whether the user's layout has a key for a keysym (``None``: unknown); see ``portal_keymap``."""

    def has(self, keysym: int) -> bool | None: ...

    def close(self) -> None: ...


def unicode_entry(char: str) -> list[tuple[int, bool]]:
    """Ctrl+Shift+U, the code point in hex, space: how GTK and IBus type any character.

    For a character the user's layout has no key for (the compositor would drop its keysym);
    applications that use neither (rare on GNOME) show nothing useful, which is said in the docs.
    """
    keys = [(CONTROL_L, True), (SHIFT_L, True), (ord("u"), True), (ord("u"), False)]
    keys += [(SHIFT_L, False), (CONTROL_L, False)]
    for digit in f"{ord(char):x}":
        keys += [(ord(digit), True), (ord(digit), False)]
    return [*keys, (SPACE, True), (SPACE, False)]


class PortalInjector(InputInjector):
    def __init__(
        self,
        session: Notifier,
        streams: Sequence[StreamInfo],
        current: Callable[[], Sequence[StreamInfo]] | None = None,
        keymap: Keymap | None = None,
    ) -> None:
        """``current``: the streams with their sizes now (a monitor resized since the dialog);
        ``keymap``: the user's layout (None: every keysym is sent as it is)."""
        if not streams:
            raise InputError("the desktop shared no screen to aim the pointer at")
        self._session = session
        self._streams = tuple(streams)
        self._current = current
        self._keymap = keymap
        self._keys_down: dict[str, int] = {}  # DOM code (or key) -> keysym pressed
        self._buttons_down: set[int] = set()

    # ------------------------------------------------------------ pointer

    def pointer_move(self, x: int, y: int) -> None:
        streams = (self._current() if self._current is not None else None) or self._streams
        stream, rel_x, rel_y = stream_at(streams, x, y)
        self._session.notify("NotifyPointerMotionAbsolute", "udd", stream.node_id, rel_x, rel_y)

    def pointer_button(self, x: int, y: int, button: Button, down: bool) -> None:
        code = BUTTONS[button]
        self.pointer_move(x, y)
        if down:
            self._buttons_down.add(code)
            self._session.notify("NotifyPointerButton", "iu", code, PRESSED)
        elif code in self._buttons_down:
            self._buttons_down.discard(code)
            self._session.notify("NotifyPointerButton", "iu", code, RELEASED)

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        self.pointer_move(x, y)
        for axis, steps in ((VERTICAL, dy), (HORIZONTAL, dx)):
            if steps:  # positive: down / right, as the portal's discrete axis counts
                steps = max(-MAX_NOTCHES, min(MAX_NOTCHES, steps))
                self._session.notify("NotifyPointerAxisDiscrete", "ui", axis, steps)

    # ------------------------------------------------------------ keyboard

    def _keysym(self, keysym: int, down: bool) -> None:
        self._session.notify("NotifyKeyboardKeysym", "iu", keysym, PRESSED if down else RELEASED)

    def key(self, key: str, code: str, down: bool) -> None:
        ident = code or key
        if not down:
            held = self._keys_down.pop(ident, None)
            if held is not None:
                self._keysym(held, False)
            return
        keysym = keysym_for(key, code)
        if keysym is None:
            log.debug("no keysym for key %r code %r", key, code)
            return
        if len(key) == 1 and self._missing(keysym):
            self.text(key)  # typed as a character; its key-up has nothing to release
            return
        held = self._keys_down.get(ident)
        if held is not None:  # auto-repeat: release first so the application sees a repeat
            self._keysym(held, False)
        self._keysym(keysym, True)
        self._keys_down[ident] = keysym

    def text(self, text: str) -> None:
        for char in text:
            named = {"\n": "Enter", "\t": "Tab"}.get(char)
            keysym = keysym_for(named) if named else char_keysym(char)
            if keysym is None:
                continue
            if self._missing(keysym):
                for entry_keysym, down in unicode_entry(char):
                    self._keysym(entry_keysym, down)
                continue
            self._keysym(keysym, True)
            self._keysym(keysym, False)

    def _missing(self, keysym: int) -> bool:
        """The layout is known and has no key for ``keysym``."""
        return self._keymap is not None and self._keymap.has(keysym) is False

    # ------------------------------------------------------------ the end

    def release_all(self) -> None:
        for keysym in self._keys_down.values():
            self._keysym(keysym, False)
        self._keys_down.clear()
        for code in sorted(self._buttons_down):
            self._session.notify("NotifyPointerButton", "iu", code, RELEASED)
        self._buttons_down.clear()

    def close(self) -> None:
        """Release everything; the portal session itself belongs to the desktop, which closes it."""
        self.release_all()
        if self._keymap is not None:
            self._keymap.close()
