"""``veo agent enrol | unenrol | service``: the device side's command lines.

``main(argv)`` gets the words after ``veo agent`` (``argv[0]`` is the subcommand). Exit status:
0 done, 1 it did not happen (the sentence says why), 2 a bad command line.
Also the hidden ``--device-notice`` entry (:func:`notice_main`): the enrolment notice's window,
started by ``enrol`` on the desktop of the person at the computer.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import json
import logging
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from veo.agent.device import desktop_seat, launcher, notice_text, state
from veo.agent.device.desktop_seat import Desktop
from veo.i18n import gettext_for, normalize, system_language
from veo.protocol.device import DEVICE_POLICIES, EnrolResponse

log = logging.getLogger("veo.agent.device")

SERVICE_UNIT = "veo-agent.service"
SUBCOMMANDS = ("enrol", "unenrol", "service")


def _parser(command: str) -> argparse.ArgumentParser:
    _ = gettext_for(system_language()).gettext
    descriptions = {
        "enrol": _("Enrol this computer with your organization's veo server (run by IT, as root)."),
        "unenrol": _("Remove this computer from your organization's management and forget its key."),
        "service": _("Keep this enrolled computer reachable for its organization's technicians."),
    }
    parser = argparse.ArgumentParser(prog=f"veo agent {command}", description=descriptions[command])
    parser.add_argument(
        "--state-dir",
        metavar="DIR",
        help=_("where the device key, configuration and history are (default: {path})").format(
            path=state.default_state_dir()
        ),
    )
    parser.add_argument(
        "--lang", choices=["es", "en"], help=_("language of the messages (default: the system's)")
    )
    parser.add_argument("-v", "--verbose", action="store_true", help=_("log details"))
    parser.add_argument(
        "--log-file",
        metavar="PATH",
        help=_("also write the log to this file (default: only the terminal or journal)"),
    )
    if command == "enrol":
        parser.add_argument(
            "--server", required=True, help=_("address of the veo server, e.g. https://support.example")
        )
        parser.add_argument(
            "--token",
            default=None,
            metavar="TOKEN",
            help=_(
                "the enrolment token from the server's Devices page; leave it out to be asked for it, "
                "or give - to read it from standard input (on the command line, other users of this "
                "computer can read it)"
            ),
        )
        parser.add_argument(
            "--name", default="", help=_("the name shown in the device list (default: the host name)")
        )
        parser.add_argument(
            "--ca-file",
            default=os.environ.get("VEO_AGENT_CA_FILE") or None,
            metavar="PATH",
            help=_("trust only the certificate authorities in this PEM file (also VEO_AGENT_CA_FILE)"),
        )
        parser.add_argument("--no-start", action="store_true", help=_("do not start the service"))
    if command in ("enrol", "service"):
        parser.add_argument(
            "--display",
            default=None,
            help=_(
                "the X display sessions (and the enrolment notice) go to (e.g. :0) instead of the "
                "signed-in desktop; also VEO_AGENT_DISPLAY"
            ),
        )
        parser.add_argument(
            "--desktop-user",
            default=None,
            metavar="NAME",
            help=_(
                "with --display: whose desktop it is (as root, default: the owner of the display; "
                "sessions run as root only with --desktop-user root)"
            ),
        )
    return parser


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    args = _parser(command).parse_args(rest)
    language = normalize(args.lang) if args.lang else system_language()
    if args.log_file:
        from veo.agent.logs import setup_logging

        setup_logging(args.log_file, args.verbose)
    else:  # a system service's log is its journal (its standard error)
        logging.basicConfig(
            level=logging.DEBUG if args.verbose else logging.INFO,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
            stream=sys.stderr,
        )
    if not args.verbose:
        logging.getLogger("websockets").setLevel(logging.WARNING)
    directory = state.state_dir(args.state_dir)
    try:
        if command == "enrol":
            return enrol_command(args, directory, language)
        if command == "unenrol":
            return unenrol_command(directory, language)
        return service_command(args, directory, language)
    except KeyboardInterrupt:
        return 130
    except Exception:  # never a traceback on the terminal: one sentence, the details in the log
        log.critical("veo agent %s stopped on an unexpected error", command, exc_info=True)
        _ = gettext_for(language).gettext
        _fail(
            _(
                "veo agent {command} stopped because of an unexpected problem (details above, in the log)."
            ).format(command=command)
        )
        return 1


def _say(text: str) -> None:
    print(text, flush=True)


def _fail(text: str) -> None:
    print("veo agent: " + text, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------- enrol


def notice_desktop(display: str | None = None, desktop_user: str | None = None) -> Desktop | None:
    """Where the notice is shown: ``--display`` or ``VEO_AGENT_DISPLAY`` if set (as root: its
    owner, or ``--desktop-user``); as root, the signed-in desktop (logind: IT often enrols over SSH
    or with sudo); else (or when logind finds none) the terminal's own display, as this user.
    ``None``: the terminal's text is all there is. Raises ``KeyError`` (no such ``--desktop-user``)
    and :class:`desktop_seat.DisplayOwnerError` (a root-owned or unknown display, see
    :func:`desktop_seat.explicit`)."""
    chosen = desktop_seat.explicit(display, desktop_user)
    if chosen is not None:
        return chosen
    if os.geteuid() == 0:
        try:
            found = asyncio.run(desktop_seat.find(None, None))
        except Exception:
            log.debug("no desktop found for the notice", exc_info=True)
            found = None
        if found is not None:
            return found
    display = os.environ.get("DISPLAY") or ""
    if not display and not os.environ.get("WAYLAND_DISPLAY"):
        return None
    try:  # as root: as the owner of the inherited display, never as root by default
        desktop = desktop_seat.explicit(display or ":0", None)
    except desktop_seat.DisplayOwnerError:
        log.info("no notice window: the display %s is root's or nobody's", display or ":0")
        return None
    if desktop is not None and not display:
        env = dict(desktop.env)
        env.pop("DISPLAY", None)
        desktop = Desktop(desktop.user, desktop.uid, desktop.gid, desktop.home, desktop.shell, env, "own")
    return desktop


def display_owner_sentence(exc: desktop_seat.DisplayOwnerError, language: str) -> str:
    """Why a root process will not pick the user of ``exc.display`` itself, and what to write."""
    _ = gettext_for(language).gettext
    if exc.problem == "root":
        return _(
            "The display {display} belongs to root: technicians' sessions would run as root and could "
            "read and change every file on this computer. Name the person whose desktop it is with "
            "--desktop-user NAME (or, only if you mean it, --desktop-user root)."
        ).format(display=exc.display)
    return _(
        "Cannot tell whose display {display} is (no X server socket for it in /tmp/.X11-unix): "
        "name the person whose desktop it is with --desktop-user NAME."
    ).format(display=exc.display)


def desktop_language(desktop: Desktop | None) -> str | None:
    if desktop is None:
        return None
    for name in ("LC_ALL", "LC_MESSAGES", "LANG"):
        value = desktop.env.get(name)
        if value and value not in ("C", "POSIX", "C.UTF-8"):
            return normalize(value)
    return None


#: Longest line read as a token (a real one is 42 characters; enrol.py checks the format).
TOKEN_LINE_LIMIT = 200


def read_token(
    given: str | None,
    language: str,
    *,
    stdin: TextIO | None = None,
    ask: Callable[[str], str] = getpass.getpass,
) -> str | None:
    """The enrolment token, kept out of the command line when IT lets us (review R1-3).

    ``/proc/<pid>/cmdline`` is readable by every local user, ``sudo`` logs its whole command and
    the shell keeps it in its history: a token there can be spent first by someone else. So:
    no ``--token`` and a terminal: asked for without echo, in the person's language; ``--token -``:
    one line of standard input (scripts, ``printf '%s\\n' T | sudo veo agent enrol ... --token -``);
    ``--token T``: still works (tests, old scripts) with a warning. ``None``: there is no token
    (the sentence is already printed).
    """
    _ = gettext_for(language).gettext
    stdin = sys.stdin if stdin is None else stdin
    if given is not None and given != "-":
        _fail(
            _(
                "Warning: a token on the command line can be read by other users of this computer "
                "and stays in the shell's history. Next time leave out --token to be asked for it, "
                "or use --token - to read it from standard input."
            )
        )
        return given
    if given == "-":
        token = stdin.readline(TOKEN_LINE_LIMIT).strip()
        if not token:
            _fail(_("No enrolment token on standard input (--token - reads it from there, one line)."))
            return None
        return token
    if not stdin.isatty():
        _fail(
            _(
                "No enrolment token: run this in a terminal to be asked for it, or give it on standard "
                "input with --token -."
            )
        )
        return None
    try:
        token = ask(_("Enrolment token (from the server's Devices page; it is not shown as you type): "))
    except EOFError:
        token = ""
    token = token.strip()
    if not token:
        _fail(_("No enrolment token was typed: nothing was changed."))
        return None
    return token


def enrol_command(args: argparse.Namespace, directory: Path, language: str) -> int:
    from veo.agent.device.enrol import EnrolError, EnrolInput, enrol
    from veo.agent.device.service import os_name

    _ = gettext_for(language).gettext
    if args.desktop_user and not (args.display or os.environ.get(desktop_seat.DISPLAY_ENV)):
        _fail(_("--desktop-user goes with --display (or VEO_AGENT_DISPLAY)."))
        return 2
    token = read_token(args.token, language)
    if token is None:
        return 2
    try:
        desktop = notice_desktop(args.display, args.desktop_user)
    except KeyError:
        _fail(_("There is no user named {name} on this computer.").format(name=args.desktop_user))
        return 2
    except desktop_seat.DisplayOwnerError as exc:
        # the enrolment itself does not depend on it: no window, the terminal's text only
        _fail(display_owner_sentence(exc, language))
        desktop = None
    # the person at the computer reads the notice: their language, unless IT chose one
    notice_language = normalize(args.lang) if args.lang else (desktop_language(desktop) or language)
    try:
        response = enrol(
            EnrolInput(
                server=args.server,
                token=token,
                name=args.name,
                directory=directory,
                ca_file=args.ca_file,
                language=notice_language,
                os_name=os_name(),
                os_user=desktop.user if desktop is not None else "",
            )
        )
    except EnrolError as exc:
        _fail(exc.message)
        return exc.code
    notice = notice_text.build(response, notice_language)
    _say(notice.text())
    if desktop is not None:
        show_notice_on(desktop, response, notice_language)
    if not args.no_start:
        start_service(directory, language)
    return 0


def show_notice_on(desktop: Desktop, response: EnrolResponse, language: str) -> None:
    """Start the notice window on ``desktop`` (as its user); enrol does not wait for it."""
    payload = json.dumps({"enrolment": response.model_dump(), "language": language}).encode()
    try:
        launcher.start_detached(desktop, launcher.agent_command("--device-notice"), payload)
        log.info("notice shown on %s's desktop", desktop.user)
    except OSError as exc:
        log.warning("the notice window could not start on %s's desktop: %s", desktop.user, exc)


def under_systemd() -> bool:
    return Path("/run/systemd/system").is_dir() and shutil.which("systemctl") is not None


def start_service(directory: Path, language: str) -> None:
    _ = gettext_for(language).gettext
    if os.geteuid() == 0 and under_systemd() and directory == state.SYSTEM_STATE_DIR:
        result = subprocess.run(
            ["systemctl", "enable", "--now", SERVICE_UNIT], capture_output=True, text=True, check=False
        )
        if result.returncode == 0:
            _say(_("The veo-agent service is enabled and running: this computer is now reachable."))
            return
        _fail(
            _("Could not start the veo-agent service: {error}").format(
                error=(result.stderr or result.stdout).strip() or result.returncode
            )
        )
        return
    command = f"{notice_text.command_name()} service" + (
        f" --state-dir {directory}" if directory != state.default_state_dir() else ""
    )
    if os.geteuid() == 0 and under_systemd():
        _say(_("Start the service that keeps this computer reachable: {command}").format(command=command))
    else:
        _say(
            _(
                "Start the service that keeps this computer reachable: {command} "
                "(installed as root, the package's systemd unit does it: "
                "systemctl enable --now veo-agent.service)"
            ).format(command=command)
        )


def notice_main(language_arg: str | None, log_file: str | None = None, verbose: bool = False) -> int:
    """``veo agent --device-notice``: the notice window, its words from stdin (never argv)."""
    from veo.agent.logs import install_crash_handlers, setup_logging
    from veo.agent.ui.notice import show_notice

    try:
        data = json.loads(sys.stdin.read(65536))
        response = EnrolResponse.model_validate(data["enrolment"])
        language = normalize(language_arg or data.get("language") or system_language())
        changed = data.get("changed_from")
    except (ValueError, KeyError, TypeError):
        _fail("--device-notice: unreadable notice on stdin")
        return 2
    # the service shows the notice again when the group's policy changed: say so, with what was before
    before = changed if changed in DEVICE_POLICIES else None
    notice = notice_text.build(response, language, changed_from=before)
    log_path = setup_logging(log_file, verbose)
    error = show_notice(notice, language, install_crash_handlers(language, log_path))
    if error is not None:
        _fail(str(error))
        return 1
    return 0


# ---------------------------------------------------------------------- unenrol


def unenrol_command(directory: Path, language: str) -> int:
    from veo.agent.device.unenrol import NotEnrolled, unenrol

    _ = gettext_for(language).gettext
    try:
        result = asyncio.run(unenrol(directory, language))
    except NotEnrolled:
        _say(_("This computer is not enrolled: there is nothing to remove."))
        return 0
    except (state.StateError, PermissionError) as exc:
        if os.geteuid() != 0:
            _fail(
                _("Only an administrator of this computer can unenrol it: run {command} ({error}).").format(
                    command=f"sudo {notice_text.command_name()} unenrol", error=exc
                )
            )
        else:
            _fail(_("The enrolment on this computer cannot be read: {error}").format(error=exc))
        return 1
    name, server = result.config.device_name, result.config.server
    if result.by == "server":
        _say(
            _(
                "This computer ({name}) is no longer managed by {server}: the server revoked its key, "
                "and this computer forgot it."
            ).format(name=name, server=server)
        )
    else:
        _say(
            _(
                "The server {server} could not be told ({error}). This computer forgot its enrolment "
                "anyway: its key is deleted, so it will not connect again and nobody can connect to it "
                "as a managed device. The server still lists it until an administrator revokes it there."
            ).format(server=server, error=result.problem)
        )
    if os.geteuid() == 0 and under_systemd() and directory == state.SYSTEM_STATE_DIR:
        subprocess.run(["systemctl", "disable", "--now", SERVICE_UNIT], capture_output=True, check=False)
    return 0


# ---------------------------------------------------------------------- service


def service_command(args: argparse.Namespace, directory: Path, language: str) -> int:
    from veo.agent.device import keys
    from veo.agent.device.service import DeviceService, ServiceOptions
    from veo.agent.tls import CaFileError, client_context, trust_the_system_everywhere

    _ = gettext_for(language).gettext
    try:
        config = state.read_config(directory)
        key = keys.load(directory) if config is not None else None
    except state.StateError as exc:
        _fail(_("The enrolment on this computer cannot be read: {error}").format(error=exc))
        return 2
    if config is None or key is None:
        _fail(
            _("This computer is not enrolled ({path} has no device.json): run {command} first.").format(
                path=directory, command=f"{notice_text.command_name()} enrol"
            )
        )
        return 2
    if args.desktop_user and not (args.display or os.environ.get(desktop_seat.DISPLAY_ENV)):
        _fail(_("--desktop-user goes with --display (or VEO_AGENT_DISPLAY)."))
        return 2
    try:
        desktop_seat.explicit(args.display, args.desktop_user)
    except KeyError:
        _fail(_("There is no user named {name} on this computer.").format(name=args.desktop_user))
        return 2
    except desktop_seat.DisplayOwnerError as exc:
        if exc.problem == "root":  # the configuration is wrong: never a root session by default
            _fail(display_owner_sentence(exc, language))
            return 2
        # not there yet (a kiosk's X server may start after the service): each request looks again
        log.warning("%s", display_owner_sentence(exc, "en"))
    trust_the_system_everywhere()
    try:
        tls = client_context(config.ca_file or None, language) if config.server.startswith("https") else None
    except CaFileError as exc:
        _fail(str(exc))
        return 2
    service = DeviceService(
        ServiceOptions(directory=directory, display=args.display, desktop_user=args.desktop_user),
        config,
        key,
        tls,
    )
    return asyncio.run(_run_until_signal(service))


async def _run_until_signal(service: object) -> int:
    from veo.agent.device.service import DeviceService

    assert isinstance(service, DeviceService)
    task = asyncio.current_task()
    loop = asyncio.get_running_loop()
    assert task is not None
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, task.cancel)
    log.info("veo agent service for %s (%s)", service.config.device_name, service.config.server)
    try:
        return await service.run()
    except asyncio.CancelledError:
        log.info("veo agent service stopped")
        return 0
