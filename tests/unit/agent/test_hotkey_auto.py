"""The stop key's chooser: backend() decides, and every "no key here" is BackendError no_stop_key."""

from __future__ import annotations

import pytest

from veo.agent import backend as backend_module
from veo.agent.backend import BackendError
from veo.agent.hotkey import auto
from veo.agent.hotkey.base import HotkeyError
from veo.agent.hotkey.portal import PortalHotkey
from veo.agent.hotkey.x11 import X11Hotkey


def _refuse(_self: object) -> None:
    raise HotkeyError("another program holds the key (BadAccess)")


@pytest.fixture
def x11(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "_forced", "x11")
    monkeypatch.setenv("DISPLAY", ":99")


def test_a_key_taken_by_another_program_is_no_stop_key(x11: None, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(X11Hotkey, "start", _refuse)
    with pytest.raises(BackendError) as caught:
        auto.create_stop_hotkey(lambda: None)
    assert (caught.value.reason, caught.value.detail) == (
        "no_stop_key",
        "another program holds the key (BadAccess)",
    )
    assert auto.start_stop_hotkey(lambda: None) is None  # the app's form: None, logged


def test_wayland_asks_the_portal_never_an_xwayland_grab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "_forced", None)
    monkeypatch.delenv(backend_module.BACKEND_ENV, raising=False)
    monkeypatch.setenv("WAYLAND_DISPLAY", "wayland-0")
    monkeypatch.setenv("DISPLAY", ":0")  # XWayland is there, and must not be used for the key
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    tried: list[str] = []
    monkeypatch.setattr(X11Hotkey, "start", lambda _self: tried.append("x11"))

    def portal(self: PortalHotkey) -> None:
        tried.append(f"portal:{self._description}")
        raise HotkeyError("the desktop's portal has no GlobalShortcuts interface")

    monkeypatch.setattr(PortalHotkey, "start", portal)
    with pytest.raises(BackendError) as caught:
        auto.create_stop_hotkey(lambda: None, "Detener la sesión de veo")
    assert caught.value.reason == "no_stop_key"
    assert tried == ["portal:Detener la sesión de veo"]
