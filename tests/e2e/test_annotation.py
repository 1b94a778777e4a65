"""Annotation end to end: what the technician draws shows on the user's real screen, click-through.

Issue 6, part 3: a stroke drawn with the console's tool appears on the agent's X display at the
mapped place (read back from the Xvfb framebuffer), a real user click on exactly that pixel still
reaches the application underneath (the overlay's input shape is empty), and after the fade the
pixels are the application's again. The technician's pointer shows as a ring while it moves and
goes after it stops. Sessions here are view-only: annotation shows, it never acts, so it needs no
control grant.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .demo_app import START_LABEL
from .flow import LiveSession
from .procs import wait_for
from .xdisplay import HEIGHT, WIDTH, XvfbDisplay

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

StartSession = Callable[..., LiveSession]
#: a stroke colour nothing on the test display has (grey app, black root, magenta block)
STROKE_HEX, STROKE_RGB = "#00ff00", (0, 255, 0)
#: the agent's pointer marker (overlay/x11.py POINTER_COLOR)
POINTER_RGB = (255, 140, 0)


def pixel(display: XvfbDisplay, x: int, y: int) -> tuple[int, int, int]:
    """The colour of one pixel of the X display, as the user sees it (the X server's framebuffer)."""
    import mss

    with mss.MSS(display=display.display) as grabber:
        shot = grabber.grab({"left": x, "top": y, "width": 1, "height": 1})
        red, green, blue = shot.pixel(0, 0)
        return int(red), int(green), int(blue)


def wait_pixel(
    live: LiveSession, x: int, y: int, want: Callable[[tuple[int, int, int]], bool], what: str
) -> None:
    seen: list[tuple[int, int, int]] = []

    def probe() -> bool:
        seen.append(pixel(live.display, x, y))
        return want(seen[-1])

    wait_for(f"{what} at ({x}, {y})", probe, 30, live.logs, lambda: f"last pixel {seen[-1:]}")


def choose(live: LiveSession, tool: str, colour: str = STROKE_HEX) -> None:
    page = live.console.page
    page.evaluate(
        "(c) => { const el = document.getElementById('annotate-color'); el.value = c;"
        " el.dispatchEvent(new Event('input')); }",
        colour,
    )
    page.click(f"#annotate-tool-{tool}")
    assert page.get_attribute(f"#annotate-tool-{tool}", "aria-pressed") == "true"


def wait_video(live: LiveSession) -> None:
    wait_for(
        "the first video frame",
        lambda: live.console.page.evaluate("() => document.querySelector('#remote-video').videoWidth > 0"),
        60,
        live.logs,
    )


def test_a_stroke_shows_on_the_users_screen_lets_clicks_through_and_fades(start: StartSession) -> None:
    live = start(control=False)
    wait_video(live)
    button = live.app.widget("button")
    cx, cy = button.center
    page = live.console.page
    before = pixel(live.display, cx, cy)
    assert before != STROKE_RGB

    choose(live, "free")
    start_x, end_x = button.x + 8, button.x + button.width - 8
    page.mouse.move(*live.console.page_point(start_x, cy))
    page.mouse.down()
    for step in range(1, 11):
        page.mouse.move(*live.console.page_point(start_x + (end_x - start_x) * step // 10, cy), steps=2)
    # the mouse is still down: the stroke is being drawn, so it does not fade yet
    live.wait_agent_log("tool=free shown")
    wait_pixel(live, cx, cy, lambda rgb: rgb == STROKE_RGB, "the stroke on the user's display")
    wait_pixel(live, cx, cy - 12, lambda rgb: rgb != STROKE_RGB, "the application just above the stroke")

    # a real user click exactly on a stroke pixel reaches the application underneath
    assert pixel(live.display, cx, cy) == STROKE_RGB
    live.display.click(cx, cy)
    state = live.app.wait_state(
        "the user's click through the stroke to press the button", lambda s: s.clicks == 1
    )
    assert state.label == "Pressed 1"

    page.mouse.up()
    live.wait_agent_log("tool=free faded", timeout=40)
    wait_pixel(live, cx, cy, lambda rgb: rgb != STROKE_RGB, "the application's pixels again after the fade")
    final = live.app.state()
    assert final is not None and final.label != START_LABEL and final.clicks == 1
    assert "reason=" not in "".join(line for line in live.agent.log.lines() if "type=annotate" in line)


def test_the_technicians_pointer_shows_while_it_moves_and_the_eraser_removes(start: StartSession) -> None:
    live = start(control=False)
    wait_video(live)
    page = live.console.page
    # bare root window (black), away from the demo app and the agent's windows
    x, y = WIDTH - 200, HEIGHT - 120
    wait_pixel(live, x, y, lambda rgb: rgb == (0, 0, 0), "the bare root window")

    page.mouse.move(*live.console.page_point(x - 40, y))
    page.mouse.move(*live.console.page_point(x, y), steps=8)
    live.wait_agent_log("overlay pointer shown")
    # the ring: 12 px radius, 4 px thick, centred on the technician's point
    ring = [(x + 10, y), (x, y - 10), (x - 10, y)]
    wait_for(
        "the technician's pointer ring around the point",
        lambda: all(pixel(live.display, *p) == POINTER_RGB for p in ring),
        30,
        live.logs,
        lambda: f"ring pixels {[pixel(live.display, *p) for p in ring]}, centre {pixel(live.display, x, y)}",
    )
    live.wait_agent_log("overlay pointer hidden", timeout=20)  # ~2 s after the last move
    wait_pixel(live, x + 10, y, lambda rgb: rgb == (0, 0, 0), "the ring gone")

    def drag(tool: str, colour: str, a: tuple[int, int], b: tuple[int, int]) -> None:
        choose(live, tool, colour)
        page.mouse.move(*live.console.page_point(*a))
        page.mouse.down()
        page.mouse.move(*live.console.page_point(*b), steps=6)
        page.mouse.up()

    # a rectangle, taken away with the eraser (a click on its edge)
    drag("rect", "#00ffff", (x - 60, y - 40), (x + 60, y + 40))
    live.wait_agent_log("tool=rect shown")
    wait_pixel(live, x, y - 40, lambda rgb: rgb == (0, 255, 255), "the rectangle's top edge")
    # its inside stays the user's (away from the diagonal the drag took, where the pointer went)
    assert pixel(live.display, x + 30, y - 20) == (0, 0, 0)
    choose(live, "eraser")
    live.console.click_screen(x, y - 40)
    live.wait_agent_log("tool=rect erased")
    wait_pixel(live, x, y - 40, lambda rgb: rgb == (0, 0, 0), "the rectangle erased")

    # an arrow and a laser trail, all cleared at once (the laser goes by itself, sooner)
    drag("laser", "#ff0000", (x - 100, y + 30), (x + 100, y + 30))
    live.wait_agent_log("tool=laser shown")
    drag("arrow", "#ffff00", (x - 100, y), (x + 100, y))
    live.wait_agent_log("tool=arrow shown")
    page.click("#annotate-clear")  # well within the arrow's 4 s
    live.wait_agent_log("tool=arrow erased")
    wait_pixel(live, x, y, lambda rgb: rgb == (0, 0, 0), "the arrow cleared")


def test_strokes_are_cut_around_the_session_bar(start: StartSession) -> None:
    live = start(control=False)
    wait_video(live)
    stop = live.agent_window("bar")["stop"]
    sx, sy = stop.center
    page = live.console.page
    choose(live, "free")
    page.mouse.move(*live.console.page_point(100, sy))
    page.mouse.down()
    page.mouse.move(*live.console.page_point(WIDTH - 30, sy), steps=12)
    live.wait_agent_log("tool=free shown")
    wait_pixel(live, 110, sy, lambda rgb: rgb == STROKE_RGB, "the stroke left of the bar")
    assert pixel(live.display, sx, sy) != STROKE_RGB  # the user's Stop button is never drawn over
    assert pixel(live.display, stop.x + 2, sy) != STROKE_RGB
    page.mouse.up()


def test_while_drawing_no_input_reaches_the_user_even_with_control(start: StartSession) -> None:
    live = start(control=True)
    live.console.wait_control_state("active")
    button = live.app.widget("button")
    page = live.console.page

    choose(live, "arrow")
    live.console.click_screen(*button.center)  # lands on the canvas: a dot of an arrow, not a click
    live.wait_agent_log("tool=arrow shown")
    choose(live, "pointer")
    live.console.click_screen(*button.center)  # now the mouse is the user's mouse again
    state = live.app.wait_state("the pointer tool's click to press the button", lambda s: s.clicks >= 1)
    # the data channel is ordered: a click sent while drawing would have been handled first
    assert state.clicks == 1 and state.label == "Pressed 1"
    assert page.get_attribute("#annotate-tool-arrow", "aria-pressed") == "false"
