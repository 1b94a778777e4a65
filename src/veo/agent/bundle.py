"""The one-file agent's own environment, kept away from the programs it starts.

PyInstaller's one-file bootloader unpacks the bundle and starts Python with ``LD_LIBRARY_PATH``
pointing into it (measured on ``dist/agent``'s build: ``LD_LIBRARY_PATH=/tmp/_MEI…``), and Tk's
hook adds ``TCL_LIBRARY``/``TK_LIBRARY`` there. A program the agent starts (the browser for the
download page, ``xrandr`` and ``<program> --version`` for the system information) would load the
bundle's libraries instead of its own, and may fail or report something else.

The bundle's runtime hook (``packaging/agent/rthook_gstreamer.py``) points GStreamer, PyGObject and
the PipeWire client at the bundle, and sets some variables whose value does not name it
(``GST_REGISTRY_FORK=no``); it records every variable's value before in :data:`BUNDLE_ENV`, and
those values come back too (a GStreamer program started with the agent's
``GST_PLUGIN_SYSTEM_PATH`` would find none of its own plugins).

The bootloader's own bookkeeping (``_PYI_ARCHIVE_FILE``, ``_PYI_PARENT_PROCESS_LEVEL``,
``_PYI_LINUX_PROCESS_NAME``, ``_MEIPASS2``…) goes as well, whatever its value, and
``PYINSTALLER_RESET_ENVIRONMENT=1`` is set: PyInstaller's documented switch (6.9 and newer,
"Using sys.executable to spawn subprocesses that outlive the application process") that makes
another PyInstaller-built program start as an independent instance instead of taking itself for
a worker of an already-unpacked application.
"""

from __future__ import annotations

import json
import os
import sys

#: Variables PyInstaller saves as ``<name>_ORIG`` before it changes them.
_SAVED = ("LD_LIBRARY_PATH",)
#: JSON ``{name: value before, or null}`` written by the bundle's runtime hook.
BUNDLE_ENV = "VEO_AGENT_BUNDLE_ENV"
#: Names the bootloader uses for itself: never passed on.
_BOOTLOADER_PREFIXES = ("_PYI_", "_MEI")
RESET_ENV = "PYINSTALLER_RESET_ENVIRONMENT"


def user_environment() -> dict[str, str] | None:
    """The environment the user's own programs expect, or ``None`` when it is this process's own
    (not a frozen agent). Whatever names the bundle goes; a value PyInstaller saved comes back."""
    bundle = getattr(sys, "_MEIPASS", None)
    if not getattr(sys, "frozen", False) or not bundle:
        return None
    env = {
        name: value
        for name, value in os.environ.items()
        if bundle not in value and not name.startswith(_BOOTLOADER_PREFIXES)
    }
    for name in _SAVED:
        saved = env.pop(f"{name}_ORIG", None)
        if saved is not None:
            env[name] = saved
    try:
        before = json.loads(env.pop(BUNDLE_ENV, "") or "{}")
    except ValueError:
        before = {}
    for name, value in before.items() if isinstance(before, dict) else ():
        env.pop(name, None)
        if isinstance(value, str):
            env[name] = value
    env[RESET_ENV] = "1"
    return env
