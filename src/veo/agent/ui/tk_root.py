"""The one way the agent makes its Tk root: with Tk's ``send`` command removed.

Tk lets any other X client on the same display run Tcl in a Tk program through ``send`` (an
X property protocol: whoever can draw on the display can write it). The agent's windows show on
a user's desktop, and a managed device's service may start them for another account than the
one that owns the display's other programs (or as root on a kiosk): a program there could then
run commands as veo's account by ``send``. veo never uses ``send``, so it is renamed away before
any window exists (review R1-13).
"""

from __future__ import annotations

import contextlib
import tkinter as tk

CLASS_NAME = "veo-agent"


def new_root() -> tk.Tk:
    """A Tk root for the agent's windows (``tk.TclError`` when no display can be opened)."""
    root = tk.Tk(className=CLASS_NAME)
    with contextlib.suppress(tk.TclError):  # a Tk built without send: nothing to remove
        root.tk.call("rename", "send", "")
    return root
