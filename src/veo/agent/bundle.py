"""The one-file agent's own environment, kept away from the programs it starts.

PyInstaller's one-file bootloader unpacks the bundle and starts Python with ``LD_LIBRARY_PATH``
pointing into it (measured on ``dist/agent``'s build: ``LD_LIBRARY_PATH=/tmp/_MEI…``), and Tk's
hook adds ``TCL_LIBRARY``/``TK_LIBRARY`` there. A program the agent starts (the browser for the
download page, ``xrandr`` and ``<program> --version`` for the system information) would load the
bundle's libraries instead of its own, and may fail or report something else.
"""

from __future__ import annotations

import os
import sys

#: Variables PyInstaller saves as ``<name>_ORIG`` before it changes them.
_SAVED = ("LD_LIBRARY_PATH",)


def user_environment() -> dict[str, str] | None:
    """The environment the user's own programs expect, or ``None`` when it is this process's own
    (not a frozen agent). Whatever names the bundle goes; a value PyInstaller saved comes back."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not bundle:
        return None
    env = {name: value for name, value in os.environ.items() if bundle not in value}
    for name in _SAVED:
        saved = env.pop(f"{name}_ORIG", None)
        if saved is not None:
            env[name] = saved
    return env
