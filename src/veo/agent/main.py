"""``veo agent``: what the end user runs to let a technician see (and maybe control) the screen.

``main(argv) -> int``: 0 when the session ended (whoever ended it) or the user closed the code
window, 2 for a bad command line or server address, 1 when no window can be shown.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys

from veo.agent.ui.code import normalize_code
from veo.agent.urls import ServerUrlError, agent_ws_url
from veo.i18n import gettext_for, normalize, system_language

log = logging.getLogger("veo.agent")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s %(message)s"


def _parser() -> argparse.ArgumentParser:
    _ = gettext_for(system_language()).gettext  # --help comes before --lang is known
    parser = argparse.ArgumentParser(
        prog="veo agent", description=_("Share this computer's screen with a technician, with your consent.")
    )
    parser.add_argument(
        "--server", required=True, help=_("address of the veo server, e.g. https://support.example")
    )
    parser.add_argument(
        "--code", help=_("the 9-digit code from your technician (asked in a window if omitted)")
    )
    parser.add_argument(
        "--lang", choices=["es", "en"], help=_("language of the windows (default: the system's)")
    )
    parser.add_argument("--log-file", help=_("also write the log to this file"))
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log details (WebRTC included)"))
    return parser


def setup_logging(log_file: str | None, verbose: bool) -> None:
    """One event per line on stderr (and the file): the end-to-end tests read these lines."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        handlers.append(logging.FileHandler(log_file, encoding="utf-8"))
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO, format=LOG_FORMAT, handlers=handlers, force=True
    )
    if not verbose:
        for noisy in ("aiortc", "aioice", "websockets", "PIL"):
            logging.getLogger(noisy).setLevel(logging.WARNING)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    language = normalize(args.lang) if args.lang else system_language()
    _ = gettext_for(language).gettext
    try:
        ws_url = agent_ws_url(args.server, language)
    except ServerUrlError as exc:
        print(f"veo agent: {exc}", file=sys.stderr)
        return 2
    code: str | None = None
    if args.code is not None:
        code = normalize_code(args.code)
        if code is None:
            print("veo agent: " + _("The code has 9 digits, for example 123 456 789."), file=sys.stderr)
            return 2
    setup_logging(args.log_file, args.verbose)
    log.info("veo agent connecting to %s (language %s)", ws_url, language)

    import tkinter as tk

    from veo.agent.app import AgentApp

    try:
        root = tk.Tk(className="veo-agent")
    except tk.TclError as exc:
        print("veo agent: " + _("Cannot open a window: {error}").format(error=exc), file=sys.stderr)
        return 1
    app = AgentApp(root, ws_url, args.server, language, code)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: app.request_terminate())
    try:
        return app.run()
    finally:
        root.destroy()
