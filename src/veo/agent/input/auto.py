"""Pick the input backend for this desktop, as every chooser does (:func:`veo.agent.backend.backend`).

X11: XTEST. On Wayland input goes only through the portal session that the
:class:`~veo.agent.desktop.Desktop` opened (and only if the user switched control on in the
desktop's dialog), so the injector comes from ``desktop.injector()``.
"""

from __future__ import annotations

from veo.agent.backend import backend
from veo.agent.input.base import InputError, InputInjector


def create_injector() -> InputInjector:
    """A new injector; call it in the thread that will use it.

    Raises :class:`~veo.agent.backend.BackendError` where no backend can work (``no_display``,
    ``unsupported_os``).
    """
    if backend() == "x11":
        from veo.agent.input.xtest import XTestInjector

        return XTestInjector()
    raise InputError("on Wayland input goes through the opened portal desktop (desktop.injector())")
