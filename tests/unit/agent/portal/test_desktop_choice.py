"""One chooser: create_desktop(), the capture and input choosers, --backend, and the portal's
checks that come before the desktop's dialog."""

import sys

import pytest

from veo.agent import backend as backend_module
from veo.agent.backend import BackendError
from veo.agent.capture.auto import create_capture
from veo.agent.capture.base import CaptureError
from veo.agent.desktop_choice import create_desktop
from veo.agent.input.auto import create_injector
from veo.agent.input.base import InputError
from veo.agent.main import main
from veo.agent.portal import desktop as portal_desktop
from veo.agent.portal.bus import PortalGrant
from veo.agent.portal.desktop import PortalDesktop
from veo.agent.x11_desktop import X11Desktop

WAYLAND = {"WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":0", "XDG_RUNTIME_DIR": "/run/user/1000"}


@pytest.fixture(autouse=True)
def detect(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backend_module, "_forced", None)
    monkeypatch.delenv(backend_module.BACKEND_ENV, raising=False)


def test_create_desktop_follows_the_session_type() -> None:
    assert isinstance(create_desktop(WAYLAND), PortalDesktop)
    assert isinstance(create_desktop({"DISPLAY": ":0"}), X11Desktop)
    with pytest.raises(BackendError) as raised:
        create_desktop({})
    assert raised.value.reason == "no_display"


def test_the_override_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    backend_module.configure("x11")
    assert isinstance(create_desktop(WAYLAND), X11Desktop)


async def test_x11_desktop_allows_control_whatever_veo_asked() -> None:
    desktop = X11Desktop()
    grant = await desktop.open(want_control=False)  # the user's "no" is the policy's, not the desktop's
    assert (grant.backend, grant.control, grant.pointer_in_picture) == ("x11", True, False)
    await desktop.close()


def test_choosers_say_where_wayland_capture_and_input_come_from(monkeypatch: pytest.MonkeyPatch) -> None:
    for key, value in WAYLAND.items():
        monkeypatch.setenv(key, value)
    with pytest.raises(CaptureError):
        create_capture()
    with pytest.raises(InputError):
        create_injector()


def test_choosers_raise_backend_error_without_a_display(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in ("DISPLAY", "WAYLAND_DISPLAY", "XDG_SESSION_TYPE"):
        monkeypatch.delenv(key, raising=False)
    for chooser in (create_capture, create_injector):
        with pytest.raises(BackendError) as raised:
            chooser()
        assert raised.value.reason == "no_display"


async def test_no_pygobject_is_said_before_the_desktop_dialog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(portal_desktop.importlib.util, "find_spec", lambda name: None)
    desktop = PortalDesktop("unix:path=/nonexistent")
    with pytest.raises(BackendError) as raised:
        await desktop.open(True)
    assert raised.value.reason == "no_gstreamer"


def test_capture_without_gstreamer_module_is_no_gstreamer(monkeypatch: pytest.MonkeyPatch) -> None:
    desktop = PortalDesktop()
    desktop._grant = PortalGrant((), 0, True, 3, True)
    monkeypatch.setitem(sys.modules, "veo.agent.capture.pipewire", None)  # import fails
    with pytest.raises(BackendError) as raised:
        desktop.capture()
    assert raised.value.reason == "no_gstreamer"


def test_using_the_desktop_before_open_is_a_programming_error() -> None:
    with pytest.raises(RuntimeError):
        PortalDesktop().injector()


@pytest.mark.parametrize("argv", [["--backend", "wayland"], []])
def test_bad_backend_is_a_sentence_and_exit_2(
    argv: list[str], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    if not argv:
        monkeypatch.setenv(backend_module.BACKEND_ENV, "xorg")
    assert main(["--server", "https://support.example", "--lang", "en", *argv]) == 2
    err = capsys.readouterr().err
    assert "Unknown desktop backend" in err and "x11 or portal" in err and "Traceback" not in err


async def test_missing_pipewiresrc_is_said_before_the_desktop_dialog(monkeypatch: pytest.MonkeyPatch) -> None:
    from veo.agent.capture import pipewire

    def no_element() -> None:
        raise BackendError("no_gstreamer", "missing GStreamer elements: pipewiresrc")

    monkeypatch.setattr(pipewire, "load_gst", no_element)
    desktop = PortalDesktop("unix:path=/nonexistent")  # never reached: no bus, no dialog
    with pytest.raises(BackendError) as raised:
        await desktop.open(True)
    assert raised.value.reason == "no_gstreamer"
