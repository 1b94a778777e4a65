"""Pick the overlay for this desktop: shaped X11 windows, on X11 and through XWayland alike.

On a Wayland session (the ``portal`` backend) the overlay is still the X11 one, drawn through
XWayland: proven on mutter 43 (headless, ``tests/integration/test_overlay_wayland.py``) an
override-redirect window cut with SHAPE shows above Wayland-native windows, and its empty input
shape lets clicks through to them. XWayland places X11 windows in the compositor's logical
coordinates, which are the portal streams' coordinates at scale 1.

Where no overlay can be shown (no XWayland, no SHAPE extension) the chooser raises
:class:`~veo.agent.backend.BackendError` ``no_overlay``, like every other chooser: the session
goes on and the technician's marks show only in the console (both sides are told why).
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from veo.agent.backend import BackendError, backend
from veo.agent.overlay.base import Overlay, OverlayError


def check_overlay(env: Mapping[str, str] | None = None) -> None:
    """Raise ``BackendError("no_overlay")`` when this desktop cannot show the overlay at all.

    Cheap (the environment only), so the session can list the limit before anything is drawn;
    :func:`create_overlay` may still find the display unusable and raise the same error.
    """
    env = os.environ if env is None else env
    chosen = backend(env)
    if not env.get("DISPLAY"):  # x11 without DISPLAY already failed in backend()
        raise BackendError("no_overlay", f"{chosen}: no XWayland display")


def create_overlay() -> Overlay:
    """A started overlay; raises :class:`BackendError` (``no_overlay``) where none can be shown."""
    check_overlay()
    from veo.agent.overlay.x11 import X11Overlay

    overlay = X11Overlay()
    try:
        overlay.start()
    except OverlayError as exc:
        raise BackendError("no_overlay", str(exc)) from None
    return overlay
