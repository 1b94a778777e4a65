"""Pick the overlay backend for this computer: shaped X11 windows today."""

from __future__ import annotations

import sys

from veo.agent.overlay.base import Overlay, OverlayError


def create_overlay() -> Overlay:
    """A started overlay; raises :class:`OverlayError` where none can be shown."""
    if sys.platform.startswith("linux"):
        from veo.agent.overlay.x11 import X11Overlay

        overlay = X11Overlay()
        overlay.start()
        return overlay
    raise OverlayError(f"annotations are not supported on {sys.platform} yet")
