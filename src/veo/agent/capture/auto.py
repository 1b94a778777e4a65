"""Pick the capture backend for this desktop, as every chooser does (:func:`veo.agent.backend.backend`).

X11: mss. On Wayland the screen is only handed out through the portal session that the
:class:`~veo.agent.desktop.Desktop` opened after the user's consent, so the capture comes from
``desktop.capture()``; asking this chooser there is a mistake that is said, not hidden.
"""

from __future__ import annotations

from veo.agent.backend import backend
from veo.agent.capture.base import CaptureError, ScreenCapture


def create_capture() -> ScreenCapture:
    """A new capture backend; call it in the thread that will use it.

    Raises :class:`~veo.agent.backend.BackendError` where no backend can work (``no_display``,
    ``unsupported_os``).
    """
    if backend() == "x11":
        from veo.agent.capture.x11 import MssCapture

        return MssCapture()
    raise CaptureError("on Wayland the capture comes from the opened portal desktop (desktop.capture())")
