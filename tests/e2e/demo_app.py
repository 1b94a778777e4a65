"""The application the remote technician works on: a button, a text field and a coloured block.

Run as a script on the test display (``python demo_app.py STATE_FILE``). It writes what a person
would see into ``STATE_FILE`` (JSON, replaced atomically on every change): the button's label, how
often it was pressed, the field's text, and the screen rectangles of its widgets, so the tests can
aim at them through the console and check the outcome without reading pixels.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

#: The block's colour: saturated and unlike anything else on the display (the root is black).
BLOCK_RGB = (230, 40, 160)
APP_BACKGROUND_RGB = (0xD9, 0xD9, 0xD9)
WINDOW_GEOMETRY = "560x400+60+200"
START_LABEL = "Press me"


@dataclass(frozen=True)
class AppState:
    """One snapshot of the application as read from its state file."""

    clicks: int
    label: str
    text: str
    widgets: dict[str, list[int]]

    @classmethod
    def read(cls, path: Path) -> AppState | None:
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        return cls(
            clicks=int(data["clicks"]),
            label=str(data["label"]),
            text=str(data["text"]),
            widgets={k: [int(v) for v in rect] for k, rect in data["widgets"].items()},
        )


def main(
    state_path: Path, geometry: str = WINDOW_GEOMETRY, block_rgb: tuple[int, int, int] = BLOCK_RGB
) -> None:
    import tkinter as tk

    root = tk.Tk()
    root.title("veo e2e demo")
    root.overrideredirect(True)  # no window manager on the test display: place it exactly
    root.geometry(geometry)
    root.configure(bg="#{:02x}{:02x}{:02x}".format(*APP_BACKGROUND_RGB))
    clicks = 0
    text = tk.StringVar(root)
    colour = "#{:02x}{:02x}{:02x}".format(*block_rgb)
    button = tk.Button(root, text=START_LABEL, font=("DejaVu Sans", 20), width=12)
    entry = tk.Entry(root, textvariable=text, font=("DejaVu Sans", 20), width=24)
    block = tk.Frame(root, bg=colour, width=240, height=150)
    button.pack(pady=(24, 12))
    entry.pack(pady=12)
    block.pack(pady=12)

    def rect(widget: tk.Misc) -> list[int]:
        return [widget.winfo_rootx(), widget.winfo_rooty(), widget.winfo_width(), widget.winfo_height()]

    def save(*_: object) -> None:
        state = {
            "pid": os.getpid(),
            "clicks": clicks,
            "label": button.cget("text"),
            "text": text.get(),
            "widgets": {"button": rect(button), "entry": rect(entry), "block": rect(block)},
        }
        tmp = state_path.with_suffix(".tmp")
        tmp.write_text(json.dumps(state))
        tmp.replace(state_path)

    def pressed() -> None:
        nonlocal clicks
        clicks += 1
        button.configure(text=f"Pressed {clicks}")
        save()

    button.configure(command=pressed)
    # No window manager runs on the test display, so nobody gives the window keyboard focus on a
    # click (click-to-focus); the field takes it itself, as it would get it from a desktop.
    entry.bind("<ButtonPress-1>", lambda _event: entry.focus_force())
    text.trace_add("write", save)
    root.bind("<Map>", lambda _event: root.after(200, save))
    root.after(500, save)
    root.mainloop()


if __name__ == "__main__":
    if len(sys.argv) not in (2, 4):
        sys.exit("usage: demo_app.py STATE_FILE [GEOMETRY BLOCK_HEX_RGB]")
    if len(sys.argv) == 4:  # a second window elsewhere, told apart by its block's colour
        rgb = bytes.fromhex(sys.argv[3].lstrip("#"))
        main(Path(sys.argv[1]), sys.argv[2], (rgb[0], rgb[1], rgb[2]))
    else:
        main(Path(sys.argv[1]))
