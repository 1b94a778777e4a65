"""DOM key names (``KeyboardEvent.key`` / ``.code``) to X keysyms, as plain data.

Kept free of any display connection so it is unit-tested on its own. Windows and macOS
backends will need their own table; the DOM names are the common language.
"""

from __future__ import annotations

from Xlib import XK

#: ``KeyboardEvent.key`` values that are not characters -> X keysym names.
NAMED_KEYS: dict[str, str] = {
    "Enter": "Return",
    "Backspace": "BackSpace",
    "Tab": "Tab",
    "Escape": "Escape",
    "Esc": "Escape",
    "Delete": "Delete",
    "Insert": "Insert",
    "Home": "Home",
    "End": "End",
    "PageUp": "Prior",
    "PageDown": "Next",
    "ArrowLeft": "Left",
    "ArrowRight": "Right",
    "ArrowUp": "Up",
    "ArrowDown": "Down",
    "Shift": "Shift_L",
    "Control": "Control_L",
    "Alt": "Alt_L",
    "AltGraph": "ISO_Level3_Shift",
    "Meta": "Super_L",
    "OS": "Super_L",
    "Super": "Super_L",
    "CapsLock": "Caps_Lock",
    "NumLock": "Num_Lock",
    "ScrollLock": "Scroll_Lock",
    "ContextMenu": "Menu",
    "PrintScreen": "Print",
    "Pause": "Pause",
    "Spacebar": "space",
    " ": "space",
    **{f"F{n}": f"F{n}" for n in range(1, 25)},
}

#: The right-hand modifiers, told apart by ``KeyboardEvent.code``.
RIGHT_MODIFIERS: dict[str, str] = {
    "ShiftRight": "Shift_R",
    "ControlRight": "Control_R",
    "AltRight": "Alt_R",
    "MetaRight": "Super_R",
    "OSRight": "Super_R",
}


def char_keysym(char: str) -> int | None:
    """The keysym of one printable character (Latin-1 directly, the rest as Unicode keysyms)."""
    if len(char) != 1:
        return None
    point = ord(char)
    if point < 0x20 or point == 0x7F or 0x80 <= point < 0xA0:
        return None
    if point <= 0xFF:
        return point
    return 0x01000000 | point


def keysym_for(key: str, code: str = "") -> int | None:
    """The X keysym for a DOM key, or ``None`` when it has none (``Dead``, ``Unidentified``)."""
    if key in NAMED_KEYS:
        name = (
            RIGHT_MODIFIERS.get(code, NAMED_KEYS[key])
            if key in ("Shift", "Control", "Alt", "Meta", "OS")
            else NAMED_KEYS[key]
        )
        keysym: int = XK.string_to_keysym(name)
        return keysym or None
    return char_keysym(key)
