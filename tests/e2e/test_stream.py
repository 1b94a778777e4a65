"""The stream's techniques seen from the technician's side: the remote pointer drawn by the console.

The agent leaves the pointer out of the video and sends where it is (``cursor``) and what it
looks like (``cursor_shape``); the console draws it over the video. Moving the real pointer on
the agent's display with xdotool must move the drawn one to the same spot of the picture.
"""

from __future__ import annotations

from collections.abc import Callable

from .flow import LiveSession
from .procs import wait_for

StartSession = Callable[..., LiveSession]

#: where the drawn pointer's hot spot sits on the page, or null while it is hidden
_CURSOR_SPOT = """() => {
  const el = document.querySelector(".remote-cursor");
  if (!el || el.hidden) return null;
  const box = el.getBoundingClientRect();
  return [box.left + Number(el.dataset.hotX), box.top + Number(el.dataset.hotY)];
}"""
TOLERANCE = 4.0  # page pixels: the picture is scaled down to fit the page


def _wait_drawn_at(live: LiveSession, x: int, y: int) -> None:
    want = live.console.page_point(x, y)
    seen: list[object] = [None]

    def drawn_there() -> bool:
        spot = live.console.page.evaluate(_CURSOR_SPOT)
        seen[0] = spot
        return spot is not None and all(abs(a - b) <= TOLERANCE for a, b in zip(spot, want, strict=True))

    wait_for(
        f"the console to draw the pointer at remote ({x}, {y}) = page {want}",
        drawn_there,
        30,
        live.logs,
        lambda: f"drawn at {seen[0]}",
    )


def test_the_console_draws_the_remote_pointer_where_it_is(start: StartSession) -> None:
    live = start(control=False)  # view only: the pointer is part of what the user shares
    for x, y in ((300, 200), (900, 500)):
        live.display.xdotool("mousemove", str(x), str(y))
        _wait_drawn_at(live, x, y)
