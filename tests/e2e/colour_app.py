"""Flat colour blocks among dense text, for the picture-quality test.

``python colour_app.py STATE_FILE`` covers the whole display with one undecorated window: small
text from edge to edge (a document, a terminal, a spreadsheet: what a support session shows) and
:data:`COLOURS` as 160×160 blocks with a grey margin. It writes the blocks' screen rectangles and
colours into ``STATE_FILE`` (JSON, replaced atomically) once mapped. Nothing in it moves or
blinks: the screen stays still unless the test changes it.

The text is what makes the test hard: at 1920×1080 a picture full of it costs the encoder more
than one frame may hold (its peak cap), so the first picture, and the one that shows an area
again after a window closed, come out coarse and must be sharpened by the frames that follow.

``python colour_app.py --dialog STATE_FILE`` is the change: a window at :data:`DIALOG_GEOMETRY`
over the blocks, full of random dots (the densest detail there is).
"""

from __future__ import annotations

import json
import random
import sys
from pathlib import Path
from typing import Any

#: magenta (the colour that was shown as 245,65,161), the saturated primaries, a mid grey, near-white
COLOURS: tuple[tuple[int, int, int], ...] = (
    (230, 40, 160),
    (255, 0, 0),
    (0, 255, 0),
    (0, 0, 255),
    (128, 128, 128),
    (250, 250, 250),
)
BACKGROUND_RGB = (0xD9, 0xD9, 0xD9)
TEXT_RGB = (0x20, 0x20, 0x20)
BLOCK = 160
GAP = 24
COLUMNS = 3
#: the blocks' area (left, top); the dialog covers it with a margin
BLOCKS_AT = (700, 250)
DIALOG_GEOMETRY = "620x440+670+220"
LINE_HEIGHT = 13
WORDS = [
    "lorem",
    "ipsum",
    "dolor",
    "sit",
    "amet",
    "consectetur",
    "adipiscing",
    "elit",
    "sed",
    "do",
    "eiusmod",
    "tempor",
    "0123456789",
]


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def _window(title: str, geometry: str) -> Any:
    import tkinter as tk

    root = tk.Tk()
    root.title(title)
    root.overrideredirect(True)  # no window manager on the test display: place it exactly
    root.geometry(geometry)
    return root


def _saver(root: Any, state_path: Path, state: Any) -> None:
    def save() -> None:
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state()))
        tmp.replace(state_path)

    root.bind("<Map>", lambda _event: root.after(300, save))
    root.after(800, save)


def main(state_path: Path) -> None:
    import tkinter as tk

    probe = tk.Tk()
    width, height = probe.winfo_screenwidth(), probe.winfo_screenheight()
    probe.destroy()
    root = _window("veo e2e colours", f"{width}x{height}+0+0")
    canvas = tk.Canvas(root, width=width, height=height, bg=_hex(BACKGROUND_RGB), highlightthickness=0, bd=0)
    canvas.place(x=0, y=0)
    words = random.Random(5)
    for top in range(0, height, LINE_HEIGHT):
        line = " ".join(words.choice(WORDS) for _ in range(width // 28))
        canvas.create_text(4, top, text=line, anchor="nw", fill=_hex(TEXT_RGB), font=("DejaVu Sans Mono", 8))
    rects = []
    left, top = BLOCKS_AT
    margin = GAP // 2
    span_w = COLUMNS * BLOCK + (COLUMNS + 1) * GAP
    span_h = 2 * BLOCK + 3 * GAP
    canvas.create_rectangle(
        left - margin, top - margin, left + span_w, top + span_h, fill=_hex(BACKGROUND_RGB), width=0
    )
    for index, rgb in enumerate(COLOURS):
        row, column = divmod(index, COLUMNS)
        x, y = left + GAP + column * (BLOCK + GAP), top + GAP + row * (BLOCK + GAP)
        canvas.create_rectangle(x, y, x + BLOCK, y + BLOCK, fill=_hex(rgb), width=0)
        rects.append([x, y, BLOCK, BLOCK, *rgb])
    _saver(root, state_path, lambda: {"blocks": rects})
    root.mainloop()


def dialog(state_path: Path) -> None:
    import tkinter as tk

    root = _window("veo e2e dialog", DIALOG_GEOMETRY)
    width, height = (int(v) for v in DIALOG_GEOMETRY.split("+")[0].split("x"))
    noise = random.Random(11)
    image = tk.PhotoImage(master=root, width=width, height=height)
    rows = [
        "{" + " ".join(f"#{noise.getrandbits(24):06x}" for _ in range(width)) + "}" for _ in range(height)
    ]
    image.put(" ".join(rows))
    tk.Label(root, image=image, bd=0, highlightthickness=0).place(x=0, y=0)
    _saver(root, state_path, lambda: {"mapped": True})
    root.mainloop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dialog":
        dialog(Path(sys.argv[2]))
    elif len(sys.argv) == 2:
        main(Path(sys.argv[1]))
    else:
        sys.exit("usage: colour_app.py [--dialog] STATE_FILE")
