"""Pick the input backend for this computer (as uvicorn picks its loop): X11 today."""

from __future__ import annotations

import os
import sys

from veo.agent.input.base import InputError, InputInjector


def create_injector() -> InputInjector:
    """A new injector for this platform; call it in the thread that will use it."""
    if sys.platform.startswith("linux") or os.environ.get("DISPLAY"):
        from veo.agent.input.xtest import XTestInjector

        return XTestInjector()
    raise InputError(f"remote control is not supported on {sys.platform} yet")
