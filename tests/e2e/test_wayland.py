"""A whole support session on GNOME on Wayland (issue 14): the real ``veo agent --backend portal``
on a real headless compositor, the console in headless Chromium, all in the test namespace.

What runs for real: ``veo server``; the desktop of :mod:`veo.bench.wayland` (its own session
D-Bus, PipeWire + WirePlumber, ``mutter --headless`` with a 1280×720 virtual monitor and
Xwayland, xdg-desktop-portal + xdg-desktop-portal-gnome 43); a GTK 3 application drawing through
Wayland (``gtk_app.py``, ``GDK_BACKEND=wayland``); the agent, which asks the portal for the
screen and input (RemoteDesktop + ScreenCast), reads frames from PipeWire, injects input through
the portal's Notify* calls; the technician's console in Chromium, whose decoded ``<video>`` is
read back pixel by pixel.

How the person at the computer is played, and what that does and does not prove:

* veo's own consent dialog (Tk through Xwayland) is clicked with the compositor's input: Mutter's
  own ``org.gnome.Mutter.RemoteDesktop`` API, a pointer motion and a button press at the rectangle
  the agent logs, routed by mutter like a real mouse. This proves the dialog takes a click on
  Wayland at the place it says it is.
* GNOME's own sharing dialog (xdg-desktop-portal-gnome's "Remote desktop" window, or its screen-only
  one) is answered through its accessibility tree (AT-SPI over the a11y bus: the "Allow remote
  interaction" switch toggled or left off, then *Share*), as a screen-reader user would. This
  proves that the agent's request made GNOME show its real dialog (veo's dialog first, the
  desktop's second), that nothing was granted before someone answered it, and that what was
  chosen there is what the session gets. It does not prove that a pointer click on the dialog's
  pixels works (AT-SPI actions reach the widget directly), nor anything about gnome-shell, which
  is not running (mutter alone; no panel, no screen-sharing indicator).
* Nothing in the agent accepts any dialog by itself: without the answer the test times out, and
  while GNOME's dialog waits no frame reaches the console (checked before *Cancel*).

The user's keyboard is mutter's own US layout (gnome-shell, which applies the user's input
sources, is not running), so the accented letters typed here have no key of their own on it;
the technician's is Spanish: its key events (a dead acute then the vowel, ñ and ¿ on keys of their
own) reach Chromium through the DevTools protocol as a real keyboard's would.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from veo.bench.wayland import WaylandDesktop, answer_share_dialog, click, dialog_open

from .console import Console
from .gtk_app import BACKGROUND_RGB, BLOCK_RGB, START_LABEL
from .netns import NetworkNamespace
from .procs import Logs, wait_for
from .stack import VeoServer
from .wayland_desktop import open_gtk_app, start_desktop
from .wayland_session import (
    GtkApp,
    WaylandLive,
    allow_in_veos_dialog,
    start_wayland_session,
)
from .xdisplay import Rect

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(300)]

StartSession = Callable[..., WaylandLive]
COLOUR_TOLERANCE = 40  # H.264/VP8 in 4:2:0, as in test_session.py
#: accents and a tilde that a US keyboard has no key for, and a Spanish sentence's punctuation
TYPED = "Olé, ñandú ¿sí? 42"
TITLE_BAR = 40  # mutter decorates veo's Tk windows (Xvfb in the X11 tests has no window manager)
VIDEO_WIDTH = "() => document.querySelector('#remote-video').videoWidth"
REFUSED_SENTENCE = "The user switched remote control off in their desktop's sharing window."


@pytest.fixture(scope="module")
def wayland(netns: NetworkNamespace, e2e_dir: Path) -> Iterator[WaylandDesktop]:
    """One GNOME Wayland desktop inside the test namespace for the module."""
    desktop = start_desktop(netns.name, e2e_dir / "wayland", "the Wayland end-to-end tests")
    yield desktop
    desktop.stop()


@pytest.fixture
def gtk_app(
    request: pytest.FixtureRequest, wayland: WaylandDesktop, workdir: Path, logs: Logs
) -> Iterator[GtkApp]:
    app = open_gtk_app(request, wayland, workdir, logs)
    yield app
    app.stop()


@pytest.fixture
def start(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    wayland: WaylandDesktop,
    gtk_app: GtkApp,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> Iterator[StartSession]:
    """``start(control=True, allow_interaction=True)`` runs a session up to *active*."""
    started: list[WaylandLive] = []

    def run(control: bool = True, allow_interaction: bool = True) -> WaylandLive:
        live = start_wayland_session(
            netns=netns, server=veo_server, desktop=wayland, app=gtk_app, console=console,
            workdir=workdir, logs=logs, control=control, allow_interaction=allow_interaction,
        )  # fmt: skip
        started.append(live)
        return live

    yield run
    for live in started:
        live.agent.stop()


def _press(x: int, y: int, down: bool) -> dict[str, Any]:
    return {"type": "pointer_button", "x": x, "y": y, "button": "left", "down": down}


def _assert_clear_of_bar(live: WaylandLive, *targets: Rect) -> None:
    """veo's bar stays on top: a target under it (or under the title bar mutter gives it) would
    be a broken test, not veo."""
    bar = wait_for(
        "the agent to log `ui-geometry bar`", lambda: live.agent.log.geometry("bar"), 30, live.logs
    )
    for name, rect in bar.items():
        framed = Rect(rect.x, rect.y - TITLE_BAR, rect.width, rect.height + TITLE_BAR)
        for target in targets:
            assert not framed.overlaps(target), f"agent bar {name} {rect} covers the GTK app's {target}"


#: what Chromium reports for the keys of a Spanish keyboard (es layout): (code, key, shift) per key
#: press; an accented vowel is the dead acute key (``´``, code BracketLeft) then the vowel
_SPANISH_KEYS: dict[str, list[tuple[str, str, bool]]] = {
    "ñ": [("Semicolon", "ñ", False)],
    "¿": [("Equal", "¿", True)],
    **{
        v: [("BracketLeft", "Dead", False), (f"Key{b.upper()}", v, False)]
        for v, b in zip("áéíóú", "aeiou", strict=True)
    },
}


def _type_like_a_spanish_keyboard(console: Console, text: str) -> None:
    """The technician types on a Spanish keyboard: key events as Chromium gets them from one
    (through the DevTools protocol: ``Input.dispatchKeyEvent`` with that ``code`` and ``key``),
    so the console hears keydown/keyup as from real keys. Playwright's ``keyboard.type`` sends
    what a US keyboard lacks as inserted text with no key event at all, which no keyboard does."""
    console.page.focus("#remote-input")
    cdp = console.page.context.new_cdp_session(console.page)
    try:
        for char in text:
            presses = _SPANISH_KEYS.get(char)
            if presses is None:  # letters, digits, space, "," and "?": Playwright's own key events
                console.page.keyboard.press(char)
                continue
            for code, key, shift in presses:
                if shift:
                    console.page.keyboard.down("Shift")
                event = {"code": code, "key": key, "modifiers": 8 if shift else 0}
                typed = {"text": key, "unmodifiedText": key} if key != "Dead" else {}
                cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", **event, **typed})
                cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", **event})
                if shift:
                    console.page.keyboard.up("Shift")
            time.sleep(0.02)
    finally:
        cdp.detach()


def _console_desktop(live: WaylandLive) -> Any:
    return live.console.page.evaluate("() => window.veoConsole && window.veoConsole.desktop")


def _forged_click_is_dropped(live: WaylandLive, reason: str) -> None:
    """A rogue console sends a click anyway; the agent must drop it and the app never see it."""
    x, y = live.app.widget("button").center
    live.console.click_screen(x, y)  # the console itself must not send this one
    live.console.inject_raw(_press(x, y, down=True))
    live.console.inject_raw(_press(x, y, down=False))
    wait_for(
        f"the agent to drop the forged click ({reason})",
        lambda: live.agent.log.dropped().count(("pointer_button", reason)) >= 2,
        30,
        live.logs,
    )
    # the data channel is ordered: every earlier message was handled before these drops
    assert live.app.clicks() == 0, live.app.events()


def test_console_video_shows_the_wayland_application(start: StartSession) -> None:
    live = start(control=True)
    assert live.dialog == "remote_desktop"
    block = live.app.widget("block")
    live.console.wait_video_colour(*block.center, BLOCK_RGB, COLOUR_TOLERANCE)
    # at the right place: just right of the block the application's grey background shows
    live.console.wait_video_colour(
        block.x + block.width + 40, block.center[1], BACKGROUND_RGB, COLOUR_TOLERANCE
    )
    assert sorted(live.agent.log.granted() or []) == ["control", "view"]
    desktop = wait_for("the console to hear the agent's desktop message", lambda: _console_desktop(live), 30)
    assert desktop["backend"] == "portal" and desktop["control"] is True, desktop


def test_console_click_and_accented_typing_reach_the_wayland_application(start: StartSession) -> None:
    live = start(control=True)
    live.console.wait_control_state("active")
    button, entry = live.app.widget("button"), live.app.widget("entry")
    _assert_clear_of_bar(live, button, entry)
    # the technician sees the application before using it
    live.console.wait_video_colour(*live.app.widget("block").center, BLOCK_RGB, COLOUR_TOLERANCE)

    live.console.click_screen(*button.center)
    pressed = live.app.wait_event(
        "the console's click to press the button", lambda e: e["event"] == "clicked"
    )
    assert pressed["label"] == "Pressed 1" != START_LABEL

    live.console.click_screen(*entry.center)
    _type_like_a_spanish_keyboard(live.console, TYPED)
    live.app.wait_event(
        f"the console's typing to fill the field with {TYPED!r}",
        lambda e: e["event"] == "text" and e["text"] == TYPED,
    )
    assert live.app.clicks() == 1


def test_control_unticked_in_veos_dialog_never_reaches_the_application(start: StartSession) -> None:
    live = start(control=False)
    # the desktop is asked for the screen only: GNOME's screen-share dialog, no input switch
    assert live.dialog == "screen_cast"
    assert live.agent.log.granted() == ["view"]
    wait_for(
        "the console to list only `view` as granted",
        lambda: live.console.page.evaluate("() => window.veoConsole.granted") == ["view"],
        30,
        live.logs,
        live.console.diagnostics,
    )
    assert live.console.control_state() == "off"
    live.console.wait_video_colour(*live.app.widget("block").center, BLOCK_RGB, COLOUR_TOLERANCE)
    # the user's "no", not the desktop's; and no "Ask for control" later: the screen-only portal
    # session cannot gain input, which the console says
    limit = live.console.page.locator("#desktop-limits li[data-limit=control_at_start]")
    limit.wait_for(state="visible", timeout=30_000)
    assert "start a new session" in limit.inner_text()
    _forged_click_is_dropped(live, "control_not_granted")


def test_switch_left_off_in_gnomes_dialog_is_view_only_and_the_console_says_why(start: StartSession) -> None:
    live = start(control=True, allow_interaction=False)
    assert live.dialog == "remote_desktop"
    assert live.agent.log.granted() == ["view"]  # control taken out before consent was sent
    assert live.agent.log.contains("control_refused")
    limit = live.console.page.locator("#desktop-limits li[data-limit=control_refused]")
    limit.wait_for(state="visible", timeout=30_000)
    assert limit.inner_text().strip() == REFUSED_SENTENCE
    desktop = _console_desktop(live)
    assert desktop["control"] is False and "control_refused" in desktop["limits"], desktop
    live.console.wait_video_colour(*live.app.widget("block").center, BLOCK_RGB, COLOUR_TOLERANCE)
    _forged_click_is_dropped(live, "control_not_granted")


def test_cancel_in_gnomes_dialog_ends_the_request_before_any_frame(
    netns: NetworkNamespace,
    veo_server: VeoServer,
    wayland: WaylandDesktop,
    gtk_app: GtkApp,
    console: Console,
    workdir: Path,
    logs: Logs,
) -> None:
    session_id, agent = allow_in_veos_dialog(
        netns=netns, server=veo_server, desktop=wayland, console=console, workdir=workdir, logs=logs
    )
    try:
        # GNOME's dialog is up and unanswered: nothing is shared yet, whatever veo's dialog said
        wait_for("GNOME's sharing dialog", lambda: dialog_open(wayland.env), 60, logs)
        time.sleep(1.0)
        assert console.page.evaluate(VIDEO_WIDTH) == 0, (
            "a frame reached the console before the desktop's dialog"
        )
        assert not agent.log.contains("session started granted=")

        answer_share_dialog(wayland.env, allow_control=False, cancel=True)
        console.wait_conn_state("ended", timeout=30)
        wait_for("the agent to log the end", agent.log.ended, 30, logs)
        assert agent.log.ended() == ("user", "portal_cancelled")
        assert agent.log.granted() is None  # it never started
        assert console.page.evaluate(VIDEO_WIDTH) == 0
        # the user presses OK on veo's end notice (the compositor's mouse): the agent quits then,
        # not after the notice's own 6 s (a missed click would only fall back to that)
        ended = wait_for("veo's end notice", lambda: agent.log.geometry("ended"), 30, logs)
        wait_for("GNOME's dialog to close", lambda: not dialog_open(wayland.env), 30, logs)
        click(wayland.env, *ended["ok"].center)
        wait_for("the agent to exit", lambda: not agent.process.running(), 60, logs)
        assert agent.log.geometry("rating") is None  # nothing was shared: no rating question
    finally:
        agent.stop()
    record = veo_server.api("GET", f"/api/v1/sessions/{session_id}", token=veo_server.token()).json()
    assert (record["status"], record["ended_by"]) == ("ended", "user"), record
