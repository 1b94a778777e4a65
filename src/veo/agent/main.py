"""``veo agent``: what the end user runs to let a technician see (and maybe control) the screen.

``main(argv) -> int``: 0 when the session ended (whoever ended it) or the user closed the code
window, 2 for a bad command line, server address, certificate file or configuration, 1 when no
window can be shown. The server (and maybe the code) comes from ``--server``/``--code``, a
``veo://join`` link, the downloaded file's own configuration or ``/etc/veo/agent.json``
(``launch.py``); a configuration that cannot be used is said on the terminal, in the log and in a
window (``ui/problem.py``), since a downloaded or installed agent has no terminal.
``--history`` shows the user's own record of past sessions instead, and the device's history
when IT enrolled this computer (``--print``: as text).
``veo agent enrol | unenrol | service`` are the managed device's commands (``device/cli.py``);
the hidden ``--device-session`` (the service starts it on the user's desktop, a LaunchSpec on its
stdin: ``device/session_part.py``) and ``--device-notice`` (the enrolment notice) are for the
service and ``enrol`` only.
The log goes to ``$XDG_STATE_HOME/veo/agent.log`` (or ``--log-file``); an unexpected error ends
with one sentence on the terminal that says where its details are, never a traceback (``logs.py``).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import ssl
import sys
from collections.abc import Callable

from veo.agent import backend, encoder, history
from veo.agent.device import device_history
from veo.agent.history_text import history_text
from veo.agent.launch import Launch, LaunchProblem, decide, embedded_source, installed_config_path
from veo.agent.logs import default_log_path, install_crash_handlers, report_crash, setup_logging
from veo.agent.session import configure_updates
from veo.agent.sysinfo import PROGRAMS_ENV, parse_programs
from veo.agent.tls import CA_FILE_ENV, CaFileError, client_context, trust_the_system_everywhere
from veo.agent.urls import ServerUrlError, agent_ws_url
from veo.i18n import gettext_for, normalize, system_language
from veo.protocol import codes

log = logging.getLogger("veo.agent")


def _parser() -> argparse.ArgumentParser:
    _ = gettext_for(system_language()).gettext  # --help comes before --lang is known
    parser = argparse.ArgumentParser(
        prog="veo agent", description=_("Share this computer's screen with a technician, with your consent.")
    )
    parser.add_argument(
        "link",
        nargs="?",
        metavar="LINK",
        help=_(
            "a veo://join link from the join page (what your browser passes); "
            "used only for a server this computer's veo configuration names"
        ),
    )
    parser.add_argument("--server", help=_("address of the veo server, e.g. https://support.example"))
    parser.add_argument(
        "--code", help=_("the 9-digit code from your technician (asked in a window if omitted)")
    )
    parser.add_argument(
        "--lang", choices=["es", "en"], help=_("language of the windows (default: the system's)")
    )
    parser.add_argument(
        "--ca-file",
        default=os.environ.get(CA_FILE_ENV) or None,
        metavar="PATH",
        help=_(
            "trust only the certificate authorities in this PEM file (your organization's own CA) "
            "instead of the system's; also VEO_AGENT_CA_FILE"
        ),
    )
    parser.add_argument(
        "--history", action="store_true", help=_("show the sessions held on this computer, newest first")
    )
    parser.add_argument(
        "--print", action="store_true", help=_("with --history: print it as text instead of a window")
    )
    parser.add_argument(
        "--sysinfo-programs",
        default=os.environ.get(PROGRAMS_ENV),
        metavar="NAMES",
        help=_(
            "comma-separated programs whose versions the system information lists (each run with "
            "--version); also VEO_AGENT_SYSINFO_PROGRAMS"
        ),
    )
    parser.add_argument(
        "--backend",
        default=None,
        metavar="x11|portal",
        help=_(
            "how to reach the desktop: x11, or portal (Wayland, through the desktop's own sharing "
            "window); default: the kind of session this is; also VEO_AGENT_BACKEND"
        ),
    )
    # hidden, for tests of the non-frozen agent: the configuration trailer of this file, as if it
    # were the downloaded one-file build (``launch.py``)
    parser.add_argument("--embedded-from", metavar="PATH", help=argparse.SUPPRESS)
    # hidden, for the device service: a session on a managed device (its LaunchSpec on stdin),
    # and the enrolment notice (``veo agent enrol`` starts it on the user's desktop)
    parser.add_argument("--device-session", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--device-notice", action="store_true", help=argparse.SUPPRESS)
    # hidden, for ``veo bench stream``: which codec to offer, and the frame rate cap
    parser.add_argument("--codec", choices=encoder.CODECS, default="auto", help=argparse.SUPPRESS)
    parser.add_argument("--max-fps", type=float, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        help=_("write the log to this file instead of {path}").format(path=default_log_path()),
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log details (WebRTC included)"))
    return parser


def show_history(language: str, as_text: bool, on_tk_error: Callable[..., None] | None = None) -> int:
    """``veo agent --history``: the local record in a window, or as text with ``--print``."""
    _ = gettext_for(language).gettext
    read = history.read()
    device = device_history.read()
    if as_text:
        sys.stdout.write(history_text(read, language, device=device))
        return 0

    import tkinter as tk

    from veo.agent.ui.common import Fonts, run_alone
    from veo.agent.ui.history import HistoryWindow

    def make(root: tk.Tk, fonts: Fonts) -> HistoryWindow:
        return HistoryWindow(root, fonts, language, read, root.quit, device=device)

    error = run_alone(make, "history", on_tk_error)
    if error is not None:
        print("veo agent: " + _no_window(_, error), file=sys.stderr)
        print("veo agent: " + _("Use --history --print to see the history as text."), file=sys.stderr)
        return 1
    return 0


def _no_window(_: Callable[[str], str], exc: Exception) -> str:
    """Why no window opened, as a sentence: Tk's own words are English and name no remedy."""
    if not os.environ.get("DISPLAY"):
        return _(
            "Cannot open a window: this terminal has no graphical display (DISPLAY is not set). "
            "Run veo agent from a terminal on your desktop."
        )
    return _("Cannot open a window: {error}").format(error=exc)


def bad_backend_text(_: Callable[[str], str], value: str) -> str:
    """The sentence for an unknown ``--backend`` / ``VEO_AGENT_BACKEND`` (argparse's is English)."""
    return _("Unknown desktop backend '{value}': use x11 or portal (or leave it out to detect it).").format(
        value=value
    )


def device_session(args: argparse.Namespace) -> int:
    """``--device-session``: ``veo.agent.device.session_part.main(args)``, imported only here
    (a plain import, so the one-file build's analysis finds it)."""
    from veo.agent.device import session_part

    return session_part.main(args)


def main(argv: list[str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in ("enrol", "unenrol", "service"):
        from veo.agent.device.cli import main as device_main

        return device_main(words)
    parser = _parser()
    args = parser.parse_args(words)
    if args.device_session:
        return device_session(args)
    if args.device_notice:
        from veo.agent.device.cli import notice_main

        return notice_main(args.lang, args.log_file, args.verbose)
    language = normalize(args.lang) if args.lang else system_language()
    _ = gettext_for(language).gettext
    if args.print and not args.history:
        parser.error(_("--print goes with --history"))
    if args.history:
        log_path = setup_logging(args.log_file, args.verbose)
        on_tk_error = install_crash_handlers(language, log_path)
        try:
            return show_history(language, args.print, on_tk_error)
        except Exception:
            report_crash(language, log_path, sys.exc_info())  # type: ignore[arg-type]
            return 1
    code: str | None = None
    if args.code is not None:
        code = codes.normalise(args.code)
        if code is None:
            print("veo agent: " + codes.format_text(_), file=sys.stderr)
            return 2
    # a downloaded (frozen) agent, or a test standing in for one: no terminal to read an error
    packaged = bool(getattr(sys, "frozen", False)) or args.embedded_from is not None
    try:
        launch = decide(
            server=args.server,
            code=code,
            link=args.link,
            embedded=embedded_source(args.embedded_from),
            installed=installed_config_path(),
            language=normalize(args.lang) if args.lang else None,
            system_language=system_language(),
        )
    except LaunchProblem as problem:
        if problem.kind == "no_server" and not packaged:  # a terminal: the usage says what to type
            parser.error(_("--server is required (or use --history to see past sessions)"))
        return tell_problem(problem, args.log_file, args.verbose)
    except Exception:  # what a link or a file holds is another's choice: never a traceback for it
        report_crash(language, setup_logging(args.log_file, args.verbose), sys.exc_info())  # type: ignore[arg-type]
        return 1
    language = launch.language
    _ = gettext_for(language).gettext
    try:
        ws_url = agent_ws_url(launch.server, language)
        tls = client_context(args.ca_file, language)  # the signaling's and the rating's trust
    except ServerUrlError as exc:
        if launch.source == "command_line":
            print(f"veo agent: {exc}", file=sys.stderr)
            return 2
        refused = LaunchProblem("bad_address", str(exc), language, f"{launch.source}: {launch.server}")
        return tell_problem(refused, args.log_file, args.verbose)
    except CaFileError as exc:
        print(f"veo agent: {exc}", file=sys.stderr)
        return 2
    try:
        encoder.configure(args.codec, args.max_fps)
    except ValueError as exc:
        print(f"veo agent: {exc}", file=sys.stderr)
        return 2
    try:
        backend.configure(args.backend)
    except ValueError as exc:
        print("veo agent: " + bad_backend_text(_, str(exc)), file=sys.stderr)
        return 2
    try:
        programs = parse_programs(args.sysinfo_programs)
    except ValueError as exc:
        print("veo agent: --sysinfo-programs: " + str(exc), file=sys.stderr)
        return 2
    # before anything connects: aioice's turns: relay and every other default context see the
    # system's store too (the one-file build's OpenSSL looks where the build machine keeps it)
    trust_the_system_everywhere()
    configure_updates(launch.source)  # an agent IT installed is updated by IT, not by a download
    log_path = setup_logging(args.log_file, args.verbose)
    on_tk_error = install_crash_handlers(language, log_path)
    try:
        return run_agent(args, launch, ws_url, tls, programs, on_tk_error)
    except KeyboardInterrupt:  # Ctrl+C before the windows could take it: quietly, as asked
        return 130
    except Exception:
        report_crash(language, log_path, sys.exc_info())  # type: ignore[arg-type]
        return 1


def tell_problem(problem: LaunchProblem, log_file: str | None, verbose: bool) -> int:
    """A configuration veo cannot use: the sentence on the terminal, in the log and in a window
    (a downloaded or installed agent has no terminal); exit code 2."""
    log_path = setup_logging(log_file, verbose)
    on_tk_error = install_crash_handlers(problem.language, log_path)
    log.error("cannot start (%s): %s [%s]", problem.kind, problem.message, problem.detail)
    print("veo agent: " + problem.message, file=sys.stderr, flush=True)
    _ = gettext_for(problem.language).gettext
    refused = problem.kind in ("link_refused", "copy_refused")
    headline = _("veo did not connect") if refused else _("veo cannot start")
    details = (
        _("The details for your support department are in {path}.").format(path=log_path)
        if log_path is not None
        else ""
    )
    try:
        from veo.agent.ui.problem import show_problem

        show_problem(_, headline, problem.message, details, on_tk_error)
    except Exception:  # the sentence is already on the terminal and in the log
        log.exception("the problem window failed")
    return 2


def run_agent(
    args: argparse.Namespace,
    launch: Launch,
    ws_url: str,
    tls: ssl.SSLContext | None,
    programs: tuple[str, ...],
    on_tk_error: Callable[..., None],
) -> int:
    """The code window (or a code given), then one session, until the user or the session ends it."""
    language = launch.language
    _ = gettext_for(language).gettext
    log.info(
        "veo agent connecting to %s (language %s, configuration from %s%s)",
        ws_url,
        language,
        launch.source.replace("_", " "),
        ", with a code" if launch.code else "",
    )
    if args.ca_file:
        log.info("trusting only the certificate authorities in %s", args.ca_file)

    import tkinter as tk

    from veo.agent.app import AgentApp
    from veo.agent.ui.tk_root import new_root

    try:
        root = new_root()
    except tk.TclError as exc:
        print("veo agent: " + _no_window(_, exc), file=sys.stderr)
        return 1
    root.report_callback_exception = on_tk_error
    app = AgentApp(root, ws_url, launch.server, language, launch.code, tls, sysinfo_programs=programs)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda _signum, _frame: app.request_terminate())
    try:
        return app.run()
    finally:
        root.destroy()
