"""The application the technician works on, Wayland-native: GTK 3 with ``GDK_BACKEND=wayland``.

Run with the system Python (``/usr/bin/python3``, which has ``gi`` and GTK 3 from Debian) on a
Wayland desktop: ``python3 gtk_app.py EVENTS_FILE``. The window is fullscreen, so its top-left
corner is the monitor's (a Wayland client cannot learn where the compositor put a normal
window; fullscreen leaves no doubt). It shows a button whose label counts its clicks, a text
field and a big flat colour block, and appends what happens to ``EVENTS_FILE`` as JSON lines:

* ``{"event": "ready", "widgets": {name: [x, y, width, height]}, "backend": "GdkWaylandDisplay"}``
  once the window is on the screen (rectangles in monitor pixels);
* ``{"event": "clicked", "clicks": n, "label": "Pressed n"}``;
* ``{"event": "text", "text": "..."}`` on every change of the field.

The test reads the file; nothing here knows about veo. Only the standard library and ``gi``.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

BLOCK_RGB = (230, 40, 160)
BACKGROUND_RGB = (0xD9, 0xD9, 0xD9)
START_LABEL = "Press me"
BLOCK_SIZE = (420, 260)
#: the widgets start this far down: veo's session bar sits at the top centre of the screen (on
#: mutter with a title bar of its own), and a click must not land on it
TOP = 240


def _hex(rgb: tuple[int, int, int]) -> str:
    return "#{:02x}{:02x}{:02x}".format(*rgb)


def main(events_path: Path) -> None:
    os.environ.setdefault("GDK_BACKEND", "wayland")
    import gi

    gi.require_version("Gtk", "3.0")
    gi.require_version("Gdk", "3.0")
    from gi.repository import Gdk, GLib, Gtk

    def emit(event: str, **fields: Any) -> None:
        with events_path.open("a", encoding="utf-8") as out:
            out.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")

    css = Gtk.CssProvider()
    css.load_from_data(
        (
            f"window {{ background: {_hex(BACKGROUND_RGB)}; }}\n"
            f"#block {{ background: {_hex(BLOCK_RGB)}; }}\n"
            "button, entry { font-size: 24px; }\n"
        ).encode()
    )
    screen = Gdk.Screen.get_default()
    Gtk.StyleContext.add_provider_for_screen(screen, css, Gtk.STYLE_PROVIDER_PRIORITY_USER)

    window = Gtk.Window(title="veo e2e (Wayland)")
    box = Gtk.Box(
        orientation=Gtk.Orientation.VERTICAL, spacing=24, margin=40, margin_top=TOP, halign=Gtk.Align.START
    )
    button = Gtk.Button(label=START_LABEL)
    button.set_size_request(300, 60)
    entry = Gtk.Entry(width_chars=30)
    block = Gtk.Box(name="block")  # a box draws its CSS background (no cairo binding needed)
    block.set_size_request(*BLOCK_SIZE)
    for widget in (button, entry, block):
        box.pack_start(widget, False, False, 0)
    window.add(box)

    clicks = 0

    def pressed(_button: Any) -> None:
        nonlocal clicks
        clicks += 1
        button.set_label(f"Pressed {clicks}")
        emit("clicked", clicks=clicks, label=button.get_label())

    def rect(widget: Any) -> list[int]:
        x, y = widget.translate_coordinates(window, 0, 0)
        allocation = widget.get_allocation()
        return [int(x), int(y), int(allocation.width), int(allocation.height)]

    ready = False

    def announce() -> bool:
        nonlocal ready
        if not ready:
            ready = True
            widgets = {"button": rect(button), "entry": rect(entry), "block": rect(block)}
            size = [window.get_allocated_width(), window.get_allocated_height()]
            emit("ready", widgets=widgets, window=size, backend=type(window.get_display()).__name__)
        return False

    def on_state(_window: Any, event: Any) -> bool:
        if event.new_window_state & Gdk.WindowState.FULLSCREEN:
            GLib.timeout_add(300, announce)  # after the fullscreen size is laid out and drawn
        return False

    button.connect("clicked", pressed)
    entry.connect("changed", lambda e: emit("text", text=e.get_text()))
    window.connect("window-state-event", on_state)
    window.connect("destroy", Gtk.main_quit)
    window.fullscreen()
    window.show_all()
    entry.grab_focus()
    Gtk.main()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: gtk_app.py EVENTS_FILE")
    main(Path(sys.argv[1]))
