"""Pick the capture backend for this computer: mss on X11 today."""

from __future__ import annotations

import sys

from veo.agent.capture.base import CaptureError, ScreenCapture


def create_capture() -> ScreenCapture:
    """A new capture backend; call it in the thread that will use it."""
    if sys.platform.startswith("linux"):
        from veo.agent.capture.x11 import MssCapture

        return MssCapture()
    raise CaptureError(f"screen capture is not supported on {sys.platform} yet")
