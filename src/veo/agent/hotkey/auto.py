"""Choose the stop key's backend for this desktop, the way every chooser does (``backend()``).

X11: a grab on the root window. Wayland (the ``portal`` backend): the GlobalShortcuts portal
where the desktop has it; never an X11 grab through XWayland, which hears only keys typed into
X11 windows, so the bar would promise a key that does nothing. Where there is no key,
:func:`create_stop_hotkey` raises :class:`~veo.agent.backend.BackendError` ``no_stop_key``: the
session goes on and the bar says that its Stop button is the way out.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from veo.agent.backend import BackendError, backend
from veo.agent.hotkey.base import GlobalHotkey, HotkeyError

log = logging.getLogger(__name__)


def create_stop_hotkey(on_press: Callable[[], None], description: str | None = None) -> GlobalHotkey:
    """Grab the stop combination; raises ``BackendError("no_stop_key")`` where there can be none.

    ``description`` is what the desktop's shortcut settings show for the key on Wayland, in the
    user's language (see :func:`veo.agent.hotkey.base.stop_hotkey_description`).
    """
    hotkey: GlobalHotkey
    if backend() == "portal":
        from veo.agent.hotkey.portal import DEFAULT_DESCRIPTION, PortalHotkey

        hotkey = PortalHotkey(on_press, description or DEFAULT_DESCRIPTION)
    else:
        from veo.agent.hotkey.x11 import X11Hotkey

        hotkey = X11Hotkey(on_press)
    try:
        hotkey.start()
    except HotkeyError as exc:
        raise BackendError("no_stop_key", str(exc)) from None
    return hotkey


def start_stop_hotkey(on_press: Callable[[], None], description: str | None = None) -> GlobalHotkey | None:
    """:func:`create_stop_hotkey`, or None (logged with the reason) when this desktop has no key."""
    try:
        hotkey = create_stop_hotkey(on_press, description)
    except BackendError as exc:
        log.warning("no global stop hotkey: %s", exc)
        return None
    log.info("stop hotkey grabbed")
    return hotkey
