"""A small window that changes colour four times a second: proof that the picture is live.

Run as a script on the test display (``python blinker.py``). The fault tests read its colour in
the console's decoded video while a node is killed: if the colour keeps changing, frames kept
arriving (the media does not pass through the server). No window manager runs on the display,
so the window places itself (bottom right, clear of the demo app and the agent's windows).
"""

from __future__ import annotations

#: The two colours it alternates between, unlike anything else on the display.
COLOURS = ((20, 200, 60), (40, 60, 230))
GEOMETRY = "160x80+1080+620"
CENTRE = (1080 + 80, 620 + 40)
PERIOD_MS = 250


def main() -> None:
    import tkinter as tk

    root = tk.Tk()
    root.title("veo multinode blinker")
    root.overrideredirect(True)
    root.geometry(GEOMETRY)
    hexes = ["#{:02x}{:02x}{:02x}".format(*rgb) for rgb in COLOURS]
    state = {"i": 0}

    def flip() -> None:
        state["i"] ^= 1
        root.configure(bg=hexes[state["i"]])
        root.after(PERIOD_MS, flip)

    root.configure(bg=hexes[0])
    root.after(PERIOD_MS, flip)
    root.mainloop()


if __name__ == "__main__":
    main()
