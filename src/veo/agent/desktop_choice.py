"""``create_desktop()``: the :class:`~veo.agent.desktop.Desktop` for the backend this session uses.

The one place where the backend's decision (:func:`veo.agent.backend.backend`) becomes the
objects the session works with. The portal's modules are imported only on Wayland, so an X11
user needs neither its D-Bus client at run time nor GStreamer.
"""

from __future__ import annotations

from collections.abc import Mapping

from veo.agent.backend import backend
from veo.agent.desktop import Desktop


def create_desktop(env: Mapping[str, str] | None = None) -> Desktop:
    """A new, unopened desktop; raises :class:`~veo.agent.backend.BackendError` (``no_display``,
    ``unsupported_os``) where no backend can work."""
    if backend(env) == "portal":
        from veo.agent.portal.desktop import PortalDesktop

        return PortalDesktop()
    from veo.agent.x11_desktop import X11Desktop

    return X11Desktop()
