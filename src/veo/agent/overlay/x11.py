"""X11 backend: one override-redirect window per stroke, cut to the stroke's pixels, click-through.

X11 without a compositor (Xvfb, many thin clients) has no transparent windows, so each stroke is
a window whose *bounding* shape (SHAPE extension) is just the stroke's rectangles and whose
background is the stroke's colour: the X server paints it, nothing is drawn by hand. Its *input*
shape is empty (SHAPE 1.1), so every click and every hover goes to the application underneath:
the technician shows, never acts. Override-redirect keeps window managers from framing or
focusing the windows; they are raised again periodically so a window the user brings forward
cannot hide an annotation for long.

The backend owns a thread and its own display connection (python-xlib is not thread-safe); the
agent's event loop only queues commands. What is on screen follows :class:`StrokeBoard`, which
decides the fade; this module turns its looks into windows and logs stable lines for tests:
``overlay stroke id=<id> tool=<tool> shown``, ``... faded``, ``... erased``,
``overlay pointer shown`` / ``overlay pointer hidden``.
"""

from __future__ import annotations

import contextlib
import logging
import queue
import threading
import time
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from veo.agent.overlay.base import Overlay, OverlayError
from veo.agent.overlay.board import Look, StrokeBoard
from veo.agent.overlay.geometry import Point, Rect, bounds, ring_rects, stroke_rects

log = logging.getLogger(__name__)

#: how often the windows are put back on top of everything
RAISE_INTERVAL = 0.5
#: commands waiting for the overlay thread; beyond this a flood is dropped, not queued
MAX_QUEUED = 2000
POINTER_COLOR = "#ff8c00"
POINTER_RADIUS = 12
POINTER_THICKNESS = 4

Command = tuple[Any, ...]


@dataclass
class _Window:
    window: Any
    key: tuple[int, int]
    tool: str


class X11Overlay(Overlay):
    def __init__(self, display_name: str | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self._display_name = display_name
        self._clock = clock
        self._queue: queue.Queue[Command | None] = queue.Queue(maxsize=MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._flood_logged = False
        self._board = StrokeBoard()
        self._windows: dict[str, _Window] = {}
        self._erased: set[str] = set()
        self._pointer: Any = None
        self._pointer_shown = False
        self._pointer_at: tuple[int, int] | None = None
        self._pixels: dict[str, int] = {}
        self._display: Any = None
        self._size = (1, 1)
        self._label = ""
        self._protected: tuple[int, ...] = ()
        self._clear: tuple[Rect, ...] = ()
        self._label_gc: Any = None

    # ------------------------------------------------------------ called from the event loop

    def start(self) -> None:
        from Xlib.display import Display

        try:
            display = Display(self._display_name)
        except Exception as exc:  # Xlib raises several types for "no display"
            raise OverlayError(f"cannot open the display: {exc}") from None
        try:
            if not display.has_extension("SHAPE"):
                raise OverlayError("the X server has no SHAPE extension")
            version = display.shape_query_version()
            if (version.major_version, version.minor_version) < (1, 1):
                raise OverlayError("the X server's SHAPE extension cannot make windows click-through")
        except OverlayError:
            display.close()
            raise
        display.set_error_handler(self._on_x_error)
        screen = display.screen()
        self._size = (int(screen.width_in_pixels), int(screen.height_in_pixels))
        self._display = display
        self._thread = threading.Thread(target=self._run, name="veo-overlay", daemon=True)
        self._thread.start()
        log.info("overlay ready")

    def stroke(
        self, stroke_id: str, tool: str, points: Sequence[Point], color: str, width: int, done: bool
    ) -> None:
        self._put(("stroke", stroke_id, tool, tuple(points), color, width, done))

    def erase(self, stroke_id: str) -> None:
        self._put(("erase", stroke_id))

    def pointer(self, x: int, y: int, visible: bool, label: str = "") -> None:
        self._put(("pointer", x, y, visible, label))

    def keep_clear(self, window_ids: Sequence[int]) -> None:
        self._put(("keep_clear", tuple(window_ids)))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        while True:  # make room for the close command even if a flood filled the queue
            try:
                self._queue.put_nowait(None)
                break
            except queue.Full:
                with contextlib.suppress(queue.Empty):
                    self._queue.get_nowait()
        if self._thread is not None:
            self._thread.join(timeout=3)

    def _put(self, command: Command) -> None:
        if self._closed:
            return
        try:
            self._queue.put_nowait(command)
        except queue.Full:
            if not self._flood_logged:
                self._flood_logged = True
                log.warning("overlay busy: annotation updates dropped")

    # ------------------------------------------------------------ the overlay thread

    def _run(self) -> None:
        from Xlib import X

        last_raise = 0.0
        try:
            while True:
                now = self._clock()
                deadline = self._board.next_change(now)
                wait = RAISE_INTERVAL
                if deadline is not None:
                    wait = min(RAISE_INTERVAL, max(0.0, deadline - now) + 0.005)
                commands: list[Command | None] = []
                try:
                    commands.append(self._queue.get(timeout=wait))
                    while len(commands) < MAX_QUEUED:
                        commands.append(self._queue.get_nowait())
                except queue.Empty:
                    pass
                for command in commands:
                    if command is None:
                        return
                    self._apply(command, self._clock())
                self._flood_logged = False
                self._render(self._clock())
                if self._clock() - last_raise >= RAISE_INTERVAL:
                    if self._refresh_clear():
                        self._render(self._clock())
                    self._raise_all()
                    last_raise = self._clock()
                while self._display.pending_events():
                    event = self._display.next_event()
                    if event.type == X.Expose and self._pointer is not None and event.window == self._pointer:
                        self._draw_label()
                self._display.flush()
        except Exception:
            log.exception("the overlay failed; annotations are off for this session")
        finally:
            self._teardown()

    def _apply(self, command: Command, now: float) -> None:
        kind = command[0]
        if kind == "stroke":
            _kind, stroke_id, tool, points, color, width, done = command
            self._board.annotate(stroke_id, tool, [self._inside(p) for p in points], color, width, done, now)
        elif kind == "erase":
            self._erased.update(self._board.erase(command[1]))
        elif kind == "pointer":
            x, y = self._inside((command[1], command[2]))
            self._board.move_pointer(x, y, command[3], now)
            self._label = pointer_label(command[4])
        elif kind == "keep_clear":
            self._protected = command[1]
            if self._refresh_clear():
                self._render(now)

    def _inside(self, point: Point) -> Point:
        """Pulled onto the desktop: nothing is drawn (or computed) off screen."""
        return (min(max(point[0], 0), self._size[0] - 1), min(max(point[1], 0), self._size[1] - 1))

    def _render(self, now: float) -> None:
        looks = self._board.looks(now)
        for stroke_id in [i for i in self._windows if i not in looks]:
            gone = self._windows.pop(stroke_id)
            gone.window.destroy()
            how = "erased" if stroke_id in self._erased else "faded"
            log.info("overlay stroke id=%s tool=%s %s", stroke_id, gone.tool, how)
        self._erased.clear()
        for look in looks.values():
            entry = self._windows.get(look.id)
            key = (look.version, look.width)
            if entry is None:
                self._windows[look.id] = _Window(self._create(look), key, look.tool)
                log.info("overlay stroke id=%s tool=%s shown", look.id, look.tool)
            elif entry.key != key:
                self._reshape(entry.window, stroke_rects(look.tool, look.points, look.width))
                entry.key = key
        self._render_pointer(now)

    def _create(self, look: Look) -> Any:
        rects = stroke_rects(look.tool, look.points, look.width)
        window = self._new_window(bounds(rects), self._pixel(look.color))
        self._reshape(window, rects)
        window.map()
        return window

    def _new_window(self, box: Rect, pixel: int) -> Any:
        from Xlib import X
        from Xlib.ext import shape

        screen = self._display.screen()
        window = screen.root.create_window(
            box.x,
            box.y,
            max(1, box.width),
            max(1, box.height),
            0,
            screen.root_depth,
            X.InputOutput,
            X.CopyFromParent,
            background_pixel=pixel,
            override_redirect=True,
            event_mask=0,
        )
        window.set_wm_name("veo annotation")
        window.shape_rectangles(shape.SO.Set, shape.SK.Input, X.Unsorted, 0, 0, [])
        return window

    def _reshape(self, window: Any, rects: Sequence[Rect]) -> None:
        """Move and size the window to the rectangles' bounds and cut it to them."""
        box = bounds(rects)
        window.configure(x=box.x, y=box.y, width=max(1, box.width), height=max(1, box.height))
        self._cut(window, [Rect(r.x - box.x, r.y - box.y, r.width, r.height) for r in rects], box.x, box.y)

    def _cut(self, window: Any, local: Sequence[Rect], x: int, y: int) -> None:
        """Shape ``window`` (now at desktop x, y) to ``local``, minus the windows kept clear."""
        from Xlib import X
        from Xlib.ext import shape

        window.shape_rectangles(
            shape.SO.Set, shape.SK.Bounding, X.Unsorted, 0, 0, [(r.x, r.y, r.width, r.height) for r in local]
        )
        if self._clear:
            window.shape_rectangles(
                shape.SO.Subtract,
                shape.SK.Bounding,
                X.Unsorted,
                -x,
                -y,
                [(r.x, r.y, r.width, r.height) for r in self._clear],
            )

    def _refresh_clear(self) -> bool:
        """Where the windows kept clear (the session bar) are now; True when that changed.

        A window that is gone is forgotten. Strokes are cut around these rectangles, so the
        technician can never draw over the user's Stop button, whatever the stacking order.
        """
        root = self._display.screen().root
        found: list[Rect] = []
        alive: list[int] = []
        for window_id in self._protected:
            try:
                window = self._display.create_resource_object("window", window_id)
                geometry = window.get_geometry()
                origin = root.translate_coords(window, 0, 0)
            except Exception:  # destroyed in the meantime (BadWindow/BadDrawable)
                continue
            alive.append(window_id)
            found.append(Rect(int(origin.x), int(origin.y), int(geometry.width), int(geometry.height)))
        self._protected = tuple(alive)
        clear = tuple(found)
        if clear == self._clear:
            return False
        self._clear = clear
        for entry in self._windows.values():
            entry.key = (-1, -1)  # re-cut at the next render
        self._pointer_at = None
        return True

    def _render_pointer(self, now: float) -> None:
        pointer = self._board.pointer
        shown = pointer.shown(now)
        if shown:
            if self._pointer is None:
                self._pointer = self._new_pointer()
            at = (pointer.x - POINTER_RADIUS, pointer.y - POINTER_RADIUS)
            if at != self._pointer_at:
                self._pointer.configure(x=at[0], y=at[1], stack_mode=_above())
                if self._clear or self._pointer_at is None:
                    self._cut(self._pointer, pointer_rects(bool(self._label)), *at)
                self._pointer_at = at
            if not self._pointer_shown:
                self._pointer.map()
                self._pointer_shown = True
                log.info("overlay pointer shown")
        elif self._pointer_shown:
            self._pointer.unmap()
            self._pointer_shown = False
            log.info("overlay pointer hidden")

    def _new_pointer(self) -> Any:
        """A ring with a dot in it and, beside it, a tag with the technician's initial."""
        from Xlib import X

        window = self._new_window(bounds(pointer_rects(bool(self._label))), self._pixel(POINTER_COLOR))
        self._pointer_at = None
        if self._label:
            window.change_attributes(event_mask=X.ExposureMask)
            try:
                font = self._display.open_font("fixed")
                self._label_gc = window.create_gc(font=font, foreground=self._pixel("#000000"))
            except Exception:  # no core font: the ring alone still shows where the technician points
                log.info("overlay: no font for the pointer's initial")
                self._label_gc = None
        return window

    def _draw_label(self) -> None:
        if self._label_gc is not None and self._label:
            box = LABEL_BOX
            self._pointer.draw_text(
                self._label_gc, box.x + 3, box.y + box.height - 3, self._label.encode("latin-1")
            )

    def _raise_all(self) -> None:
        for entry in self._windows.values():
            entry.window.configure(stack_mode=_above())
        if self._pointer_shown:
            self._pointer.configure(stack_mode=_above())

    def _pixel(self, color: str) -> int:
        pixel = self._pixels.get(color)
        if pixel is None:
            red, green, blue = (int(color[i : i + 2], 16) for i in (1, 3, 5))
            colormap = self._display.screen().default_colormap
            pixel = int(colormap.alloc_color(red * 257, green * 257, blue * 257).pixel)
            self._pixels[color] = pixel
        return pixel

    def _teardown(self) -> None:
        display = self._display
        try:
            for entry in self._windows.values():
                entry.window.destroy()
            if self._pointer is not None:
                self._pointer.destroy()
            display.sync()
        except Exception:
            log.debug("removing the overlay windows failed (display gone)", exc_info=True)
        finally:
            self._windows.clear()
            self._pointer = None
            display.close()
            log.info("overlay closed")

    @staticmethod
    def _on_x_error(error: Any, *_args: object) -> None:
        log.warning("overlay X error: %s", type(error).__name__)


#: the initial's tag, at the ring's lower right (window coordinates, the ring in 0..2R)
LABEL_BOX = Rect(2 * POINTER_RADIUS - 6, 2 * POINTER_RADIUS - 6, 12, 15)


def pointer_rects(labelled: bool) -> list[Rect]:
    """The pointer marker's shape: ring, centre dot, and the tag when there is an initial."""
    rects = [
        *ring_rects(POINTER_RADIUS, POINTER_THICKNESS),
        Rect(POINTER_RADIUS - 2, POINTER_RADIUS - 2, 4, 4),
    ]
    return [*rects, LABEL_BOX] if labelled else rects


def pointer_label(name: str) -> str:
    """The technician's initial as one ASCII capital (the core "fixed" font), or "" for none."""
    for char in name.strip()[:1]:
        base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode().upper()
        if base.isalnum():
            return base
    return ""


def _above() -> int:
    from Xlib import X

    return int(X.Above)
