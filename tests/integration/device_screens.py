"""Screenshots of the windows of a session on a managed device (issue 17), in English and Spanish.

``ask``: the consent dialog with the managed-computer line; ``notify``: the connected notice under
the session bar that names who and why. Each picture is drawn by a child process of its own on a
private Xvfb and grabbed with mss, as ``agent_screens.py`` does. Until the Spanish catalog holds
the new sentences, ``--es-json FILE`` (``{"English": "Spanish"}``) lays them over it. From a shell::

    .venv/bin/python -m tests.integration.device_screens /tmp/shots [--es-json /tmp/veo-tools/es-H4.json]
"""

from __future__ import annotations

import gettext
import json
import os
import subprocess
import sys
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from tests.xvfb import xvfb_display

SCENES = ("device-consent", "device-notice")
LANGUAGES = ("en", "es")
ES_JSON_ENV = "VEO_SCREENS_ES_JSON"


class _Overlay(gettext.NullTranslations):
    """Sentences not in the compiled catalog yet, before the catalog's own."""

    def __init__(self, table: dict[str, str]) -> None:
        super().__init__()
        self._table = table

    def gettext(self, message: str) -> str:
        return self._table.get(message) or super().gettext(message)


def _lay_over_spanish(path: str) -> None:
    import veo.i18n

    table = {k: v for k, v in json.loads(Path(path).read_text()).items() if isinstance(v, str)}
    overlay = _Overlay(table)
    overlay.add_fallback(veo.i18n.translations("es"))
    original = veo.i18n.translations
    veo.i18n.translations = lambda language: overlay if language == "es" else original(language)  # type: ignore[assignment]


def draw(scene: str, language: str, root: tk.Tk) -> None:
    """Open the windows of ``scene`` on ``root`` as the agent does."""
    from veo.agent.device_mode import DeviceContext
    from veo.agent.ui.bar import SessionBar
    from veo.agent.ui.common import Fonts
    from veo.agent.ui.connected_notice import ConnectedNotice
    from veo.agent.ui.consent import ConnectedServer, ConsentDialog
    from veo.i18n import gettext_for
    from veo.protocol.device import DeviceSession
    from veo.protocol.permissions import Permission
    from veo.protocol.signaling import Joined

    _ = gettext_for(language).gettext
    fonts = Fonts(root)
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    reason = (
        "La impresora de la planta 2 no imprime"
        if language == "es"
        else "The printer on floor 2 does not print"
    )
    device = DeviceContext("ask", reason, "Ana García", "ACME IT", "pc-contab-07")
    if scene == "device-consent":
        joined = Joined(
            session_id="s-screens",
            organization="ACME IT",
            technician_name="Ana García",
            ticket_id=42,
            ticket_title=f"pc-contab-07: {reason}",
            requested=[Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD],
            device=DeviceSession(device_name="pc-contab-07", policy="ask", reason=reason),
        )
        dialog = ConsentDialog(
            root, fonts, _, joined, nothing, nothing, nothing,
            server=ConnectedServer("support.acme.example", True), device=device,
        )  # fmt: skip
        dialog.show_sas("428913")
    else:
        SessionBar(
            root, fonts, _, "Ana García", "ACME IT", (Permission.VIEW, Permission.CONTROL),
            nothing, nothing, on_chat=nothing, language=language, reason=reason,
        )  # fmt: skip
        ConnectedNotice(
            root, fonts, _, technician="Ana García", organization="ACME IT", reason=reason,
            on_stop=nothing, on_close=nothing,
        )  # fmt: skip


def draw_and_grab(scene: str, language: str, out: Path) -> None:
    """In the child process: draw ``scene`` on ``$DISPLAY``, let Tk settle, write the screen to ``out``."""
    import mss
    import mss.tools

    if os.environ.get(ES_JSON_ENV):
        _lay_over_spanish(os.environ[ES_JSON_ENV])
    root = tk.Tk(className="veo-agent")
    root.withdraw()
    draw(scene, language, root)
    for _ in range(20):
        root.update()
    root.after(300, root.quit)
    root.mainloop()
    root.update()
    with mss.MSS() as screen:
        shot = screen.grab(screen.monitors[0])
        mss.tools.to_png(shot.rgb, shot.size, output=str(out))
    root.destroy()


def save_device_screenshots(
    directory: Path, es_json: str = "", size: tuple[int, int] = (1366, 768)
) -> list[Path]:
    """``agent-<scene>-<lang>-<w>x<h>.png`` for each scene and language."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    width, height = size
    with xvfb_display(size=f"{width}x{height}x24") as display:
        env = {**os.environ, "DISPLAY": display, ES_JSON_ENV: es_json}
        for scene in SCENES:
            for language in LANGUAGES:
                out = directory / f"agent-{scene}-{language}-{width}x{height}.png"
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "tests.integration.device_screens",
                        "--draw",
                        scene,
                        language,
                        str(out),
                    ],
                    env=env,
                    cwd=Path(__file__).resolve().parents[2],
                    check=True,
                    timeout=60,
                )
                written.append(out)
    return written


if __name__ == "__main__":
    if sys.argv[1:2] == ["--draw"]:
        draw_and_grab(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        extra = sys.argv[sys.argv.index("--es-json") + 1] if "--es-json" in sys.argv else ""
        for path in save_device_screenshots(Path(sys.argv[1]), extra):
            print(path)
