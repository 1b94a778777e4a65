"""Choose the hotkey backend for this desktop (X11 only, today), or none."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from veo.agent.hotkey.base import GlobalHotkey, HotkeyError

log = logging.getLogger(__name__)


def start_stop_hotkey(on_press: Callable[[], None]) -> GlobalHotkey | None:
    """Grab the stop combination; None (logged) when this desktop cannot have one."""
    if not os.environ.get("DISPLAY"):
        log.warning("no global stop hotkey: no X display")
        return None
    from veo.agent.hotkey.x11 import X11Hotkey

    hotkey = X11Hotkey(on_press)
    try:
        hotkey.start()
    except HotkeyError as exc:
        log.warning("no global stop hotkey: %s", exc)
        return None
    log.info("stop hotkey grabbed")
    return hotkey
