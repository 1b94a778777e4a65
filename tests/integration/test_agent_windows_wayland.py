"""The agent's Tk windows on a Wayland desktop, through XWayland on a real headless mutter.

The user's application is a focused fullscreen GTK 3 window with ``GDK_BACKEND=wayland`` (the
hardest case: mutter raises a focused fullscreen window above "always on top" ones). Each of
the agent's windows is opened as the agent does, in English and Spanish, and checked:

* on top: Mutter's own ScreenCast shows the window's inside, not the application's green;
* focus: a key typed through Mutter's RemoteDesktop API (the compositor's input, as a real
  keyboard) reaches the window that asks for the user's attention, and does *not* reach the
  chat window that popped up by itself when the technician wrote (it goes on to the user's app);
* Spanish: the window's texts are the catalog's, accents and all (Tk draws them from UTF-8;
  the screenshots are kept for a look: ``VEO_WAYLAND_SHOTS=<dir>`` copies them there).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from tests.integration.wayland_support import (
    BACKGROUND_RGB,
    events_of,
    mutter_input,
    start_desktop,
    wait_event,
    wayland_app,
)
from tests.integration.wayland_windows import CHAT_LINE, FILE_NAME

from veo.bench.wayland import WaylandDesktop, screenshot

pytestmark = pytest.mark.timeout(300)

SIZE = (1280, 720)
ROOT = Path(__file__).resolve().parents[2]
#: scene -> (takes the keyboard when it opens, a text that must be on it in Spanish)
SCENES = {
    "code": (True, "Escriba el código que le dio su técnico"),
    "consent": (True, "Código de verificación: 428 913"),
    "bar": (True, "Ana García, de ACME IT, puede ver y controlar su pantalla"),
    "chat": (True, CHAT_LINE),  # opened with the bar's Chat button
    "chat-incoming": (False, CHAT_LINE),  # popped up by a message: the keys stay with the app
    "file-offer": (True, f"{FILE_NAME} (2,3 MB)"),
    "transfer": (True, "1 MB de 2,3 MB"),
    "send-file": (True, "Elija el archivo que quiere enviar al técnico:"),
    "sysinfo": (True, "Ana García pide información sobre este equipo"),
}
#: windows whose text field has the focus when they open
TYPED_INTO = ("code", "chat", "send-file")
ENGLISH = {
    "consent": "Verification code: 428 913",
    "sysinfo": "Ana García asks for information about this computer",
}


@pytest.fixture(scope="module")
def desktop() -> Iterator[WaylandDesktop]:
    started = start_desktop(SIZE, "veo-windows-test")
    try:
        yield started
    finally:
        started.stop()


@pytest.fixture(scope="module")
def app(desktop: WaylandDesktop, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with wayland_app(desktop, tmp_path_factory.mktemp("app")) as events:
        yield events


def _green_share(picture: Image.Image, rect: list[int]) -> float:
    """How much of the rectangle shows the application's background (sampled every 8 px)."""
    x, y, width, height = rect
    samples = green = 0
    for px in range(x + 4, x + width - 4, 8):
        for py in range(y + 4, y + height - 4, 8):
            samples += 1
            pixel = picture.getpixel((px, py))
            assert isinstance(pixel, tuple)
            green += all(abs(int(a) - b) <= 8 for a, b in zip(pixel[:3], BACKGROUND_RGB, strict=True))
    return green / max(1, samples)


@pytest.mark.parametrize("language", ["es", "en"])
@pytest.mark.parametrize("scene", list(SCENES))
def test_window_is_on_top_takes_focus_as_it_should_and_speaks_the_language(
    desktop: WaylandDesktop, app: Path, tmp_path: Path, scene: str, language: str
) -> None:
    takes_focus, spanish = SCENES[scene]
    mutter_input(desktop.env, click=(400, 480))  # the user is in their own app's field
    typed_before = len(events_of(app))
    events = tmp_path / "window.jsonl"
    events.touch()
    window = subprocess.Popen(
        [sys.executable, "-m", "tests.integration.wayland_windows", scene, language, str(events)],
        cwd=ROOT,
        env=desktop.env,
    )
    try:
        ready = wait_event(events, "ready", 20)
        shot = screenshot(desktop.env, tmp_path / f"{scene}-{language}.png")
        if os.environ.get("VEO_WAYLAND_SHOTS"):
            Path(os.environ["VEO_WAYLAND_SHOTS"]).mkdir(parents=True, exist_ok=True)
            shutil.copy(shot, Path(os.environ["VEO_WAYLAND_SHOTS"]) / shot.name)
        [shown] = ready["windows"]
        picture = Image.open(shot).convert("RGB")
        assert _green_share(picture, shown["rect"]) < 0.01, f"{scene} is not above the Wayland window"

        texts = "\n".join(ready["texts"])
        if language == "es":
            assert spanish in texts
        elif scene in ENGLISH:
            assert ENGLISH[scene] in texts

        mutter_input(desktop.env, keys="k")
        deadline = time.monotonic() + 3
        keys: list[str] = []
        app_typed: list[dict[str, Any]] = []
        while time.monotonic() < deadline:
            # the warm-up Shift of mutter_input arrives or not (mutter's first key): not counted
            keys = [
                e["keysym"] for e in events_of(events) if e["event"] == "key" and e["keysym"] != "Shift_L"
            ]
            app_typed = [e for e in events_of(app)[typed_before:] if e["event"] == "text"]
            # one key press goes to one window: once the window or the app has it, it is placed
            if keys or (app_typed and app_typed[-1]["text"].endswith("k")):
                break
            time.sleep(0.1)
        if takes_focus:
            assert keys == ["k"], f"{scene}: the key did not reach the window that opened"
            assert app_typed == []
            if scene in TYPED_INTO:  # the key lands in the field the user is meant to type in
                [widget] = [
                    e["widget"] for e in events_of(events) if e["event"] == "key" and e["keysym"] == "k"
                ]
                assert widget.endswith("!entry"), widget
        else:
            assert keys == [], f"{scene}: the window took the user's key"
            assert app_typed and app_typed[-1]["text"].endswith("k")  # it went on to the app
    finally:
        window.terminate()
        window.wait(timeout=5)
        time.sleep(0.3)  # mutter hands the focus back before the next window opens
