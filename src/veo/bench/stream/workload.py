"""The X program that stands for support work: ``python -m veo.bench.stream.workload MODE W H``.

One full-screen Tk canvas, drawn with few items so that this program's own CPU stays low (it is
measured and reported beside the agent's). Every time it changes the content it also redraws the
timestamp pattern (:mod:`.pattern`) and flushes both in one go, so a frame that shows the new
pattern shows the new content too; the latency read from the pattern is the latency of the work.

Modes:

* ``idle``: a still desktop; nothing changes (bytes and CPU at rest; no latency figure);
* ``typing``: a text editor, ~8 characters per second appended;
* ``scrolling``: a long document scrolling continuously, 60 steps per second;
* ``dragging``: a window moved across the screen continuously, 60 steps per second;
* ``animation``: moving content over the whole screen at 60 Hz (stands for a video).

With ``--keys`` (the drop scenario) it also takes the keyboard focus and shows the keys it receives
in a second row of blocks above the timestamp: ``(count mod 256) << 8 | (character code mod 256)``
of the last key, so the bench can tell from the decoded picture which of the keys it typed in the
console reached the user's program, and when.

It prints ``ready`` on stdout once its window is mapped, then ``steps N T`` four times a second
(content changes drawn so far, monotonic clock), so the bench can tell whether the program itself
kept up with its pace; it runs until terminated.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
import tkinter as tk
from collections.abc import Callable

from veo.bench.stream.pattern import BLOCKS, Layout, encode, stamp, ui_scale

MODES = ("idle", "typing", "scrolling", "dragging", "animation")
#: modes of the scenarios, never measured as plain workloads: ``burst`` (typing, a scrolling burst
#: at a known time, typing again: :mod:`.burst`) and ``text`` (a still page of 11-px words at known
#: places: :mod:`.readability`)
SCENARIO_MODES = ("burst", "text")
#: the burst mode: seconds of typing before the burst, and the burst's length
BURST_AT, BURST_SECONDS = 6.0, 2.0
TYPING_CPS = 8.0
STEP_HZ = 60.0
REPORT_MS = 250
WORDS = (
    "printer",
    "driver",
    "queue",
    "restart",
    "network",
    "share",
    "mailbox",
    "quota",
    "password",
    "expired",
    "update",
    "reboot",
    "firewall",
    "certificate",
    "proxy",
    "invoice",
    "spreadsheet",
    "backup",
    "folder",
    "permission",
    "domain",
    "account",
    "monitor",
    "cable",
    "keyboard",
    "layout",
    "language",
    "settings",
    "wireless",
    "adapter",
    "signal",
    "battery",
)


def _sentence(rng: random.Random, words: int) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + "."


class Workload:
    """The canvas, the pattern blocks and a paced step function for the chosen mode."""

    def __init__(
        self,
        mode: str,
        width: int,
        height: int,
        keys: bool = False,
        burst_at: float = BURST_AT,
        burst_seconds: float = BURST_SECONDS,
    ) -> None:
        self.mode = mode
        self.burst_at, self.burst_seconds = burst_at, burst_seconds
        self.width, self.height = width, height
        #: the desk is drawn at the desktop scaling a person uses on this screen (2 at 4K): the
        #: same editor, document and window, their text as readable, at a finer pixel
        self.scale = ui_scale(width, height)
        self.rng = random.Random(7)
        self.root = tk.Tk()
        self.root.overrideredirect(True)
        self.root.geometry(f"{width}x{height}+0+0")
        self.canvas = tk.Canvas(self.root, width=width, height=height, bg="#3b6ea5", highlightthickness=0)
        self.canvas.pack()
        layout = Layout(width, height)
        x, y, w, h = layout.span
        edge = self.k(4)
        top = (layout.keys_y if keys else y) - edge
        #: the pattern (and the keys' row) in a window of its own over the scene: Tk's canvas
        #: repaints the bounding box of everything changed since its last repaint as ONE
        #: rectangle, so a letter typed near the top and the pattern 1,800 rows below made it
        #: repaint (and X report) 7.5-27 MB per letter at 4K, which no editor does
        self.pane = tk.Canvas(
            self.root, width=w + 2 * edge, height=y + h + edge - top, bg="#808080", highlightthickness=0
        )
        self.pane.place(x=x - edge, y=top)
        self.blocks = []
        for index in range(BLOCKS):
            bx, by, bw, bh = layout.block(index)
            bx, by = bx - x + edge, by - top
            self.blocks.append(self.pane.create_rectangle(bx, by, bx + bw, by + bh, fill="black", width=0))
        self.key_blocks = []
        if keys:
            for index in range(BLOCKS):
                bx, _, bw, bh = layout.block(index)
                bx, by = bx - x + edge, edge
                self.key_blocks.append(self.pane.create_rectangle(bx, by, bx + bw, by + bh, width=0))
            self.keys_seen = 0
            self._draw_keys(0)
            self.root.bind("<Key>", self._key)
        self.step: Callable[[], None] = self._build()
        tk.Misc.tkraise(self.pane)  # above the scene (a canvas's own lift() raises its items)
        self.period = 1.0 / (TYPING_CPS if mode in ("typing", "burst") else STEP_HZ)
        self.next_at = 0.0
        self.steps = 0

    # ------------------------------------------------------------------ the scenes

    def k(self, pixels: float) -> int:
        """A length of the 1080p desk at this screen's scale."""
        return round(pixels * self.scale)

    def _build(self) -> Callable[[], None]:
        c, w, h, k = self.canvas, self.width, self.height, self.k
        if self.mode == "text":
            return self._build_text()
        if self.mode == "burst":
            return self._build_burst()
        if self.mode in ("idle", "typing", "dragging"):
            # a desktop with a few icons and a task bar
            for i in range(6):
                c.create_rectangle(k(24), k(24 + i * 90), k(72), k(72 + i * 90), fill="#e8e8e8", width=0)
            c.create_rectangle(0, h - k(48), w, h, fill="#202830", width=0)
        if self.mode == "idle":
            return lambda: None
        if self.mode == "typing":
            left, top = w // 6, h // 8
            c.create_rectangle(left, top, w - left, h - h // 4, fill="white", outline="#404040")
            c.create_rectangle(left, top, w - left, top + k(28), fill="#d0d0d0", width=0)
            c.create_text(
                left + k(10), top + k(14), text="notes.txt - Editor", anchor="w", font=("DejaVu Sans", k(11))
            )
            self.text = c.create_text(
                left + k(12), top + k(40), text="", anchor="nw", font=("DejaVu Sans Mono", k(13)),
                width=w - 2 * left - k(24),
            )  # fmt: skip
            self.typed = ""
            self.source = " ".join(_sentence(self.rng, 9) for _ in range(400))
            self.limit = 1200
            return self._type
        if self.mode == "scrolling":
            c.configure(bg="white")
            self.line_height = k(22)
            self.lines = []
            rows = h // self.line_height + 2
            for row in range(rows):
                item = c.create_text(
                    w // 8, row * self.line_height, anchor="nw", font=("DejaVu Sans", k(13)),
                    text=f"{row + 1:5d}  {_sentence(self.rng, 14)}",
                )  # fmt: skip
                self.lines.append(item)
            self.row_count = self.rows = rows
            return self._scroll
        if self.mode == "dragging":
            self.win_w, self.win_h = k(520), k(360)
            tag = "window"
            # Tk's default font for canvas text (12 px) at 1080p, as before; that times the scale above
            font: tuple[str, int] | str = ("DejaVu Sans", -k(12)) if self.scale > 1 else "TkDefaultFont"
            c.create_rectangle(0, 0, self.win_w, self.win_h, fill="#f4f4f4", outline="#303030", tags=tag)
            c.create_rectangle(0, 0, self.win_w, k(30), fill="#2d5f9a", width=0, tags=tag)
            c.create_text(
                k(10), k(15), text="Printer settings", anchor="w", fill="white", tags=tag, font=font
            )
            for row in range(12):
                c.create_text(
                    k(16), k(48 + row * 24), anchor="nw", text=_sentence(self.rng, 6), tags=tag, font=font
                )
            self.win_x, self.win_y = 100.0, 100.0
            self.phase = 0.0
            c.move(tag, self.win_x, self.win_y)
            return self._drag
        # animation: big coloured shapes crossing the whole screen at different speeds
        c.configure(bg="#101010")
        self.shapes = []
        for _ in range(24):
            size = self.rng.randint(h // 8, h // 3)
            x0, y0 = self.rng.randint(0, w), self.rng.randint(0, h)
            colour = "#" + "".join(f"{self.rng.randint(40, 255):02x}" for _ in range(3))
            maker = c.create_oval if self.rng.random() < 0.5 else c.create_rectangle
            item = maker(x0, y0, x0 + size, y0 + size, fill=colour, width=0)
            speed = (self.rng.uniform(-9, 9) * self.scale, self.rng.uniform(-6, 6) * self.scale)
            self.shapes.append((item, speed))
        return self._animate

    def _build_text(self) -> Callable[[], None]:
        """White page, each word of :func:`.readability.cells` at its place in an 11-px font."""
        from veo.bench.stream.readability import FONT, cells

        self.canvas.configure(bg="white")
        for cell in cells(self.width, self.height):
            self.canvas.create_text(cell.x, cell.y, text=cell.word, anchor="nw", font=FONT, fill="black")
        return lambda: None

    def _build_burst(self) -> Callable[[], None]:
        """The typing scene, and a full-screen document over it, hidden, that scrolls during the
        burst: ``burst_seconds`` from ``burst_at`` after ``ready``, then hidden again. The start and
        end go to stdout as ``burst start|end T M`` (``time.time()``, the probe's clock, and the
        monotonic time its ``steps`` reports use)."""
        self.mode = "typing"
        type_step = self._build()
        self.mode = "burst"
        c, w, h = self.canvas, self.width, self.height
        self.line_height = 22
        self.rows = h // self.line_height + 2
        c.create_rectangle(0, 0, w, h, fill="white", width=0, tags="doc", state="hidden")
        self.lines = []
        for row in range(self.rows):
            self.lines.append(
                c.create_text(
                    w // 8,
                    row * self.line_height,
                    anchor="nw",
                    font=("DejaVu Sans", 13),
                    text=f"{row + 1:5d}  {_sentence(self.rng, 14)}",
                    tags="doc",
                    state="hidden",
                )
            )
        self.burst_phase = "before"
        self.burst_from = 0.0

        def step() -> None:
            now = time.monotonic()
            if self.burst_phase == "before" and now >= self.burst_from + self.burst_at:
                self.burst_phase, self.burst_from = "burst", now
                self.canvas.itemconfigure("doc", state="normal")
                print(f"burst start {time.time():.3f} {time.monotonic():.3f}", flush=True)
            elif self.burst_phase == "burst" and now >= self.burst_from + self.burst_seconds:
                self.burst_phase = "after"
                self.canvas.itemconfigure("doc", state="hidden")
                print(f"burst end {time.time():.3f} {time.monotonic():.3f}", flush=True)
            if self.burst_phase == "burst":
                self.period = 1.0 / STEP_HZ
                self._scroll()
            else:
                self.period = 1.0 / TYPING_CPS
                type_step()

        return step

    def _type(self) -> None:
        if len(self.typed) >= self.limit:
            self.typed = ""
        self.typed += self.source[len(self.typed) % len(self.source)]
        self.canvas.itemconfigure(self.text, text=self.typed + "|")

    def _scroll(self) -> None:
        step = self.k(3)
        for item in self.lines:
            self.canvas.move(item, 0, -step)
            coords = self.canvas.coords(item)
            if coords and coords[1] < -self.line_height:
                self.canvas.move(item, 0, self.rows * self.line_height)
                self.canvas.itemconfigure(
                    item, text=f"{self.rng.randint(1, 99999):5d}  {_sentence(self.rng, 14)}"
                )

    def _drag(self) -> None:
        self.phase += 1.0 / STEP_HZ
        span_x = self.width - self.win_w - self.k(40)
        span_y = self.height - self.win_h - self.k(120)
        x = self.k(20) + span_x * (0.5 - 0.5 * math.cos(self.phase * 0.8))
        y = self.k(60) + span_y * (0.5 - 0.5 * math.cos(self.phase * 1.3))
        self.canvas.move("window", x - self.win_x, y - self.win_y)
        self.win_x, self.win_y = x, y

    def _animate(self) -> None:
        """Each shape drifts at its own speed and wraps around the screen's edges."""
        for item, (dx, dy) in self.shapes:
            x0, y0, x1, y1 = self.canvas.coords(item)
            jump_x = -(x1 + dx) if x0 + dx > self.width else (self.width - x0 if x1 + dx < 0 else dx)
            jump_y = -(y1 + dy) if y0 + dy > self.height else (self.height - y0 if y1 + dy < 0 else dy)
            self.canvas.move(item, jump_x, jump_y)

    # ------------------------------------------------------------------ pacing

    def _key(self, event: tk.Event) -> None:  # type: ignore[type-arg]
        if len(event.char) != 1:
            return  # a modifier alone
        self.keys_seen += 1
        self._draw_keys(((self.keys_seen % 256) << 8) | (ord(event.char) % 256))
        self.root.update_idletasks()

    def _draw_keys(self, value: int) -> None:
        for block, light in zip(self.key_blocks, encode(value), strict=True):
            self.pane.itemconfigure(block, fill="white" if light else "black")

    def _draw_pattern(self) -> None:
        for block, light in zip(self.blocks, encode(stamp(time.time())), strict=True):
            self.pane.itemconfigure(block, fill="white" if light else "black")

    def _tick(self) -> None:
        self.steps += 1
        self.step()
        self._draw_pattern()
        self.root.update_idletasks()  # content and pattern reach the X server together
        self.next_at += self.period
        now = time.monotonic()
        if self.next_at < now:  # late: skip the missed slots rather than burst
            self.next_at = now + self.period
        self.root.after(max(1, int((self.next_at - now) * 1000)), self._tick)

    def _report(self) -> None:
        """``steps N T``: N content changes drawn by monotonic time T (does it keep up?)."""
        print(f"steps {self.steps} {time.monotonic():.3f}", flush=True)
        self.root.after(REPORT_MS, self._report)

    def run(self) -> None:
        self._draw_pattern()
        self.root.update()
        if self.key_blocks:
            self.root.focus_force()  # the user's program has the focus, as when they type
        print("ready", flush=True)
        self.root.after(REPORT_MS, self._report)
        if self.mode == "burst":
            self.burst_from = time.monotonic()  # the burst's time counts from ``ready``
        if self.mode not in ("idle", "text"):
            self.next_at = time.monotonic() + self.period
            self.root.after(int(self.period * 1000), self._tick)
        self.root.mainloop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="veo.bench.stream.workload")
    parser.add_argument("mode", choices=MODES + SCENARIO_MODES)
    parser.add_argument("width", type=int)
    parser.add_argument("height", type=int)
    parser.add_argument("--keys", action="store_true", help="show the keys received (drop scenario)")
    parser.add_argument(
        "--burst-at", type=float, default=BURST_AT, help="burst mode: seconds of typing first"
    )
    parser.add_argument("--burst-seconds", type=float, default=BURST_SECONDS, help="burst mode: its length")
    args = parser.parse_args(argv)
    Workload(args.mode, args.width, args.height, args.keys, args.burst_at, args.burst_seconds).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
