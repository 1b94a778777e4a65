"""The agent's Tk windows drawn for a check on a Wayland desktop (through XWayland).

``python -m tests.integration.wayland_windows SCENE LANGUAGE EVENTS_FILE`` opens one window as
the agent does (the same classes, the same arguments) and appends JSON lines to EVENTS_FILE:

* ``{"event": "ready", "windows": [{"title", "rect", "frame"}], "texts": [...]}`` once Tk has
  settled (``rect`` is the window's inside in screen pixels, ``frame`` the X id the agent keeps
  clear of annotations, ``texts`` every label and button text);
* ``{"event": "key", "keysym": ..., "widget": ...}`` for each key the window gets;
* ``{"event": "focus", "widget": ...}`` when one of its widgets takes the keyboard focus.

It stays open until killed. Used by ``test_agent_windows_wayland.py`` and ``test_overlay_wayland.py``.
"""

from __future__ import annotations

import json
import sys
import tkinter as tk
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCENES = ("code", "consent", "bar", "chat", "chat-incoming", "file-offer", "transfer", "send-file", "sysinfo")
#: what the technician wrote, with what Spanish needs (accents, ñ, ¿ and the « » quotes)
CHAT_LINE = "¿Puede pulsar «Imprimir» en la ventana del año pasado?"
FILE_NAME = "informe_año_técnico.pdf"


def draw(scene: str, language: str, root: tk.Tk) -> None:
    """Open the window of ``scene`` on ``root`` with the arguments the agent gives it."""
    from tests.integration.agent_screens import _draw

    from veo.agent.events import FileOffered, FileTransferStarted
    from veo.agent.sysinfo import collect
    from veo.agent.ui.chat import ChatWindow
    from veo.agent.ui.common import Fonts
    from veo.agent.ui.files import FileWindows, SendFileWindow, TransferWindow
    from veo.agent.ui.sysinfo import SysinfoWindow
    from veo.i18n import gettext_for

    _ = gettext_for(language).gettext
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    if scene in ("consent", "bar"):
        _draw(scene, language, root)
        return
    fonts = Fonts(root)
    if scene == "code":  # the first window: the user types the code into it
        from veo.agent.ui.code import CodeWindow

        CodeWindow(root, fonts, _, nothing, nothing, on_history=nothing)
    elif scene.startswith("chat"):
        chat = ChatWindow(root, fonts, _, "Ana García", 42, nothing, nothing, nothing)
        chat.add("l1", False, CHAT_LINE)
        chat.show(focus=scene == "chat")  # the Chat button focuses; a new message does not
    elif scene == "file-offer":
        files = FileWindows(root, fonts, _, "Ana García", nothing, nothing, nothing, nothing)
        files.handle(FileOffered(id="f1", name=FILE_NAME, size=2_345_678, folder=str(Path.home())))
    elif scene == "transfer":
        transfer = TransferWindow(
            root, fonts, _, FileTransferStarted("f1", FILE_NAME, 2_345_678, False), 0, nothing, nothing
        )
        transfer.progress(1_000_000)
    elif scene == "send-file":
        SendFileWindow(root, fonts, _, nothing, nothing)
    elif scene == "sysinfo":
        SysinfoWindow(root, fonts, language, "Ana García", collect(), nothing, nothing)
    else:
        raise ValueError(scene)


def _texts(widget: tk.Misc) -> list[str]:
    found = []
    for child in widget.winfo_children():
        if isinstance(child, tk.Label | tk.Button | tk.Checkbutton):
            found.append(str(child.cget("text")))
        elif isinstance(child, tk.Text):
            found.append(child.get("1.0", "end-1c"))
        found += _texts(child)
    return found


def main(scene: str, language: str, events: Path) -> None:
    root = tk.Tk(className="veo-agent")
    root.withdraw()
    out = events.open("a", encoding="utf-8", buffering=1)

    def emit(event: str, **fields: Any) -> None:
        out.write(json.dumps({"event": event, **fields}, ensure_ascii=False) + "\n")

    draw(scene, language, root)
    root.bind_all("<KeyPress>", lambda e: emit("key", keysym=e.keysym, widget=str(e.widget)))
    root.bind_all("<FocusIn>", lambda e: emit("focus", widget=str(e.widget)))

    def ready() -> None:
        windows = [
            {
                "title": w.title(),
                "rect": [w.winfo_rootx(), w.winfo_rooty(), w.winfo_width(), w.winfo_height()],
                "frame": int(w.wm_frame(), 16),  # what the agent keeps clear of annotations
            }
            for w in root.winfo_children()
            if isinstance(w, tk.Toplevel) and w.winfo_ismapped()
        ]
        emit("ready", windows=windows, texts=_texts(root))

    root.after(800, ready)  # fonts, geometry and the compositor's placement settle first
    root.mainloop()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], Path(sys.argv[3]))
