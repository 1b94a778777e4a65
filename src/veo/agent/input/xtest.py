"""Input on an X11 display through the XTEST extension (python-xlib), on ``$DISPLAY``.

XTEST injects at the X server, so every application sees ordinary device events. A character
that the current keymap lacks is typed by binding it for a moment to a spare keycode (as
xdotool does) and restoring the keycode at once. Everything pressed is remembered so that
``release_all`` leaves no key or button stuck.

Not thread-safe: one instance belongs to one thread (the agent's input thread).
"""

from __future__ import annotations

import logging

from Xlib import XK, X
from Xlib import display as xdisplay
from Xlib.error import DisplayError
from Xlib.ext import xtest

from veo.agent.input.base import Button, InputError, InputInjector
from veo.agent.input.keys import char_keysym, keysym_for

log = logging.getLogger(__name__)

BUTTONS: dict[str, int] = {"left": 1, "middle": 2, "right": 3}
WHEEL_UP, WHEEL_DOWN, WHEEL_LEFT, WHEEL_RIGHT = 4, 5, 6, 7
MAX_NOTCHES = 100


class XTestInjector(InputInjector):
    def __init__(self, display_name: str | None = None) -> None:
        try:
            self._display = xdisplay.Display(display_name)
        except (DisplayError, OSError) as exc:
            raise InputError(f"cannot open the X display: {exc}") from None
        if not self._display.has_extension("XTEST"):
            self._display.close()
            raise InputError("the X server has no XTEST extension")
        screen = self._display.screen()
        self._width = int(screen.width_in_pixels)
        self._height = int(screen.height_in_pixels)
        self._keys_down: dict[str, int] = {}
        self._buttons_down: set[int] = set()
        self._shift = self._display.keysym_to_keycode(XK.XK_Shift_L)
        self._spares: list[int] | None = None
        self._bound: dict[int, int] = {}

    # ------------------------------------------------------------ pointer

    def _move(self, x: int, y: int) -> None:
        x = max(0, min(self._width - 1, x))
        y = max(0, min(self._height - 1, y))
        xtest.fake_input(self._display, X.MotionNotify, x=x, y=y)

    def pointer_move(self, x: int, y: int) -> None:
        self._move(x, y)
        self._display.sync()

    def pointer_button(self, x: int, y: int, button: Button, down: bool) -> None:
        number = BUTTONS[button]
        self._move(x, y)
        if down:
            xtest.fake_input(self._display, X.ButtonPress, number)
            self._buttons_down.add(number)
        elif number in self._buttons_down:
            xtest.fake_input(self._display, X.ButtonRelease, number)
            self._buttons_down.discard(number)
        self._display.sync()

    def wheel(self, x: int, y: int, dx: int, dy: int) -> None:
        self._move(x, y)
        for button, count in (
            (WHEEL_DOWN if dy > 0 else WHEEL_UP, abs(dy)),
            (WHEEL_RIGHT if dx > 0 else WHEEL_LEFT, abs(dx)),
        ):
            for _ in range(min(count, MAX_NOTCHES)):
                xtest.fake_input(self._display, X.ButtonPress, button)
                xtest.fake_input(self._display, X.ButtonRelease, button)
        self._display.sync()

    # ------------------------------------------------------------ keyboard

    def _keycode_and_level(self, keysym: int) -> tuple[int, int] | None:
        """The keycode and shift level (0 plain, 1 shifted) carrying ``keysym``, if any."""
        for keycode, index in self._display.keysym_to_keycodes(keysym):
            if index in (0, 1):
                return int(keycode), int(index)
        return None

    def key(self, key: str, code: str, down: bool) -> None:
        ident = code or key
        if not down:
            keycode = self._keys_down.pop(ident, None)
            if keycode is not None:
                xtest.fake_input(self._display, X.KeyRelease, keycode)
                self._display.sync()
            return
        keysym = keysym_for(key, code)
        if keysym is None:
            log.debug("no keysym for key %r code %r", key, code)
            return
        found = self._keycode_and_level(keysym)
        if found is None:
            # absent from the keymap: type it as a character; its key-up has nothing to release
            self.text(key)
            return
        if ident in self._keys_down:  # auto-repeat: release first so the application sees a repeat
            xtest.fake_input(self._display, X.KeyRelease, self._keys_down[ident])
        xtest.fake_input(self._display, X.KeyPress, found[0])
        self._keys_down[ident] = found[0]
        self._display.sync()

    def text(self, text: str) -> None:
        for char in text:
            keysym = (
                char_keysym(char) if char not in "\n\t" else keysym_for("Enter" if char == "\n" else "Tab")
            )
            if keysym is None:
                continue
            found = self._keycode_and_level(keysym)
            if found is None:
                self._type_unmapped(keysym)
                continue
            keycode, level = found
            if level == 1:
                xtest.fake_input(self._display, X.KeyPress, self._shift)
            xtest.fake_input(self._display, X.KeyPress, keycode)
            xtest.fake_input(self._display, X.KeyRelease, keycode)
            if level == 1:
                xtest.fake_input(self._display, X.KeyRelease, self._shift)
            self._display.sync()

    def _spare_keycodes(self) -> list[int]:
        first = self._display.display.info.min_keycode
        count = self._display.display.info.max_keycode - first + 1
        mapping = self._display.get_keyboard_mapping(first, count)
        return [first + offset for offset in range(count - 1, -1, -1) if not any(mapping[offset])]

    def _type_unmapped(self, keysym: int) -> None:
        """Bind ``keysym`` to a spare keycode and press it.

        The binding stays until the spare is needed again or the injector closes: a client reads
        the new mapping only when it handles the MappingNotify, possibly after we would have
        restored it, and the character would be lost.
        """
        keycode = self._bound.get(keysym)
        if keycode is None:
            if self._spares is None:
                self._spares = self._spare_keycodes()
            if not self._spares:
                log.warning("no spare keycode to type keysym %#x", keysym)
                return
            keycode = self._spares[len(self._bound) % len(self._spares)]
            for old_keysym, old_keycode in list(self._bound.items()):
                if old_keycode == keycode:
                    del self._bound[old_keysym]
            self._display.change_keyboard_mapping(keycode, [(keysym, keysym)])
            self._display.sync()
            self._bound[keysym] = keycode
        xtest.fake_input(self._display, X.KeyPress, keycode)
        xtest.fake_input(self._display, X.KeyRelease, keycode)
        self._display.sync()

    def _restore_spares(self) -> None:
        for keycode in set(self._bound.values()):
            self._display.change_keyboard_mapping(keycode, [(X.NoSymbol, X.NoSymbol)])
        self._bound.clear()
        self._display.sync()

    # ------------------------------------------------------------ lifecycle

    def release_all(self) -> None:
        for keycode in self._keys_down.values():
            xtest.fake_input(self._display, X.KeyRelease, keycode)
        for button in self._buttons_down:
            xtest.fake_input(self._display, X.ButtonRelease, button)
        self._keys_down.clear()
        self._buttons_down.clear()
        self._display.sync()

    def close(self) -> None:
        try:
            self.release_all()
            self._restore_spares()
        finally:
            self._display.close()
