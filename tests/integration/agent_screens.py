"""Screenshots of the agent's windows as the user sees them, on a private Xvfb, in English and Spanish.

``save_consent_screenshots(directory)`` writes the consent dialog (the lead's ``docs/screenshots/``
collects it); ``save_agent_screenshots(directory)`` adds the code window with a refused code, the
session bar, and every end notice. Each picture is drawn by a child process of its own (Tk keeps
its X connection until the process exits) and grabbed with mss, the agent's own capture library,
so no extra system package is needed. From a shell::

    .venv/bin/python -m tests.integration.agent_screens docs/screenshots            # consent only
    .venv/bin/python -m tests.integration.agent_screens docs/screenshots --all
"""

from __future__ import annotations

import os
import subprocess
import sys
import tkinter as tk
from collections.abc import Callable
from pathlib import Path

from tests.xvfb import xvfb_display

SIZES = ((1366, 768), (1920, 1080))
LANGUAGES = ("en", "es")
ENDINGS = {
    "ended-denied": ("user", "denied", False),
    "ended-stopped": ("user", "user_stopped", True),
    "ended-technician": ("technician", "technician_ended", True),
    "ended-dropped": ("system", "connection_lost", True),
    "ended-mismatch": ("system", "sas_mismatch_user", False),
    "ended-expired": ("system", "expired", True),
}
SCENES = (
    "consent",
    "code-used",
    "code-rate-limited",
    "code-outdated",
    "problem-truncated",
    "problem-link",
    "bar",
    *ENDINGS,
)


def _joined() -> object:
    from veo.protocol.permissions import Permission
    from veo.protocol.signaling import Joined

    return Joined(
        session_id="s-screens",
        organization="ACME IT",
        technician_name="Ana García",
        ticket_id=42,
        ticket_title="The printer does not print",
        requested=[Permission.VIEW, Permission.CONTROL, Permission.CLIPBOARD, Permission.FILES],
        ice_servers=[],
    )


def _draw(scene: str, language: str, root: tk.Tk) -> None:
    """Open the window of ``scene`` on ``root`` exactly as the agent does."""
    from veo.agent.endings import ending
    from veo.agent.session import join_error_text
    from veo.agent.ui.bar import SessionBar
    from veo.agent.ui.code import CodeWindow
    from veo.agent.ui.common import Fonts
    from veo.agent.ui.consent import ConsentDialog
    from veo.agent.ui.ended import EndedWindow
    from veo.i18n import gettext_for
    from veo.protocol.permissions import Permission
    from veo.protocol.signaling import Error

    _ = gettext_for(language).gettext
    fonts = Fonts(root)
    nothing: Callable[..., None] = lambda *_a: None  # noqa: E731
    if scene in ("consent", "consent-wayland", "consent-loopback"):  # Wayland: the desktop's window follows
        from veo.agent.ui.consent import ConnectedServer

        server = (
            ConnectedServer("127.0.0.1", False)
            if scene == "consent-loopback"
            else (ConnectedServer("support.acme.example", True))
        )
        dialog = ConsentDialog(
            root, fonts, _, _joined(), nothing, nothing, nothing,  # type: ignore[arg-type]
            desktop_asks_too=scene == "consent-wayland", server=server,
        )  # fmt: skip
        dialog.show_sas("428913")
    elif scene.startswith("code-"):
        from veo.agent.session import download_link

        window = CodeWindow(
            root, fonts, _, nothing, nothing, on_history=nothing, server="support.acme.example"
        )
        refusal = {
            "code-used": Error(code="code_used", message="x", fatal=True),
            "code-rate-limited": Error(code="rate_limited", message="x", fatal=True, retry_after=230),
            "code-outdated": Error(
                code="agent_outdated",
                message="x",
                fatal=True,
                min_version="0.3.0",
                download_url="https://support.acme.example/download",
            ),
        }[scene]
        link = download_link(refusal, "https://support.acme.example")
        window.show_error(join_error_text(language, refusal), "123456789", link=link)
    elif scene.startswith("problem-"):
        from veo.agent.launch import problem_text
        from veo.agent.ui.problem import ProblemWindow

        if scene == "problem-link":
            headline = _("veo did not connect")
            sentence = problem_text(
                _, "link_refused", host="help.other.example", configured="support.acme.example"
            )
        else:
            headline, sentence = _("veo cannot start"), problem_text(_, "embedded_truncated")
        details = _("The details for your support department are in {path}.").format(
            path="/home/ana/.local/state/veo/agent.log"
        )
        ProblemWindow(root, fonts, _, headline, sentence, nothing, details)
    elif scene == "bar":
        bar = SessionBar(
            root, fonts, _, "Ana García", "ACME IT", (Permission.VIEW, Permission.CONTROL, Permission.FILES),
            nothing, nothing, on_chat=nothing, on_send_file=nothing, language=language,
        )  # fmt: skip
        bar.show_unread(1)
    else:
        by, reason, started = ENDINGS[scene]
        said = ending(_, by, reason, "ACME IT", started)
        EndedWindow(root, fonts, _, said, nothing, on_history=nothing)


def draw_and_grab(scene: str, language: str, out: Path) -> None:
    """In the child process: draw ``scene`` on ``$DISPLAY``, let Tk settle, write the screen to ``out``."""
    import mss
    import mss.tools

    root = tk.Tk(className="veo-agent")
    root.withdraw()
    _draw(scene, language, root)
    for _ in range(20):
        root.update()
    root.after(300, root.quit)  # fonts and geometry settle on the first idle rounds
    root.mainloop()
    root.update()
    with mss.MSS() as screen:
        shot = screen.grab(screen.monitors[0])
        mss.tools.to_png(shot.rgb, shot.size, output=str(out))
    root.destroy()


def save_screenshots(
    directory: Path, scenes: tuple[str, ...], sizes: tuple[tuple[int, int], ...] = SIZES
) -> list[Path]:
    """``agent-<scene>-<lang>-<width>x<height>.png`` for each scene, language and screen size."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for width, height in sizes:
        with xvfb_display(size=f"{width}x{height}x24") as display:
            env = {**os.environ, "DISPLAY": display}
            for scene in scenes:
                for language in LANGUAGES:
                    out = directory / f"agent-{scene}-{language}-{width}x{height}.png"
                    subprocess.run(
                        [
                            sys.executable,
                            "-m",
                            "tests.integration.agent_screens",
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


def save_consent_screenshots(directory: Path) -> list[Path]:
    """The consent dialog in English and Spanish at 1366x768 and 1920x1080 (for docs/screenshots/)."""
    return save_screenshots(directory, ("consent",))


def save_agent_screenshots(directory: Path) -> list[Path]:
    """Every window the user meets: consent, refused codes, the bar and each end notice."""
    return save_screenshots(directory, SCENES)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--draw"]:
        draw_and_grab(sys.argv[2], sys.argv[3], Path(sys.argv[4]))
    else:
        target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("docs/screenshots")
        saved = save_agent_screenshots(target) if "--all" in sys.argv else save_consent_screenshots(target)
        print("\n".join(str(p) for p in saved))
