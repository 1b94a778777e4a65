"""Tk windows checked on a real X display, each check in a process of its own.

Tk keeps its X connection until its process exits: a Tk root in the test process would outlive the
module's Xvfb and kill pytest at the next module that opens a display of its own. So every check
runs in a fresh ``spawn`` process with a withdrawn Tk root of its own; the child's failure is
raised again here. One copy for every Tk window test (agent windows, device notice, history).
"""

from __future__ import annotations

import multiprocessing
import os
import tkinter as tk
from collections.abc import Callable


def in_display(display: str, check: Callable[..., None], *args: object) -> None:
    """In the child process: a Tk root of its own on ``display``, handed to ``check``."""
    os.environ["DISPLAY"] = display
    root = tk.Tk()
    root.withdraw()
    try:
        check(root, *args)
    finally:
        root.destroy()


def run_in_tk(display: str, check: Callable[..., None], *args: object) -> None:
    """``check(root, *args)`` in a fresh process on ``display`` (re-raises the child's failure)."""
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        pool.apply(in_display, (display, check, *args))


def tk_runner(display: str) -> Callable[..., None]:
    """What an ``in_tk`` fixture returns: :func:`run_in_tk` bound to the module's display."""

    def run(check: Callable[..., None], *args: object) -> None:
        run_in_tk(display, check, *args)

    return run


def labels(widget: tk.Misc) -> list[str]:
    """The words of every label and button below ``widget``, in widget order."""
    found = []
    for child in widget.winfo_children():
        if isinstance(child, tk.Label | tk.Button):
            found.append(str(child.cget("text")))
        found += labels(child)
    return found
