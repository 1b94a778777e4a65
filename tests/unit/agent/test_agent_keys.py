"""DOM key names -> X keysyms."""

from __future__ import annotations

import pytest
from Xlib import XK

from veo.agent.input.keys import char_keysym, keysym_for


@pytest.mark.parametrize(
    ("key", "code", "name"),
    [
        ("Enter", "Enter", "Return"),
        ("Backspace", "Backspace", "BackSpace"),
        ("ArrowLeft", "ArrowLeft", "Left"),
        ("ArrowRight", "", "Right"),
        ("ArrowUp", "", "Up"),
        ("ArrowDown", "", "Down"),
        ("Shift", "ShiftLeft", "Shift_L"),
        ("Shift", "ShiftRight", "Shift_R"),
        ("Control", "ControlLeft", "Control_L"),
        ("Control", "ControlRight", "Control_R"),
        ("Alt", "AltLeft", "Alt_L"),
        ("Meta", "MetaLeft", "Super_L"),
        ("F1", "F1", "F1"),
        ("F12", "F12", "F12"),
        ("PageUp", "PageUp", "Prior"),
        ("PageDown", "PageDown", "Next"),
        (" ", "Space", "space"),
        ("Tab", "Tab", "Tab"),
        ("Escape", "Escape", "Escape"),
        ("Delete", "Delete", "Delete"),
        ("Home", "", "Home"),
        ("End", "", "End"),
        ("a", "KeyA", "a"),
        ("A", "KeyA", "A"),
        ("7", "Digit7", "7"),
        ("@", "Digit2", "at"),
        ("ñ", "Semicolon", "ntilde"),
    ],
)
def test_named_and_character_keys(key: str, code: str, name: str) -> None:
    assert keysym_for(key, code) == XK.string_to_keysym(name)


@pytest.mark.parametrize("key", ["Dead", "Unidentified", "Process", "\n", "\x7f", "ab"])
def test_keys_without_keysym(key: str) -> None:
    assert keysym_for(key, "") is None


def test_characters_outside_latin1_use_unicode_keysyms() -> None:
    assert char_keysym("é") == 0xE9
    assert char_keysym("ł") == 0x01000142
    assert keysym_for("€", "KeyE") == 0x010020AC
    assert char_keysym("😀") == 0x0100_0000 | 0x1F600
