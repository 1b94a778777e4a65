"""The overlay chooser: XWayland's X11 overlay on the portal backend, ``no_overlay`` where none can be."""

from __future__ import annotations

import pytest

from veo.agent import backend as backend_module
from veo.agent.backend import BackendError
from veo.agent.overlay import auto
from veo.agent.overlay.base import OverlayError
from veo.agent.overlay.x11 import X11Overlay

WAYLAND = {"WAYLAND_DISPLAY": "wayland-0", "XDG_RUNTIME_DIR": "/run/user/1000"}


@pytest.fixture(autouse=True)
def detected(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "_forced", None)
    monkeypatch.delenv(backend_module.BACKEND_ENV, raising=False)


def test_wayland_with_xwayland_keeps_the_x11_overlay() -> None:
    auto.check_overlay({**WAYLAND, "DISPLAY": ":0"})  # nothing raised


def test_wayland_without_xwayland_has_no_overlay() -> None:
    with pytest.raises(BackendError) as caught:
        auto.check_overlay(WAYLAND)
    assert caught.value.reason == "no_overlay"


def test_a_display_that_cannot_shape_windows_is_no_overlay_too(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {**WAYLAND, "DISPLAY": ":0"}.items():
        monkeypatch.setenv(name, value)

    def refuse(_self: X11Overlay) -> None:
        raise OverlayError("the X server has no SHAPE extension")

    monkeypatch.setattr(X11Overlay, "start", refuse)
    with pytest.raises(BackendError) as caught:
        auto.create_overlay()
    assert (caught.value.reason, caught.value.detail) == ("no_overlay", "the X server has no SHAPE extension")
