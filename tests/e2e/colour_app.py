"""Flat colour blocks for the picture-quality test: the colours a stream most easily gets wrong.

Run as a script on the test display (``python colour_app.py STATE_FILE``). One undecorated window
at :data:`GEOMETRY` shows :data:`COLOURS` as 160×160 blocks on the application grey, and writes
their screen rectangles and colours into ``STATE_FILE`` (JSON, replaced atomically) once mapped.
Nothing in it moves or blinks: the screen stays still unless the test changes it.

``python colour_app.py --dialog STATE_FILE`` is the change: a window at :data:`DIALOG_GEOMETRY`
over the blocks, full of fine detail (random dots, as dense as small text or a photo), the kind of
picture that costs the encoder most and leaves the coarsest picture behind when it closes.
"""

from __future__ import annotations

import json
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
BLOCK = 160
GAP = 24
COLUMNS = 3
#: below the blocks, a band of fine detail: revealed together with them, it makes the frame that
#: shows them again expensive, so the encoder gives the whole frame a coarse quantizer
DETAIL_HEIGHT = 200
GEOMETRY = f"580x{400 + DETAIL_HEIGHT}+670+200"
DIALOG_GEOMETRY = f"620x{440 + DETAIL_HEIGHT}+650+180"


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def main(state_path: Path) -> None:
    import tkinter as tk

    root = tk.Tk()
    root.title("veo e2e colours")
    root.overrideredirect(True)  # no window manager on the test display: place it exactly
    root.geometry(GEOMETRY)
    root.configure(bg=_hex(BACKGROUND_RGB))
    blocks: list[tuple[tk.Frame, tuple[int, int, int]]] = []
    for index, rgb in enumerate(COLOURS):
        block = tk.Frame(root, bg=_hex(rgb), width=BLOCK, height=BLOCK, highlightthickness=0, bd=0)
        row, column = divmod(index, COLUMNS)
        block.place(x=GAP + column * (BLOCK + GAP), y=GAP + row * (BLOCK + GAP))
        blocks.append((block, rgb))

    detail = _dots(root, 580 - 2 * GAP, DETAIL_HEIGHT, seed=7)
    tk.Label(root, image=detail, bd=0, highlightthickness=0).place(x=GAP, y=GAP + 2 * (BLOCK + GAP))

    def save() -> None:
        state = {
            "blocks": [
                [b.winfo_rootx(), b.winfo_rooty(), b.winfo_width(), b.winfo_height(), *rgb]
                for b, rgb in blocks
            ]
        }
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(state_path)

    root.bind("<Map>", lambda _event: root.after(200, save))
    root.after(500, save)
    root.mainloop()


def _dots(root: Any, width: int, height: int, seed: int) -> Any:
    """A ``tk.PhotoImage`` of random colours: the densest detail there is."""
    import random
    import tkinter as tk

    noise = random.Random(seed)
    image = tk.PhotoImage(master=root, width=width, height=height)
    rows = [
        "{" + " ".join(f"#{noise.getrandbits(24):06x}" for _ in range(width)) + "}" for _ in range(height)
    ]
    image.put(" ".join(rows))
    return image


def dialog(state_path: Path) -> None:
    import tkinter as tk

    root = tk.Tk()
    root.title("veo e2e dialog")
    root.overrideredirect(True)
    root.geometry(DIALOG_GEOMETRY)
    width, height = (int(v) for v in DIALOG_GEOMETRY.split("+")[0].split("x"))
    image = _dots(root, width, height, seed=11)
    tk.Label(root, image=image, bd=0, highlightthickness=0).place(x=0, y=0)

    def save() -> None:
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"mapped": True}))
        tmp.replace(state_path)

    root.bind("<Map>", lambda _event: root.after(200, save))
    root.mainloop()


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--dialog":
        dialog(Path(sys.argv[2]))
    elif len(sys.argv) == 2:
        main(Path(sys.argv[1]))
    else:
        sys.exit("usage: colour_app.py [--dialog] STATE_FILE")
